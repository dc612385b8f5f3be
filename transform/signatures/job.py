"""A signatures run's work folder: what the run is, and which of its batches are done.

    OUT/work/progress.json      {"job": the identity, "batches": {batch: {index, file, sha256}}}
    OUT/work/batch-000012.npz   one finished batch: CD vectors, log2 fold changes, n_controls

Each batch file is written to a temporary name, then renamed, and recorded with its checksum; a
restarted run skips the recorded batches whose file still matches. The identity holds every input
that changes a batch's numbers: the profiles (path, size, modification time and, for profiles
that `convert` wrote, the matrix checksum its manifest records), the SHA-256 of the profile table
(--inst-info) and of the signature table (--sig-info), each setting of the computation (control
rule, z-scoring, gamma, scale, device) and --qc-pass-only. A work folder of another identity is
refused, naming what differs; --force discards it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np

from transform.io.files import sha256_file
from transform.job_identity import JobMismatch, file_identity, job_differences
from transform.signatures.compute import BatchSignatures, SignatureSettings

PROGRESS = "progress.json"
IDENTITY = {  # the job's fields, by the name a refusal gives them
    "profiles": ("profiles", "profiles_bytes", "profiles_mtime_ns", "profiles_checksum"),
    "profile table (--inst-info)": ("inst_info",),
    "signature table (--sig-info)": ("sig_info",),
    "settings": tuple(field.name for field in fields(SignatureSettings)),
    "profile filter": ("qc_pass_only",),
}


def signature_job(
    profiles: Path,
    inst_info: Path | None,
    sig_info: Path | None,
    settings: SignatureSettings,
    qc_pass_only: bool,
) -> dict[str, Any]:
    """The run's identity (see the module's doc), as progress.json stores it."""
    job = {
        **file_identity(profiles, "profiles"),
        "inst_info": _table(inst_info, "the profiles GCTX's column metadata"),
        "sig_info": _table(sig_info, "none: one signature per perturbation and batch"),
        **asdict(settings),
        "qc_pass_only": qc_pass_only,
    }
    stored: dict[str, Any] = json.loads(json.dumps(job))
    return stored


def _table(path: Path | None, absent: str) -> str:
    return f"sha256:{sha256_file(path)}" if path else absent


def open_work(work: Path, job: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
    """The record of `job` in `work`: the one left there by the same job (to resume), else a new
    one; a record of another job is refused naming what differs, or discarded with force."""
    path = work / PROGRESS
    if path.exists():
        try:
            record: dict[str, Any] = json.loads(path.read_text())
            differences = job_differences(record["job"], job, IDENTITY)
        except (ValueError, KeyError, TypeError) as error:
            differences = [f"an unreadable {PROGRESS} ({error})"]
        if not differences:
            return record
        if not force:
            raise JobMismatch(
                f"{work} holds an unfinished signatures run with another "
                f"{'; another '.join(differences)}; run its own command to finish it, or pass "
                "--force to discard it"
            )
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    record = {"job": job, "batches": {}}
    _write_json(path, record)
    return record


def batch_done(work: Path, record: dict[str, Any], batch: str) -> bool:
    entry = record["batches"].get(batch)
    if entry is None or not entry.get("sha256"):
        return False
    path = work / entry["file"]
    expected: str = entry["sha256"]
    return path.exists() and sha256_file(path) == expected


def save_batch(work: Path, record: dict[str, Any], batch: str, result: BatchSignatures) -> None:
    path = _batch_file(work, record, batch)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, cd=result.cd, lfc=result.log2_fold_change, n_controls=result.n_controls)
    tmp.replace(path)
    index = int(path.stem.split("-")[1])
    record["batches"][batch] = {"index": index, "file": path.name, "sha256": sha256_file(path)}
    _write_json(work / PROGRESS, record)


def _batch_file(work: Path, record: dict[str, Any], batch: str) -> Path:
    index = record["batches"].get(batch, {}).get("index", len(record["batches"]))
    return work / f"batch-{index:06d}.npz"


def _write_json(path: Path, value: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1))
    tmp.replace(path)

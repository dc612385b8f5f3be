"""The manifest beside converted profiles (`out.gctx` -> `out.json`): what the file holds and how
it was made: gene spaces, shape, dtype, the checkpoint's and each chunk's SHA-256, versions and
the command."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py

from transform.convert.job import ChunkRecord, ConvertJob
from transform.inference import TwoStepModel
from transform.io.hdf5 import synthetic_origin
from transform.job_identity import PROFILES_FORMAT
from transform.train.checkpoint import versions

FORMAT_VERSION = 1
CHECKSUM_METHOD = (
    "sha256 of the chunk checksums (hex) joined in chunk order; a chunk checksum is the sha256 "
    "of its stored matrix bytes (profiles x genes, little-endian)"
)


def output_checksum(records: Mapping[int, ChunkRecord]) -> str:
    """One checksum of the whole matrix from the chunk checksums (see CHECKSUM_METHOD)."""
    digest = hashlib.sha256()
    for index in sorted(records):
        digest.update(records[index].sha256.encode("ascii"))
    return digest.hexdigest()


def profiles_manifest(
    *,
    job: ConvertJob,
    model: TwoStepModel,
    records: Mapping[int, ChunkRecord],
    seconds: float,
    command: str,
) -> dict[str, Any]:
    output = Path(job.output)
    check = records[0].autocast_check if 0 in records else None
    return {
        "format": PROFILES_FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": "RNA-seq-like profiles from L1000 Level 3 (two-step model)",
        "file": output.name,
        "layout": "GCTX; /0/DATA/0/matrix (profiles, genes), contiguous, uncompressed",
        "shape": {"genes": job.n_outputs, "profiles": job.n_profiles},
        "dtype": job.dtype,
        "gene_space": model.output_space.summary(),
        "input_genes": model.input_space.summary(),
        "scale": model.normalization.summary(),
        "checkpoint": {"path": job.checkpoint, "sha256": job.checkpoint_sha256},
        "input": {"path": job.input, "bytes": job.input_bytes, "shape": list(job.input_shape)},
        "synthetic_world": synthetic_origin(job.input),  # None: the input is not a generated world
        "checksum": output_checksum(records),
        "checksum_method": CHECKSUM_METHOD,
        "chunks": {
            "size": job.chunk_size,
            "count": job.n_chunks,
            "checksums": [_chunk_entry(records[index]) for index in sorted(records)],
        },
        "autocast": {"dtype": job.autocast, "check": check} if job.autocast else None,
        "devices": sorted({record.device for record in records.values()}),
        "hosts": sorted({record.host for record in records.values()}),
        "seconds": round(seconds, 3),
        "command": command,
        "versions": {**versions(), "h5py": h5py.__version__},
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _chunk_entry(record: ChunkRecord) -> dict[str, Any]:
    return {"index": record.index, "profiles": [record.start, record.stop], "sha256": record.sha256}

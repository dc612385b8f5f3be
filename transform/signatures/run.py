"""`python -m transform signatures`: every signature of a profiles file, batch by batch.

Resumable: each finished batch is saved in OUT/work/ and recorded there with its checksum; a
restarted run of the same job skips the recorded batches, and a run of another job (other
profiles, tables or settings) is refused, naming what differs (`transform.signatures.job`).
A batch whose profiles hold NaN or infinite values is refused as read, naming them, before any
of it is computed.
When every batch is done the outputs are assembled in a streaming pass:
    signatures.gctx      genes x signatures, unit CD vectors (float32), signature metadata
    sig_info.txt         one row per signature (LINCS columns, batch, n_cases, n_controls),
                         -666 for missing values as in GEO's tables and the GCTX
    up.gmt, down.gmt     each signature's top N genes by |CD|, split by sign; the description
                         names the perturbation and what the set holds (never empty: GSEA's
                         parser skips empty fields, which made the first gene the description);
                         a set with no gene (every top gene of one sign) is left out, counted
                         and named in the manifest (GSEA and our reader need a gene)
    reverse_search.h5    per gene, perturbation type and direction, the top K signatures
    manifest.json        settings, gene space, counts, checksums, versions
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transform.gene_space import gene_list_sha256
from transform.io import (
    GctxWriter,
    inst_info_from_gctx_cols,
    read_gctx,
    read_gctx_meta,
    read_sig_info,
    write_lincs_table,
)
from transform.io.errors import refuse_non_finite
from transform.io.files import sha256_file
from transform.io.gmt import GeneSet, format_gmt
from transform.io.hdf5 import mark_synthetic, synthetic_origin
from transform.io.level3 import QC_PASS, profiles_from_table
from transform.signatures.compute import SignatureSettings, batch_signatures
from transform.signatures.definitions import batch_of, require_metadata, signature_definitions
from transform.signatures.job import batch_done, open_work, save_batch, signature_job
from transform.signatures.reverse import DIRECTIONS, TopSignatures, write_reverse_tables

FORMAT_VERSION = 1
NAMED = 20  # ids named in the manifest of what was left out (with the count of all)
RAISED_OR_LOWERED = {"up": "raised", "down": "lowered"}
# (value, unit) of a signature's label in its gene sets' descriptions
LABEL_FIELDS = (
    ("pert_iname", None),
    ("cell_id", None),
    ("pert_dose", "pert_dose_unit"),
    ("pert_time", "pert_time_unit"),
)


@dataclass(frozen=True)
class OutputSettings:
    top_genes: int = 250  # genes per signature in the up/down GMT (split by sign)
    top_signatures: int = 100  # signatures per gene and direction in the reverse tables


DEFAULT_SETTINGS = SignatureSettings()
DEFAULT_OUTPUTS = OutputSettings()


def compute_signatures(
    profiles: Path,
    inst_info: Path | None,
    out: Path,
    *,
    sig_info: Path | None = None,
    settings: SignatureSettings = DEFAULT_SETTINGS,
    outputs: OutputSettings = DEFAULT_OUTPUTS,
    qc_pass_only: bool = False,
    force: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """inst_info: the profiles' table (any dialect), or None to read the profiles GCTX's own
    column metadata (a converted GCTX carries the table it was given). force: replace the
    finished signatures in `out`, discard an unfinished run of another job left there."""
    started = time.perf_counter()
    finished = out / "manifest.json"
    if finished.exists() and not force:
        raise FileExistsError(f"{out} holds finished signatures; pass --force to replace them")
    row_meta, col_meta = read_gctx_meta(profiles)
    inst = _profile_table(profiles, col_meta, inst_info, qc_pass_only, progress)
    require_metadata(inst, inst_info or profiles)
    inst["batch"] = inst["rna_plate"].map(batch_of)
    sigs = signature_definitions(inst, read_sig_info(sig_info) if sig_info else None)
    work = out / "work"
    job = signature_job(profiles, inst_info, sig_info, settings, qc_pass_only)
    record = open_work(work, job, force=force)
    finished.unlink(missing_ok=True)  # replaced (--force): the folder no longer says it is done
    batches = list(dict.fromkeys(sigs["batch"]))
    for done, batch in enumerate(batches, start=1):
        if batch_done(work, record, batch):
            continue
        batch_sigs = sigs[sigs["batch"] == batch]
        batch_inst = inst[inst["batch"] == batch]
        matrix = read_gctx(profiles, cols=list(batch_inst.index))
        refuse_non_finite(matrix.values, profiles, matrix.row_ids, matrix.col_ids)
        result = batch_signatures(matrix.values, batch_inst, batch_sigs, settings)
        save_batch(work, record, batch, result)
        rate = len(sigs[sigs["batch"].isin(batches[:done])]) / (time.perf_counter() - started)
        progress(f"signatures: batch {done} of {len(batches)} ({batch}), {rate:,.0f} signatures/s")
    origin = synthetic_origin(profiles)  # profiles of a generated world: their signatures say so
    manifest = _assemble(out, work, record, row_meta, sigs, batches, outputs, settings, origin)
    if "sig_info" in sigs.attrs:
        manifest["sig_info"] = sigs.attrs["sig_info"]
    manifest["qc_pass_only"] = qc_pass_only
    manifest["synthetic_world"] = origin
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    finished.write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(work)
    return manifest


def _profile_table(
    profiles: Path,
    col_meta: pd.DataFrame,
    inst_info: Path | None,
    qc_pass_only: bool,
    progress: Callable[[str], None],
) -> pd.DataFrame:
    """The profiles' rows of their table (or of the GCTX's metadata), kept by QC if asked."""
    if inst_info is None:
        inst = inst_info_from_gctx_cols(col_meta, keep=(QC_PASS,))
    else:  # every profile of the file must have its row: none is left out silently
        col_ids = col_meta.index.astype(str)
        inst = profiles_from_table(profiles, col_ids, inst_info).rename_axis("inst_id")
    source = inst_info or profiles
    if inst.empty:
        raise ValueError(f"no profile of {profiles} is listed in {source}")
    if not qc_pass_only:
        return inst
    if QC_PASS not in inst:
        raise ValueError(f"{source}: no {QC_PASS} column to keep profiles by (--qc-pass-only)")
    passing = inst[pd.to_numeric(inst[QC_PASS], errors="coerce") == 1].copy()
    progress(f"{len(passing):,} of {len(inst):,} profiles pass QC; the others are left out")
    return passing


def _assemble(
    out: Path,
    work: Path,
    record: dict[str, Any],
    row_meta: pd.DataFrame,
    sigs: pd.DataFrame,
    batches: list[str],
    outputs: OutputSettings,
    settings: SignatureSettings,
    origin: dict[str, object] | None,
) -> dict[str, Any]:
    genes = _gene_labels(row_meta)
    n_genes = len(genes)
    types = sorted(sigs["pert_type"].astype(str).unique())
    tables = {
        (t, d): TopSignatures(outputs.top_signatures, n_genes, d) for t in types for d in DIRECTIONS
    }
    n_controls: list[np.ndarray] = []
    empty: list[str] = []  # gene sets with no gene, left out of the GMT files
    first = 0
    with (
        GctxWriter(out / "signatures.gctx", row_meta) as writer,
        (out / "up.gmt").open("w", encoding="utf-8") as up,
        (out / "down.gmt").open("w", encoding="utf-8") as down,
    ):
        for batch in batches:
            batch_sigs = sigs[sigs["batch"] == batch]
            stored = np.load(work / record["batches"][batch]["file"])
            cd, lfc = stored["cd"], stored["lfc"]
            writer.append(cd, _column_meta(batch_sigs, stored["n_controls"]))
            n_controls.append(stored["n_controls"])
            up_sets, down_sets = _gene_sets(batch_sigs, cd, genes, outputs.top_genes)
            pairs = zip(up_sets, down_sets, strict=True)
            empty += [gene_set.name for pair in pairs for gene_set in pair if not gene_set.genes]
            up.write(format_gmt(gene_set for gene_set in up_sets if gene_set.genes))
            down.write(format_gmt(gene_set for gene_set in down_sets if gene_set.genes))
            kinds = batch_sigs["pert_type"].astype(str).to_numpy()
            for pert_type in np.unique(kinds):
                at = np.flatnonzero(kinds == pert_type)
                for direction in DIRECTIONS:
                    tables[(pert_type, direction)].merge(cd[:, at], lfc[:, at], first + at)
            first += len(batch_sigs)
    if origin:  # before the manifest's checksums
        mark_synthetic(out / "signatures.gctx", origin)
    sig_table = sigs.assign(n_controls=np.concatenate(n_controls))
    write_lincs_table(out / "sig_info.txt", sig_table.set_index("sig_id"))
    write_reverse_tables(out / "reverse_search.h5", genes, list(sigs["sig_id"]), tables)
    manifest = _manifest(out, genes, sig_table, settings, outputs)
    manifest["gene_sets"] = {
        "written": 2 * len(sig_table) - len(empty),
        "left_out_empty": len(empty),
        "left_out_empty_names": empty[:NAMED],
    }
    return manifest


def _gene_labels(row_meta: pd.DataFrame) -> list[str]:
    """Gene symbols of the rows: pr_gene_symbol where the file has it, else the row ids."""
    labels = row_meta.get("pr_gene_symbol", row_meta.index.to_series())
    return [str(label) for label in labels]


def _column_meta(batch_sigs: pd.DataFrame, n_controls: np.ndarray) -> pd.DataFrame:
    columns = batch_sigs.drop(columns=["distil_id"]).assign(n_controls=n_controls)
    return columns.set_index("sig_id")


def _gene_sets(
    batch_sigs: pd.DataFrame, cd: np.ndarray, genes: list[str], top: int
) -> tuple[list[GeneSet], list[GeneSet]]:
    """Each signature's top genes by |CD|, split into raised and lowered (a side may be empty),
    described by the perturbation and what the set holds."""
    names = np.asarray(genes, dtype=object)
    top = min(top, cd.shape[0])
    strongest = np.argsort(-np.abs(cd), axis=0, kind="stable")[:top]
    up: list[GeneSet] = []
    down: list[GeneSet] = []
    labels = _perturbation_labels(batch_sigs)
    for column, (sig_id, label) in enumerate(zip(batch_sigs["sig_id"], labels, strict=True)):
        picked = strongest[:, column]
        values = cd[picked, column]
        for sets, side, kept in ((up, "up", values > 0), (down, "down", values < 0)):
            held = tuple(names[picked[kept]])
            what = f"{len(held)} of the top {top} genes by |CD|, {RAISED_OR_LOWERED[side]}"
            sets.append(GeneSet(f"{sig_id}_{side}", f"{label}: {what}" if label else what, held))
    return up, down


def _perturbation_labels(sigs: pd.DataFrame) -> list[str]:
    """'cmpd-0001 A375 0.04 uM 24 h' per signature: its perturbagen, cell line, dose and time
    where known, on one line without tabs (a GMT description)."""
    parts = []
    for value, unit in LABEL_FIELDS:
        pairs = zip(_field(sigs, value), _field(sigs, unit), strict=True)
        parts.append([_label_part(v, u) for v, u in pairs])
    return [" ".join(" ".join(p for p in row if p).split()) for row in zip(*parts, strict=True)]


def _field(sigs: pd.DataFrame, name: str | None) -> pd.Series:
    """A metadata column, all missing where the table lacks it (or no column is named)."""
    if name is None or name not in sigs:
        return pd.Series(np.nan, index=sigs.index)
    return sigs[name]


def _label_part(value: object, unit: object) -> str:
    if pd.isna(value):
        return ""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text if pd.isna(unit) else f"{text} {unit}"


def _manifest(
    out: Path,
    genes: list[str],
    sigs: pd.DataFrame,
    settings: SignatureSettings,
    outputs: OutputSettings,
) -> dict[str, Any]:
    files = {
        name: {"bytes": (out / name).stat().st_size, "sha256": sha256_file(out / name)}
        for name in ("signatures.gctx", "sig_info.txt", "up.gmt", "down.gmt", "reverse_search.h5")
    }
    return {
        "format_version": FORMAT_VERSION,
        "kind": "characteristic direction signatures",
        "settings": asdict(settings),
        "outputs": asdict(outputs),
        "gene_space": {
            "n_genes": len(genes),
            "sha256": gene_list_sha256(genes),
        },
        "n_signatures": len(sigs),
        "n_batches": int(sigs["batch"].nunique()),
        "by_pert_type": sigs["pert_type"].astype(str).value_counts().to_dict(),
        "files": files,
        "created_by": " ".join(["python -m transform", *sys.argv[1:]]),
        "versions": {"numpy": np.__version__, "pandas": pd.__version__},
    }

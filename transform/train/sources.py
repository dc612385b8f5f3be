"""The training inputs on disk: an L1000 Level 3 GCTX and an ARCHS4 gene-count HDF5 file.

Reads what the preparation needs in bounded memory: the landmark rows, seeded draws of profiles
and samples, and the counts of drawn samples chunk by chunk (one row per symbol).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from transform.io import archs4_info, read_archs4, read_gctx, read_gctx_meta
from transform.io.archs4 import SAMPLE_ID, SAMPLES
from transform.io.errors import Archs4FormatError
from transform.io.hdf5 import open_hdf5, read_meta
from transform.rnaseq import SymbolRows

SYMBOL = "pr_gene_symbol"
ENTREZ = "pr_gene_id"
LANDMARK_FLAG = "pr_is_lm"
CELL = "cell_id"  # Level 3 column metadata, where the file has it
SERIES = "series_id"
READS = "readsaligned"
DESCRIPTIONS = ("source_name_ch1", "characteristics_ch1")  # free text that names cell lines


@dataclass(frozen=True)
class Sources:
    """The two input files."""

    l1000: Path
    rnaseq: Path

    @classmethod
    def from_world(cls, world: Path) -> Sources:
        """The files of a synthetic world folder (docs/world.md)."""
        return cls(world / "l1000" / "level3.gctx", world / "rnaseq" / "archs4_gene_counts.h5")

    def identity(self) -> dict[str, dict[str, object]]:
        """Path, size and modification time of each file: what a reused preparation must match."""
        return {name: _file_identity(path) for name, path in vars(self).items()}


def _file_identity(path: Path) -> dict[str, object]:
    stat = Path(path).stat()
    return {"path": str(Path(path).resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def read_landmarks(path: Path) -> pd.DataFrame:
    """Row metadata of the landmark probes (rows flagged pr_is_lm, or all rows without the flag).

    Indexed by probe id, with `symbol` (pr_gene_symbol, else the row id) and `entrez` (pr_gene_id
    where the file has it).
    """
    rows, _ = read_gctx_meta(path)
    if LANDMARK_FLAG in rows.columns and (rows[LANDMARK_FLAG] == 1).any():
        rows = rows[rows[LANDMARK_FLAG] == 1]
    symbols = rows[SYMBOL].astype(str) if SYMBOL in rows.columns else rows.index.astype(str)
    entrez = rows[ENTREZ] if ENTREZ in rows.columns else pd.Series(pd.NA, index=rows.index)
    return pd.DataFrame({"symbol": list(symbols), "entrez": list(entrez)}, index=rows.index)


def l1000_profile_count(path: Path) -> int:
    return len(read_gctx_meta(path)[1])


def read_l1000_profiles(
    path: Path, probe_ids: list[str], positions: np.ndarray, *, chunk: int
) -> tuple[list[str], np.ndarray, list[str]]:
    """Profiles at sorted `positions`, rows `probe_ids` in order: (ids, (n, n_probes) float32,
    cell ids ("" where the file has no cell_id field)).

    Profiles with a missing (non-finite) value on these probes are left out.
    """
    ids: list[str] = []
    cells: list[str] = []
    blocks: list[np.ndarray] = []
    for start in range(0, len(positions), chunk):
        matrix = read_gctx(path, rows=probe_ids, cols=positions[start : start + chunk])
        values = np.asarray(matrix.values, dtype=np.float32).T
        finite = np.isfinite(values).all(axis=1)
        ids += matrix.col_ids[finite].astype(str).tolist()
        if CELL in matrix.col_meta.columns:
            cells += matrix.col_meta[CELL].astype(str)[finite].tolist()
        else:
            cells += [""] * int(finite.sum())
        blocks.append(values[finite])
    width = len(probe_ids)
    return ids, np.concatenate(blocks) if blocks else np.empty((0, width), np.float32), cells


def read_sample_meta(path: Path) -> pd.DataFrame:
    """geo_accession, series_id and readsaligned of every sample, without reading counts, and
    `description`: the sample's source name and characteristics joined ("" where absent)."""
    with open_hdf5(path, Archs4FormatError) as file:
        group = file.get(SAMPLES)
        absent = [f for f in (SAMPLE_ID, SERIES, READS) if group is None or f not in group]
        if absent:
            raise Archs4FormatError(f"{path}: missing sample fields {', '.join(absent)}")
        meta = read_meta(group, None)
    text = pd.Series("", index=meta.index)
    for name in DESCRIPTIONS:
        if name in meta.columns:
            text = text + " " + meta[name].fillna("").astype(str)
    meta = meta[[SAMPLE_ID, SERIES, READS]].assign(description=text.str.strip())
    return meta.reset_index(drop=True)


def training_sample_positions(
    meta: pd.DataFrame, *, min_reads: int, max_series_samples: int
) -> np.ndarray:
    """Positions of samples with more than `min_reads` reads from series of fewer samples than
    `max_series_samples` (series sizes count every sample of the file)."""
    series_size = meta.groupby(SERIES)[SERIES].transform("size")
    reads = pd.to_numeric(meta[READS], errors="coerce").fillna(0)
    return np.flatnonzero(((reads > min_reads) & (series_size < max_series_samples)).to_numpy())


def draw(candidates: np.ndarray, n_max: int, rng: np.random.Generator) -> np.ndarray:
    """Up to `n_max` of `candidates` drawn without replacement, as sorted positions."""
    if len(candidates) <= n_max:
        return np.sort(candidates)
    return np.sort(rng.choice(candidates, size=n_max, replace=False))


def rnaseq_symbols(path: Path) -> SymbolRows:
    symbols = archs4_info(path).symbols
    if not symbols:
        raise Archs4FormatError(f"{path}: no gene symbols (meta/genes/symbol or gene_symbol)")
    return SymbolRows.from_symbols(symbols)


def iter_counts(
    path: Path, positions: np.ndarray, rows: SymbolRows, *, chunk: int
) -> Iterator[np.ndarray]:
    """Counts of the samples at sorted `positions`, chunk by chunk: (n_symbols, k) each."""
    for start in range(0, len(positions), chunk):
        counts = read_archs4(path, samples=positions[start : start + chunk]).values
        yield rows.collapse(counts)

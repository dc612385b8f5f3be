"""The training inputs on disk: an L1000 Level 3 GCTX and an ARCHS4 gene-count HDF5 file.

Reads what the preparation needs in bounded memory: the landmark rows, seeded draws of profiles
and samples, and the counts of drawn samples chunk by chunk (one row per symbol).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from transform.gene_ids import RnaseqGenes
from transform.io import archs4_info, read_archs4
from transform.io.archs4 import GENES, SAMPLE_ID, SAMPLES, SYMBOL_FIELDS
from transform.io.errors import Archs4FormatError
from transform.io.hdf5 import open_hdf5, read_meta
from transform.io.level3 import Level3, open_level3
from transform.rnaseq import SymbolRows

ENSEMBL_FIELDS = ("ensembl_gene_id", "ensembl_gene")  # ARCHS4 v2.2, v2.0-2.1
ENTREZ_FIELDS = ("entrezgene_id", "entrez_id", "gene_id")  # where a counts file has them
CELL = "cell_id"  # Level 3 column metadata, where the file has it
SERIES = "series_id"
READS = "readsaligned"
DESCRIPTIONS = ("source_name_ch1", "characteristics_ch1")  # free text that names cell lines


@dataclass(frozen=True)
class Sources:
    """The two input files, and the L1000 file's tables where it carries no metadata."""

    l1000: Path
    rnaseq: Path
    gene_info: Path | None = None  # geneinfo_beta.txt / *_gene_info.txt
    inst_info: Path | None = None  # instinfo_beta.txt / *_inst_info.txt
    qc_pass_only: bool = False  # draw only profiles with qc_pass == 1

    @classmethod
    def from_world(cls, world: Path) -> Sources:
        """The files of a synthetic world folder (docs/world.md)."""
        return cls(world / "l1000" / "level3.gctx", world / "rnaseq" / "archs4_gene_counts.h5")

    @classmethod
    def from_dict(cls, stored: dict[str, object]) -> Sources:
        """As `as_dict` wrote them (run.json)."""
        paths = {k: Path(str(v)) for k, v in stored.items() if k != "qc_pass_only" and v}
        return cls(**paths, qc_pass_only=bool(stored.get("qc_pass_only", False)))

    def as_dict(self) -> dict[str, object]:
        return {
            name: value if isinstance(value, bool) or value is None else str(Path(value).resolve())
            for name, value in self._fields()
        }

    def identity(self) -> dict[str, object]:
        """Path, size and modification time of each file: what a reused preparation must match.
        (The tables and the QC choice only where given, so earlier preparations still match.)"""
        return {
            name: value if isinstance(value, bool) else _file_identity(value)
            for name, value in self._fields()
            if value
        }

    def _fields(self) -> list[tuple[str, Path | bool | None]]:
        """The files and choices (not the Level 3 file opened from them)."""
        return [(field.name, getattr(self, field.name)) for field in fields(self)]

    @cached_property
    def level3(self) -> Level3:
        """The L1000 file with its tables, checked before any work (read once: a LINCS 2020
        profile table takes half a minute)."""
        return open_level3(self.l1000, gene_info=self.gene_info, inst_info=self.inst_info)


def _file_identity(path: Path) -> dict[str, object]:
    stat = Path(path).stat()
    return {"path": str(Path(path).resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def l1000_positions(level3: Level3, *, qc_pass_only: bool) -> np.ndarray:
    """Column positions the profiles may be drawn from: all, or those passing QC."""
    return level3.passing() if qc_pass_only else np.arange(level3.n_profiles)


def read_l1000_profiles(
    level3: Level3, probe_ids: list[str], positions: np.ndarray, *, chunk: int
) -> tuple[list[str], np.ndarray, list[str]]:
    """Profiles at sorted `positions`, rows `probe_ids` in order: (ids, (n, n_probes) float32,
    cell ids ("" where neither the file nor its profile table has cell_id)).

    Profiles with a missing (non-finite) value on these probes are left out.
    """
    ids: list[str] = []
    cells: list[str] = []
    blocks: list[np.ndarray] = []
    for start in range(0, len(positions), chunk):
        matrix = level3.read(rows=probe_ids, cols=positions[start : start + chunk])
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


def rnaseq_genes(path: Path) -> RnaseqGenes:
    """The file's genes with the stable ids it carries (ARCHS4 v2: ensembl_gene_id)."""
    with open_hdf5(path, Archs4FormatError) as file:
        genes = read_meta(file[GENES], None)
    symbol = next((f for f in SYMBOL_FIELDS if f in genes), None)
    if symbol is None:
        raise Archs4FormatError(f"{path}: no gene symbols (meta/genes/symbol or gene_symbol)")
    ensembl = next((f for f in ENSEMBL_FIELDS if f in genes), None)
    entrez = next((f for f in ENTREZ_FIELDS if f in genes), None)
    return RnaseqGenes.from_rows(
        genes[symbol].tolist(),
        genes[ensembl].tolist() if ensembl else None,
        genes[entrez].tolist() if entrez else None,
    )


def iter_counts(
    path: Path, positions: np.ndarray, rows: SymbolRows, *, chunk: int
) -> Iterator[np.ndarray]:
    """Counts of the samples at sorted `positions`, chunk by chunk: (n_symbols, k) each."""
    for start in range(0, len(positions), chunk):
        counts = read_archs4(path, samples=positions[start : start + chunk]).values
        yield rows.collapse(counts)

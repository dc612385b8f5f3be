"""ARCHS4 gene-level HDF5 files: read by samples and genes, streamed by samples, written like v2.

The layout read, that of ARCHS4 v2 (e.g. human_gene_v2.2.h5) and of the files written here:

    data/expression        (n_genes, n_samples) integer read counts (uint32; any integer reads)
    meta/genes/<field>     (n_genes,)   symbol (v2.2+) or gene_symbol (v2.0-2.1), ensembl_gene_id,
                                        biotype, ...
    meta/samples/<field>   (n_samples,) geo_accession (required), series_id, characteristics_ch1,
                                        title, singlecellprobability, readsaligned, ...
    anything else (meta/info, ...) is ignored.

Metadata are byte strings or numbers; text that holds numbers reads as numbers (ARCHS4 stores
`singlecellprobability` as text), see `transform.io.meta`. Earlier ARCHS4 releases stored the
matrix transposed, (n_samples, n_genes): the orientation is read from comparing the matrix shape
with the lengths of the gene and sample fields, and a file where that cannot decide (a square
matrix) or where the shape fits neither is refused.

In memory a file is a GeneMatrix, genes x samples, counts in the stored dtype. row_meta keeps
every gene field, indexed by the first unique one of ensembl_gene_id, ensembl_gene, symbol,
gene_symbol (by position where none is unique); col_meta keeps every sample field, indexed by
geo_accession. Genes may be asked for by that index or by symbol (a symbol shared by several
genes is refused as ambiguous), or by position.

Written files: genes x samples, gzip-compressed, chunks of every gene for a few samples (about
1 MiB), so that reading a sample or a run of samples decompresses only their chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from transform.io.errors import Archs4FormatError, name_some
from transform.io.hdf5 import (
    StreamWriter,
    append_along,
    append_field,
    checked_block,
    open_hdf5,
    read_field,
    read_meta,
    read_rows,
    require_dataset,
    require_group,
    samples_per_chunk,
)
from transform.io.matrix import GeneMatrix
from transform.io.meta import id_index
from transform.io.select import Selection, chunk_positions, resolve_positions, take_in_order

EXPRESSION = "data/expression"
GENES = "meta/genes"
SAMPLES = "meta/samples"
SAMPLE_ID = "geo_accession"
SYMBOL_FIELDS = ("symbol", "gene_symbol")
GENE_ID_FIELDS = ("ensembl_gene_id", "ensembl_gene", *SYMBOL_FIELDS)
GENES_BY_SAMPLES = "genes x samples"
SAMPLES_BY_GENES = "samples x genes"


@dataclass(frozen=True)
class Archs4Info:
    n_genes: int
    n_samples: int
    orientation: str  # GENES_BY_SAMPLES (v2) or SAMPLES_BY_GENES (earlier releases)
    symbols: list[str]  # from meta/genes/symbol or gene_symbol; empty when the file has neither
    dtype: np.dtype


@dataclass(frozen=True)
class _Archs4:
    path: Path
    expression: h5py.Dataset
    genes: h5py.Group
    samples: h5py.Group
    n_genes: int
    n_samples: int
    genes_first: bool

    def counts(self, sample_at: np.ndarray | None) -> np.ndarray:
        """(n_genes, k) counts of the samples at sorted positions (all for None)."""
        if self.genes_first:
            return read_rows(self.expression, sample_at, axis=1)
        return read_rows(self.expression, sample_at).T


@contextmanager
def _opened(path: str | Path) -> Iterator[_Archs4]:
    with open_hdf5(path, Archs4FormatError) as file:
        expression = require_dataset(file, EXPRESSION, Archs4FormatError)
        genes = require_group(file, GENES, Archs4FormatError)
        samples = require_group(file, SAMPLES, Archs4FormatError)
        require_dataset(file, f"{SAMPLES}/{SAMPLE_ID}", Archs4FormatError)
        n_genes, n_samples = _length(genes, "gene"), _length(samples, "sample")
        genes_first = _orientation(path, expression.shape, n_genes, n_samples)
        yield _Archs4(Path(path), expression, genes, samples, n_genes, n_samples, genes_first)


def _length(group: h5py.Group, what: str) -> int:
    lengths = {
        name: item.shape[0] if isinstance(item, h5py.Dataset) and item.ndim == 1 else -1
        for name, item in group.items()
    }
    if len(set(lengths.values())) != 1 or -1 in lengths.values():
        shown = ", ".join(f"{name} {length}" for name, length in lengths.items())
        raise Archs4FormatError(
            f"{group.file.filename}: the {what} fields in {group.name} must be 1-D and of one "
            f"length, found: {shown or 'no fields'}"
        )
    return next(iter(lengths.values()))


def _orientation(path: str | Path, shape: tuple[int, ...], n_genes: int, n_samples: int) -> bool:
    """True for genes x samples (v2), False for samples x genes; refuses what cannot tell."""
    if shape == (n_genes, n_samples) and n_genes == n_samples:
        raise Archs4FormatError(
            f"{path}: {EXPRESSION} is square {shape} with as many genes as samples, so its "
            "orientation (genes x samples or samples x genes) cannot be told"
        )
    if shape not in ((n_genes, n_samples), (n_samples, n_genes)):
        raise Archs4FormatError(
            f"{path}: {EXPRESSION} has shape {shape}, which fits neither {n_genes} genes x "
            f"{n_samples} samples nor its transpose"
        )
    return shape == (n_genes, n_samples)


def archs4_info(path: str | Path) -> Archs4Info:
    """Counts, orientation, stored dtype and gene symbols, without reading the matrix."""
    with _opened(path) as a4:
        genes = read_meta(a4.genes, None)
        field = _symbol_field(genes)
        symbols = genes[field].astype(str).tolist() if field else []
        orientation = GENES_BY_SAMPLES if a4.genes_first else SAMPLES_BY_GENES
        return Archs4Info(a4.n_genes, a4.n_samples, orientation, symbols, a4.expression.dtype)


def read_archs4(
    path: str | Path, *, samples: Selection | None = None, genes: Selection | None = None
) -> GeneMatrix:
    """Counts (n_genes, n_samples) of the samples and genes asked for, in the order given.

    samples: geo_accession ids or positions; genes: gene ids, symbols or positions; None for all.
    """
    with _opened(path) as a4:
        gene_meta, gene_at = _genes(a4, genes)
        sample_ids = _sample_ids(a4)
        sample_at = resolve_positions(samples, sample_ids, what="sample", source=path)
        names = pd.Index(sample_ids if sample_at is None else sample_ids[sample_at], name="cid")
        sample_meta = read_meta(a4.samples, sample_at, names)
        counts = take_in_order(a4.counts, sample_at, axis=1)
    return GeneMatrix(counts if gene_at is None else counts[gene_at], gene_meta, sample_meta)


def iter_archs4_samples(
    path: str | Path, *, chunk_size: int, genes: Selection | None = None
) -> Iterator[GeneMatrix]:
    """Consecutive blocks of at most `chunk_size` samples (all genes, or `genes` in their order).

    Memory is bounded by one block; each block's sample metadata is typed on its own.
    """
    with _opened(path) as a4:
        gene_meta, gene_at = _genes(a4, genes)
        for at in chunk_positions(a4.n_samples, chunk_size):
            meta = read_meta(a4.samples, at)
            meta.index = id_index(meta[SAMPLE_ID], "cid")
            counts = a4.counts(at)
            yield GeneMatrix(counts if gene_at is None else counts[gene_at], gene_meta, meta)


def _genes(a4: _Archs4, genes: Selection | None) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Gene metadata of the genes asked for, and their positions (None for all)."""
    meta = read_meta(a4.genes, None)
    meta.index = _gene_index(meta)
    field = _symbol_field(meta)
    if genes is not None and not isinstance(genes, np.ndarray | pd.Index):
        genes = list(genes)
    aliases: dict[str, int] = {}
    if field is not None and genes is not None:
        symbols = id_index(meta[field])
        shared = set(symbols[symbols.duplicated()])
        ambiguous = [g for g in genes if isinstance(g, str) and g in shared and g not in meta.index]
        if ambiguous:
            raise ValueError(
                f"{a4.path}: gene symbols {name_some(ambiguous)} name several genes; "
                "ask for them by Ensembl id or position"
            )
        aliases = {symbol: at for at, symbol in enumerate(symbols) if symbol not in shared}
    at = resolve_positions(genes, meta.index, what="gene", source=a4.path, aliases=aliases)
    return (meta if at is None else meta.iloc[at]), at


def _gene_index(meta: pd.DataFrame) -> pd.Index:
    for field in GENE_ID_FIELDS:
        if field in meta and meta[field].notna().all() and meta[field].is_unique:
            return id_index(meta[field], "rid")
    return pd.RangeIndex(len(meta), name="rid")


def _symbol_field(meta: pd.DataFrame) -> str | None:
    return next((field for field in SYMBOL_FIELDS if field in meta), None)


def _sample_ids(a4: _Archs4) -> pd.Index:
    index = id_index(read_field(a4.samples[SAMPLE_ID]))
    if not index.is_unique:
        repeated = index[index.duplicated()].unique().tolist()
        raise Archs4FormatError(f"{a4.path}: duplicate sample ids {name_some(repeated)}")
    return index


class Archs4Writer(StreamWriter):
    """An ARCHS4-style (v2) file written sample chunk by sample chunk, in constant memory.

    with Archs4Writer(path, genes_meta) as writer:
        writer.append(counts, samples_meta)  # counts (n_genes, k); samples_meta k rows
    genes_meta and samples_meta are tables whose columns are the fields written (their index is
    not written); samples_meta must hold geo_accession, unique over all chunks. The file
    appears at `path` only when the block ends without an error.
    """

    def __init__(
        self,
        path: str | Path,
        genes_meta: pd.DataFrame,
        *,
        dtype: np.dtype | type = np.uint32,
        chunk_samples: int | None = None,
    ) -> None:
        self.dtype = np.dtype(dtype)
        if self.dtype.kind not in "iu":
            raise ValueError(f"ARCHS4 counts are stored as integers, not {self.dtype}")
        if len(genes_meta) == 0 or len(genes_meta.columns) == 0:
            raise ValueError("genes_meta needs at least one gene and one field (e.g. symbol)")
        super().__init__(path)
        self.n_genes = len(genes_meta)
        with self.aborting():
            gene_group = self.file.create_group(GENES, track_order=True)
            for name in genes_meta.columns:
                append_field(gene_group, str(name), genes_meta[name])
            self.samples = self.file.create_group(SAMPLES, track_order=True)
            per_chunk = chunk_samples or samples_per_chunk(self.n_genes, self.dtype)
            self.expression = self.file.create_dataset(
                EXPRESSION,
                shape=(self.n_genes, 0),
                maxshape=(self.n_genes, None),
                dtype=self.dtype,
                chunks=(self.n_genes, per_chunk),
                compression="gzip",
            )

    def append(self, counts: np.ndarray, samples_meta: pd.DataFrame) -> None:
        """Add samples: counts (n_genes, k) integers, samples_meta k rows with geo_accession."""
        counts = checked_block(counts, self.n_genes, len(samples_meta))
        if SAMPLE_ID not in samples_meta.columns:
            raise ValueError(f"samples_meta needs a {SAMPLE_ID} column")
        stored = _as_counts(counts, self.dtype)
        with self.chunk(samples_meta.columns, samples_meta[SAMPLE_ID]):
            append_along(self.expression, stored, axis=1)
            for name in samples_meta.columns:
                append_field(self.samples, str(name), samples_meta[name])


def _as_counts(counts: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if counts.dtype.kind not in "iu":
        raise TypeError(f"counts must be integers, got {counts.dtype}")
    limits = np.iinfo(dtype)
    if counts.size and (counts.min() < limits.min or counts.max() > limits.max):
        raise ValueError(f"counts {counts.min()}..{counts.max()} do not fit {dtype}")
    return counts.astype(dtype, copy=False)


def write_archs4(
    path: str | Path,
    counts: np.ndarray,
    genes_meta: pd.DataFrame,
    samples_meta: pd.DataFrame,
    *,
    dtype: np.dtype | type = np.uint32,
) -> None:
    """Write counts (n_genes, n_samples) with their gene and sample tables, ARCHS4 v2 layout."""
    with Archs4Writer(path, genes_meta, dtype=dtype) as writer:
        writer.append(counts, samples_meta)

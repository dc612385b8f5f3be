"""RNA-seq counts on the model's scale: one row per symbol, then the paper's normalization.

The model's RNA-seq scale is log10(CPM + 1) of the full gene matrix, quantile-normalized onto the
reference distribution fitted on the training samples. `Normalization` holds those facts (the
genes of the full matrix, in order, and the reference) so that new samples, e.g. a paired set,
land on the training scale: each sample is mapped alone, by rank, as it was during training.

Counts files may name a symbol on several rows (ARCHS4 does for a few genes) or on none:
`SymbolRows` sums the rows of one symbol (CPM totals are unchanged) and leaves out rows without a
symbol, giving one row per symbol, sorted by symbol.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from transform.gene_space import GeneSpace, GeneSpaceMismatch
from transform.io import GeneMatrix
from transform.normalize import log_cpm, quantile_map

METHOD = (
    "log10(CPM + 1) on the full gene matrix, quantile-normalized across samples (ties averaged)"
)
SYMBOL_FIELDS = ("symbol", "gene_symbol")
NO_SYMBOL = ("", "nan", "None", "-666")

Missing = Literal["error", "zero"]


@dataclass(frozen=True)
class SymbolRows:
    """Which rows of a counts matrix make each symbol's row.

    symbols: unique, sorted; order: row positions grouped by symbol, in symbol order;
    starts: where each symbol's group begins within `order`.
    """

    symbols: tuple[str, ...]
    order: np.ndarray
    starts: np.ndarray

    @classmethod
    def from_symbols(cls, raw: Sequence[object]) -> SymbolRows:
        text = np.asarray(["" if s is None else str(s) for s in raw], dtype=object)
        named = np.flatnonzero(~np.isin(text, NO_SYMBOL))
        order = named[np.argsort(text[named], kind="stable")]
        ordered = text[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(order) else order
        return cls(tuple(ordered[starts]), order, starts)

    @property
    def sums_rows(self) -> bool:
        return len(self.starts) < len(self.order)

    def collapse(self, counts: ArrayLike) -> np.ndarray:
        """(n_rows, k) counts -> (n_symbols, k), summing the rows of a symbol."""
        rows: np.ndarray = np.asarray(counts)[self.order]
        if not self.sums_rows:
            return rows
        wide = np.int64 if rows.dtype.kind in "iub" else np.float64
        return np.add.reduceat(rows.astype(wide, copy=False), self.starts, axis=0)


def matrix_symbols(matrix: GeneMatrix) -> list[object]:
    """A counts matrix's gene symbols: its `symbol` (or `gene_symbol`) field, else its row ids."""
    for field in SYMBOL_FIELDS:
        if field in matrix.row_meta.columns:
            symbols: list[object] = matrix.row_meta[field].tolist()
            return symbols
    ids: list[object] = matrix.row_ids.tolist()
    return ids


@dataclass(frozen=True)
class Normalization:
    """The facts that put RNA-seq counts on the model's scale.

    genes: the rows of the full gene matrix (by symbol) the reference was fitted on;
    reference: (n_genes,) float64 ascending, the mean of the sorted log10(CPM + 1) columns.
    """

    genes: GeneSpace
    reference: np.ndarray

    def __post_init__(self) -> None:
        reference = np.asarray(self.reference, dtype=np.float64)
        if reference.shape != (len(self.genes),):
            raise ValueError(f"reference of shape {reference.shape} for {len(self.genes)} genes")
        object.__setattr__(self, "reference", reference)

    @cached_property
    def checksum(self) -> str:
        """SHA-256 over the gene order and the reference values."""
        digest = hashlib.sha256(self.genes.checksum.encode("ascii"))
        digest.update(np.ascontiguousarray(self.reference, dtype="<f8").tobytes())
        return digest.hexdigest()

    def apply(self, counts: ArrayLike) -> np.ndarray:
        """(n_genes, k) counts in `genes` order -> (n_genes, k) float32 on the training scale."""
        return quantile_map(log_cpm(counts, dtype=np.float64), self.reference)

    def align(self, matrix: GeneMatrix, *, missing: Missing = "error") -> np.ndarray:
        """(n_genes, n) counts of a matrix, one row per symbol, in `genes` order.

        Rows of genes the reference does not know are left out (CPM is over the genes it
        knows, as in training). Genes it knows and the matrix lacks raise GeneSpaceMismatch,
        or count as zero reads with missing="zero".
        """
        rows = SymbolRows.from_symbols(matrix_symbols(matrix))
        counts = rows.collapse(matrix.values)
        at = np.array([self.genes.positions.get(s, -1) for s in rows.symbols], dtype=np.int64)
        known = at >= 0
        absent = len(self.genes) - int(known.sum())
        if absent and missing == "error":
            have = set(rows.symbols)
            raise GeneSpaceMismatch(
                "the counts lack genes of the normalization gene space; pass missing='zero' to "
                "count them as zero reads",
                missing=[s for s in self.genes.symbols if s not in have],
            )
        aligned = np.zeros((len(self.genes), counts.shape[1]), dtype=counts.dtype)
        aligned[at[known]] = counts[known]
        return aligned

    def to_dict(self) -> dict[str, object]:
        return {
            "method": METHOD,
            "genes": self.genes.to_dict(),
            "reference": self.reference.tolist(),
            "checksum": self.checksum,
        }

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> Normalization:
        facts = cls(GeneSpace.from_dict(stored["genes"]), np.asarray(stored["reference"]))
        if stored.get("checksum", facts.checksum) != facts.checksum:
            raise ValueError("normalization facts: stored checksum does not match their values")
        return facts

    def summary(self) -> dict[str, object]:
        return {"method": METHOD, "genes": self.genes.summary(), "checksum": self.checksum}

"""Gene spaces: named, ordered gene lists, derived from the data as the paper does.

- Input genes: the L1000 landmarks (by `pr_gene_symbol`) that the RNA-seq matrix also holds (by
  symbol), sorted by symbol (962 of 978 in the paper's data).
- Output genes: the RNA-seq genes with more than 10 reads in more than 2% of a random sample of
  10,000 samples, sorted by symbol (23,614 in the paper). Both thresholds are strict.

A model is tied to its gene spaces: data whose genes differ are refused with `GeneSpaceMismatch`,
which names the genes missing and the genes extra.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from transform.io.errors import name_some

MIN_READS = 10  # a gene counts as expressed in a sample with more than this many reads
MIN_FRACTION = 0.02  # ... and is kept when expressed in more than this fraction of samples


class GeneSpaceMismatch(ValueError):
    """Genes that a model expects and the data lack (`missing`), or that the data add (`extra`)."""

    def __init__(
        self, message: str, *, missing: Sequence[str] = (), extra: Sequence[str] = ()
    ) -> None:
        self.missing = tuple(missing)
        self.extra = tuple(extra)
        details = []
        if self.missing:
            details.append(f"{len(self.missing)} missing: {name_some(self.missing)}")
        if self.extra:
            details.append(f"{len(self.extra)} extra: {name_some(self.extra)}")
        super().__init__(message + (f" ({'; '.join(details)})" if details else ""))


def gene_list_sha256(genes: Iterable[str]) -> str:
    """The checksum of an ordered gene list: SHA-256 (hex) of the symbols joined by newlines,
    UTF-8. A model's gene spaces, a signature folder's and a search index's gene space carry it."""
    return hashlib.sha256("\n".join(genes).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class GeneSpace:
    """A named, ordered list of unique gene symbols; its checksum identifies the order."""

    name: str
    symbols: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbols", tuple(str(symbol) for symbol in self.symbols))
        repeated = repeated_items(self.symbols)
        if repeated:
            raise ValueError(f"gene space {self.name!r} repeats {name_some(repeated)}")

    def __len__(self) -> int:
        return len(self.symbols)

    @cached_property
    def checksum(self) -> str:
        """SHA-256 of the symbols joined by newlines (gene_list_sha256)."""
        return gene_list_sha256(self.symbols)

    @cached_property
    def positions(self) -> dict[str, int]:
        return {symbol: at for at, symbol in enumerate(self.symbols)}

    def require_same(self, other: GeneSpace, *, what: str) -> None:
        """Raise GeneSpaceMismatch unless `other` holds the same genes in the same order."""
        if other.symbols == self.symbols:
            return
        mine, theirs = set(self.symbols), set(other.symbols)
        missing = [s for s in self.symbols if s not in theirs]
        extra = [s for s in other.symbols if s not in mine]
        problem = "other genes" if missing or extra else "the same genes in another order"
        raise GeneSpaceMismatch(
            f"{what} has {problem} than the {self.name} gene space ({len(self)} genes, "
            f"checksum {self.checksum[:12]})",
            missing=missing,
            extra=extra,
        )

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "checksum": self.checksum, "symbols": list(self.symbols)}

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> GeneSpace:
        space = cls(str(stored["name"]), tuple(stored["symbols"]))
        if "checksum" in stored and stored["checksum"] != space.checksum:
            raise ValueError(f"gene space {space.name!r}: stored checksum does not match its genes")
        return space

    def summary(self) -> dict[str, object]:
        """Name, size and checksum: what a manifest shows."""
        return {"name": self.name, "n_genes": len(self), "checksum": self.checksum}


def repeated_items(items: Iterable[str]) -> list[str]:
    """The items given more than once, sorted."""
    return sorted(item for item, count in Counter(items).items() if count > 1)


def input_gene_space(
    landmark_symbols: Iterable[str], rnaseq_symbols: Iterable[str], *, name: str = "input"
) -> GeneSpace:
    """The landmarks that the RNA-seq genes also hold, sorted by symbol.

    A landmark symbol given twice is refused: it could not say which probe feeds the model.
    """
    landmarks = [str(symbol) for symbol in landmark_symbols]
    repeated = repeated_items(landmarks)
    if repeated:
        raise ValueError(f"landmark symbols name several probes: {name_some(repeated)}")
    shared = set(landmarks) & {str(symbol) for symbol in rnaseq_symbols}
    if not shared:
        raise GeneSpaceMismatch("no landmark symbol is among the RNA-seq genes")
    return GeneSpace(name, tuple(sorted(shared)))


class ExpressedGenes:
    """Counts, gene by gene, the samples with more than `min_reads` reads; chunk by chunk."""

    def __init__(self, symbols: Sequence[str], *, min_reads: int = MIN_READS) -> None:
        self.symbols = tuple(symbols)
        self.min_reads = min_reads
        self.samples_above = np.zeros(len(self.symbols), dtype=np.int64)
        self.n_samples = 0

    def update(self, counts: ArrayLike) -> None:
        """Add the samples of one (n_genes, k) counts chunk."""
        chunk = np.asarray(counts)
        if chunk.ndim != 2 or chunk.shape[0] != len(self.symbols):
            raise ValueError(f"counts of shape {chunk.shape} for {len(self.symbols)} genes")
        self.samples_above += (chunk > self.min_reads).sum(axis=1)
        self.n_samples += chunk.shape[1]

    def gene_space(self, *, min_fraction: float = MIN_FRACTION, name: str = "output") -> GeneSpace:
        """The genes expressed in more than `min_fraction` of the samples, sorted by symbol.

        The comparison is exact (a fraction, not a float product): with 150 samples and 2%, a gene
        needs 4 samples, 3 is not more than 2%.
        """
        if self.n_samples == 0:
            raise ValueError("no samples were counted")
        fraction = Fraction(str(min_fraction))
        kept = self.samples_above * fraction.denominator > fraction.numerator * self.n_samples
        return GeneSpace(name, tuple(sorted(np.asarray(self.symbols, dtype=object)[kept])))


def output_gene_space(
    symbols: Sequence[str],
    chunks: Iterable[ArrayLike],
    *,
    min_reads: int = MIN_READS,
    min_fraction: float = MIN_FRACTION,
    name: str = "output",
) -> GeneSpace:
    """The expressed genes of (n_genes, k) count chunks whose rows are `symbols`."""
    expressed = ExpressedGenes(symbols, min_reads=min_reads)
    for chunk in chunks:
        expressed.update(chunk)
    return expressed.gene_space(min_fraction=min_fraction, name=name)

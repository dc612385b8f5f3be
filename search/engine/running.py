"""A search's answer kept over parts of the index, mergeable: span by span (many.py's streamed
batches) or shard by shard (shards/).

`Running` holds, for one query over the signatures seen so far: the candidates for the top k
(every key at least the k-th largest, with their places among the selected and their two rank
sums), the `keep` largest of each |z| the three FDRs read, and those |z| counted in fixed bins
(PER_UNIT a unit, TOP_BIN and above in the last). Merged over the parts, these are exactly what
`scores.fdr_for` reads of the whole arrays, except its histogram, whose bins it draws from the
boundary: `StreamedAbsZ.histogram` gives counts that keep its tail bound a lower bound no higher
than the drawn bins' (so an FDR that passes here passes there, with the same value). Where the
FDR needs every signature sorted, `Running.table` says so (None), and the caller sums again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from search.engine import scores
from search.engine.backends import compiled, tiles
from search.engine.metadata import Selection
from search.engine.searching import GeneQuery, candidates_ranked, searched_sources, side_keys

if TYPE_CHECKING:
    from search.engine.index import SearchIndex

PER_UNIT = 256  # fixed histogram bins a unit of |z|
TOP_BIN = 32  # |z| at or above this shares the last bin


@dataclass
class Running:
    """One query's answer so far over some spans: the candidates for the top k (places among the
    selected, their rank sums, their keys), the `keep` largest of each |z| the FDRs read, and those
    |z| counted in fixed bins (PER_UNIT a unit, TOP_BIN and above in the last)."""

    places: NDArray[np.int64]
    sum_up: NDArray[np.uint32]
    sum_down: NDArray[np.uint32]
    keys: NDArray[np.float64]
    top: list[NDArray[np.float64]]
    counts: NDArray[np.int64]

    @classmethod
    def empty(cls) -> Running:
        none = np.empty(0)
        return cls(
            np.empty(0, dtype=np.int64),
            np.empty(0, dtype=np.uint32),
            np.empty(0, dtype=np.uint32),
            none,
            [none, none, none],
            np.zeros((3, TOP_BIN * PER_UNIT + 1), dtype=np.int64),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """The state as named arrays (what a shard sends back: shards/answering.py); the counts up
        to the last bin used (|z| rarely reaches far into TOP_BIN * PER_UNIT bins)."""
        used = np.flatnonzero(self.counts.any(axis=0))
        return {
            "places": self.places,
            "sum_up": self.sum_up,
            "sum_down": self.sum_down,
            "keys": self.keys,
            **{f"top_{side}": top for side, top in enumerate(self.top)},
            "counts": self.counts[:, : used[-1] + 1 if used.size else 0],
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], offset: int = 0) -> Running:
        """The state `arrays` gave, its places moved by offset (the signatures selected before
        its part)."""
        return cls(
            arrays["places"].astype(np.int64) + offset,
            arrays["sum_up"].astype(np.uint32),
            arrays["sum_down"].astype(np.uint32),
            arrays["keys"].astype(np.float64),
            [arrays[f"top_{side}"].astype(np.float64) for side in range(3)],
            _widened(arrays["counts"]),
        )

    def add(
        self,
        n_genes: int,
        query: GeneQuery,
        mode: str,
        k: int,
        keep: int,
        places: NDArray[np.int64],
        sum_up: NDArray[np.uint32],
        sum_down: NDArray[np.uint32],
    ) -> None:
        """Take in a span's signatures: their places among the selected and rank sums."""
        keys, abs_up, abs_down = side_keys(n_genes, query, sum_up, sum_down, mode)
        sources = searched_sources(query, mode, keys, abs_up, abs_down)
        picked = compiled.top_candidates(keys, k)
        for side, values in enumerate(sources):
            if values is not None:
                tiles.add_histogram(values, float(PER_UNIT), self.counts[side])
        tops = [np.empty(0) if values is None else _largest(values, keep) for values in sources]
        self._take(places[picked], sum_up[picked], sum_down[picked], keys[picked], tops, k, keep)

    def merge(self, other: Running, k: int, keep: int) -> None:
        """Take in another part's state (its signatures not among these)."""
        self._take(other.places, other.sum_up, other.sum_down, other.keys, other.top, k, keep)
        self.counts += other.counts

    def _take(
        self,
        places: NDArray[np.int64],
        sum_up: NDArray[np.uint32],
        sum_down: NDArray[np.uint32],
        keys: NDArray[np.float64],
        top: list[NDArray[np.float64]],
        k: int,
        keep: int,
    ) -> None:
        """Merge candidates (their places, sums and keys) and largest |z| into these."""
        keys = np.concatenate([self.keys, keys])
        picked = compiled.top_candidates(keys, k) if keys.size else np.empty(0, dtype=np.intp)
        self.places = np.concatenate([self.places, places])[picked]
        self.sum_up = np.concatenate([self.sum_up, sum_up])[picked]
        self.sum_down = np.concatenate([self.sum_down, sum_down])[picked]
        self.keys = keys[picked]
        self.top = [
            _largest(np.concatenate([mine, theirs]), keep)
            for mine, theirs in zip(self.top, top, strict=True)
        ]

    @classmethod
    def merged(cls, runs: list[Running], k: int, keep: int) -> Running:
        whole = runs[0]
        for other in runs[1:]:
            whole.merge(other, k, keep)
        return whole

    def table(
        self, index: SearchIndex, query: GeneQuery, selection: Selection, mode: str, k: int
    ) -> pd.DataFrame | None:
        """The result table, as `_exact_ranked` makes it from the whole arrays; None when its
        FDR needs every signature sorted."""
        found, sums, _, (total, up, down) = self._sources(
            index.n_genes, query, mode, selection.size
        )
        assert total is not None  # |z_sum| is always searched
        try:
            return candidates_ranked(
                index, query, selection, mode, k, found, sums, (total, up, down)
            )
        except NeedsEverySignature:
            return None

    def needs_every(self, n_genes: int, query: GeneQuery, mode: str, k: int, size: int) -> bool:
        """Whether this state, taken as a whole search of `size` signatures, leaves an FDR of its
        top k needing every signature sorted: a shard's guess that the merged search will (its
        top k is much of the merged top k, its largest |z| and counts a share of the whole's)."""
        found, _, keys, sources = self._sources(n_genes, query, mode, size)
        picks = found[np.argsort(-keys, kind="stable")[:k]]
        sds = (scores.z_sum_sd(n_genes, query.up.size, query.down.size), 1.0, 1.0)
        for source, sd in zip(sources, sds, strict=True):
            try:
                if source is not None and scores.bounded_fdr(source, picks, sd) is None:
                    return True
            except NeedsEverySignature:
                return True
        return False

    def _sources(
        self, n_genes: int, query: GeneQuery, mode: str, size: int
    ) -> tuple[
        NDArray[np.int64],
        tuple[NDArray[np.uint32], NDArray[np.uint32]],
        NDArray[np.float64],
        list[StreamedAbsZ | None],
    ]:
        """The candidates in place order, their sums and keys, and the three |z| sources the
        FDRs read (None for a side with no genes), over `size` signatures searched."""
        order = np.argsort(self.places, kind="stable")
        found = self.places[order]
        sums = (self.sum_up[order], self.sum_down[order])
        keys, abs_up, abs_down = side_keys(n_genes, query, sums[0], sums[1], mode)
        values = searched_sources(query, mode, keys, abs_up, abs_down)
        sources = [
            None if at is None else StreamedAbsZ(size, found, at, top, counts)
            for at, top, counts in zip(values, self.top, self.counts, strict=True)
        ]
        return found, sums, keys, sources


def _widened(counts: np.ndarray) -> NDArray[np.int64]:
    """Counts cut after their last bin used (Running.arrays) at their full width again."""
    whole = Running.empty().counts
    whole[:, : counts.shape[1]] = counts
    return whole


def _largest(values: NDArray[np.float64], m: int) -> NDArray[np.float64]:
    """The m largest values (all of them when fewer), in descending order."""
    if values.size > m:
        values = values[compiled.largest(values, m)]
    return np.sort(values)[::-1]


class NeedsEverySignature(Exception):
    """fdr_for asked for what a streamed search does not keep (every |z|, or more of the
    largest than it kept)."""


class StreamedAbsZ:
    """|z| of every signature searched, as fdr_for reads them (scores.AbsZSource), from what a
    streamed search kept: the candidates' values, the largest values, and fixed-bin counts."""

    def __init__(
        self,
        size: int,
        found: NDArray[np.int64],
        at: NDArray[np.float64],
        top: NDArray[np.float64],
        counts: NDArray[np.int64],
    ) -> None:
        self.size = size
        self.found, self.at_found, self.top, self.counts = found, at, top, counts

    def values(self) -> NDArray[np.float64]:
        raise NeedsEverySignature

    def largest(self, m: int) -> NDArray[np.float64]:
        if m > self.top.size:
            raise NeedsEverySignature
        return self.top[:m]

    def at(self, picks: NDArray[np.int64]) -> NDArray[np.float64]:
        where = np.searchsorted(self.found, picks)
        return self.at_found[where]

    def histogram(self, boundary: float, bins: int) -> NDArray[np.intp]:
        """Counts for HostAbsZ.histogram's bins (of width boundary / bins, the last for
        boundary and above) that keep scores._tail_bound a lower bound: each fixed bin's count
        goes to a drawn bin whose upper edge is at least its own (one more bin for rounding),
        which keeps the order of values, so no value's rank or p is overstated."""
        width = boundary / bins
        upper = np.arange(1, self.counts.size + 1) / PER_UNIT
        drawn = np.minimum(np.ceil(upper / width), bins).astype(np.int64)
        drawn[-1] = bins  # TOP_BIN and above
        counts: NDArray[np.intp] = np.bincount(
            drawn, weights=self.counts, minlength=bins + 1
        ).astype(np.intp)
        return counts

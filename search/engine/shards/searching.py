"""The coordinator's side: a ShardedIndex searches the shards as one index, bit for bit.

The coordinator is the unsplit index (whose matrices it never reads for a search) or its head
(writing.py: the index without its matrices, which it then reads through the shards as well:
matrices.py). See the package's note for the two calls of a search and the FDR.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from search.engine import scores
from search.engine.errors import IndexArtifactError, InvalidQueryError
from search.engine.index import SearchIndex
from search.engine.metadata import Selection
from search.engine.query import MIN_GENES
from search.engine.results import SearchResult
from search.engine.running import Running
from search.engine.searching import (
    GeneQuery,
    _check_options,
    _empty_table,
    _exact_ranked,
    _ranked,
    answer_fields,
    cd_scored,
    gene_query,
)
from search.engine.shards.calls import Shard, by_shard, covered, scatter
from search.engine.shards.transport import encoded

VALUES = ("up", "down", "stats")  # a shard's answer to value_sums


@dataclass
class ShardedIndex:
    """Searches shards as one index: `coordinator` holds the gene space and all the metadata."""

    coordinator: SearchIndex
    shards: Sequence[Shard]
    # whether the summaries carry the sums: "guess" (each shard's), "always" or "never"
    sums_first: str = "guess"
    sums_asked: int = 0  # searches whose FDR needed the shards' rank sums (counted for benchmarks)
    second_rounds: int = 0  # of those, searches that asked a shard for them again

    def __post_init__(self) -> None:
        """A head (its matrices in shards) reads its matrices through these shards from now on."""
        k = self.coordinator.n_shards
        if not k:
            return
        if len(self.shards) != k:
            raise IndexArtifactError(
                f"the index's matrices are in {k} shards, and {len(self.shards)} are given"
            )
        self.coordinator.attach(self, self.ask_each)

    def search(
        self,
        up: Sequence[str] = (),
        down: Sequence[str] = (),
        *,
        mode: str = "both",
        score: str = "rank",
        filters: Mapping[str, object] | None = None,
        k: int = 100,
        min_genes: int = MIN_GENES,
        order: str = "z",
    ) -> SearchResult:
        """What coordinator.search(up, down, ..., path="exact") answers, from the shards."""
        _check_options(mode, score, "exact", k)
        index = self.coordinator
        if order == "tau" and (score != "rank" or index.specificity is None):
            raise InvalidQueryError(
                "ordering by tau needs the rank score and an index built with a specificity "
                "compendium",
                field="order",
            )
        query = gene_query(index, up, down, min_genes=min_genes)
        selection = index.table.select(filters)
        report = index.table.filter_report(filters)
        payload = {
            "up": [index.genes[g] for g in query.up],
            "down": [index.genes[g] for g in query.down],
            "mode": mode,
            "filters": dict(filters or {}),
            "k": k,
            "sums_first": self.sums_first,
        }
        common = answer_fields(index, query, selection, mode, score, "exact", report)
        if selection.size == 0:
            table = _empty_table(index, score)
        elif score == "cd":
            table = self._cd_table(payload, query, selection, mode, k)
        elif order == "tau":
            given = self._sums(payload, selection)
            table = _exact_ranked(index, query, selection, mode, k, given=given, by_tau=True)
        else:
            table = self._rank_table(payload, query, selection, mode, k)
        return SearchResult(table=table, **common)

    def _rank_table(
        self, payload: dict[str, Any], query: GeneQuery, selection: Selection, mode: str, k: int
    ) -> pd.DataFrame:
        """The rank score's table from the merged summaries, or from every sum when an FDR needs
        every signature."""
        index = self.coordinator
        answers = self.ask_shards("summary", payload)
        selected = covered([int(answer["selected"]) for answer in answers], selection)
        runs = [
            Running.from_arrays(answer, offset=int(offset))
            for answer, offset in zip(answers, selected[:-1], strict=True)
        ]
        merged = Running.merged(runs, k, scores.largest_read(k))
        table = merged.table(index, query, selection, mode, k)
        if table is None:  # an FDR needs every signature: the shards' sums, ranked here
            self.second_rounds += any("up" not in answer for answer in answers)
            given = self._sums(payload, selection, answers)
            table = _exact_ranked(index, query, selection, mode, k, given=given)
        return table

    def _cd_table(
        self, payload: dict[str, Any], query: GeneQuery, selection: Selection, mode: str, k: int
    ) -> pd.DataFrame:
        """The 'cd' score's table from the shards' sums of values and value statistics."""
        parts = self.ask_shards("value_sums", payload)
        covered([int(part["selected"]) for part in parts], selection)
        up, down, stats = (np.concatenate([p[name] for p in parts]) for name in VALUES)
        scored = cd_scored(self.coordinator, query, selection, given=(up, down, stats))
        return _ranked(self.coordinator, query, scored, selection.size, mode, "cd", k, exact=True)

    def _sums(
        self, payload: dict[str, Any], selection: Selection, sent: Sequence[Mapping[str, Any]] = ()
    ) -> tuple[NDArray[np.uint32], NDArray[np.uint32]]:
        """The two sides' rank sums of every selected signature, from the shards in order: those
        `sent` with their summaries, the others asked now."""
        have: list[Mapping[str, Any] | None] = [a if "up" in a else None for a in sent]
        have = have or [None] * len(self.shards)
        missing = [number for number, answer in enumerate(have) if answer is None]
        asked = iter(self.ask_shards("sums", payload, missing) if missing else ())
        answers = [next(asked) if answer is None else answer for answer in have]
        parts = [{side: np.asarray(answer[side]) for side in ("up", "down")} for answer in answers]
        self.sums_asked += 1
        covered([p["up"].size for p in parts], selection)
        up, down = (
            np.concatenate([np.empty(0, np.uint32), *(p[side] for p in parts)])
            for side in ("up", "down")
        )
        return up, down

    def products(
        self,
        column: NDArray[np.integer],
        filters: Mapping[str, object] | None,
        selection: Selection,
    ) -> NDArray[np.float64]:
        """A signature's `column` of ranks (every gene), centred, times every signature the
        filters select, in the selection's order (answering.shard_products): `similar`'s exact
        products, each shard its own."""
        payload = {**encoded({"column": np.asarray(column)}), "filters": dict(filters or {})}
        parts = self.ask_shards("products", payload)
        covered([int(part["selected"]) for part in parts], selection)
        return np.concatenate([np.empty(0), *(part["products"] for part in parts)])

    def products_at(
        self, column: NDArray[np.integer], positions: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """`products` at the given signature positions only (a head's candidates for `similar`
        in the fast mode), in their order: each shard its own, positions sent as its own."""
        bounds = self.coordinator.shard_bounds
        if bounds is None:
            raise InvalidQueryError("products at given signatures are a head's, not an index's")
        held = by_shard(bounds, positions)
        sent = encoded({"column": np.asarray(column)})
        payloads = {
            n: {**sent, **encoded({"columns": positions[mask] - bounds[n]})}
            for n, mask in held.items()
        }
        out = np.empty(positions.size)
        for (_, mask), part in zip(held.items(), self.ask_each("products", payloads), strict=True):
            out[mask] = part["products"]
        return out

    def ask_shards(
        self, call: str, payload: Mapping[str, Any], numbers: Sequence[int] | None = None
    ) -> list[dict[str, Any]]:
        """Each shard's answer to `call` (every shard, or those numbered), in order."""
        numbers = range(len(self.shards)) if numbers is None else numbers
        return self.ask_each(call, {number: payload for number in numbers})

    def ask_each(
        self, call: str, payloads: Mapping[int, Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Each numbered shard's answer to `call` with its own payload, in the payloads' order."""
        index = self.coordinator
        whole = {"index": index.version, "of": len(self.shards), "n": index.n_signatures}
        return scatter(self.shards, whole, call, payloads)

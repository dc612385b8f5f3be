"""Many queries at once, exactly: a block of queries' rank sums in one pass over the rank matrix.

`search_many(index, queries, ...)` answers what `index.search` answers for each query, with the
same integers, z, p and FDR (tests/engine/test_many.py checks it bit for bit): the queries are
taken QUERY_BLOCK at a time (fewer when the selection is large, so that a block's sums stay under
SUMS_BYTES), their rank sums computed by `compiled.many_rank_sums` (each gene's row read once per
block and added into every query side that holds it), then each query ranked by the exact path's
own code (`searching._exact_ranked`, from those sums). Only the rank score on the exact path; a
query that cannot be scored gets its error in its place, the others still run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from search.engine.backends import compiled
from search.engine.errors import InvalidQueryError
from search.engine.query import MIN_GENES
from search.engine.results import SearchResult
from search.engine.searching import (
    GeneQuery,
    _check_options,
    _empty_table,
    _exact_ranked,
    answer_fields,
    gene_query,
)

if TYPE_CHECKING:
    from search.engine.index import SearchIndex

QUERY_BLOCK = 64
SUMS_BYTES = 1 << 28  # a block's uint32 sums: 256 MiB at most


def search_many(
    index: SearchIndex,
    queries: Sequence[tuple[Sequence[str], Sequence[str]]],
    *,
    mode: str = "both",
    filters: Mapping[str, object] | None = None,
    k: int = 100,
    min_genes: int = MIN_GENES,
) -> list[SearchResult | InvalidQueryError]:
    """Each (up, down) query's SearchResult, or the InvalidQueryError it raised, in order."""
    _check_options(mode, "rank", "exact", k)
    selection = index.table.select(filters)
    report = index.table.filter_report(filters)
    answers: list[SearchResult | InvalidQueryError] = []
    resolved: list[tuple[int, GeneQuery]] = []
    for at, (up, down) in enumerate(queries):
        try:
            resolved.append((at, gene_query(index, up, down, min_genes=min_genes)))
            answers.append(InvalidQueryError("not run"))  # replaced below
        except InvalidQueryError as error:
            answers.append(error)
    width = max(1, selection.stop - selection.start)
    block = max(1, min(QUERY_BLOCK, SUMS_BYTES // (2 * 4 * width)))
    for first in range(0, len(resolved), block):
        part = resolved[first : first + block]
        sums = _block_sums(index, [query for _, query in part], selection.start, selection.stop)
        offsets = selection.positions - selection.start
        for j, (at, query) in enumerate(part):
            common = answer_fields(index, query, selection, mode, "rank", "exact", report)
            if selection.size == 0:
                answers[at] = SearchResult(table=_empty_table(index, "rank"), **common)
                continue
            sides = (sums[2 * j][offsets], sums[2 * j + 1][offsets])
            table = _exact_ranked(index, query, selection, mode, k, given=sides)
            answers[at] = SearchResult(table=table, **common)
    return answers


def membership(
    sets: Sequence[NDArray[np.int64]],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """The inputs of `compiled.many_rank_sums` for gene sets (rows): the genes any set holds,
    sorted, and for gene i the sets holding it, targets[starts[i]:starts[i + 1]]."""
    members: dict[int, list[int]] = {}
    for target, rows in enumerate(sets):
        for row in rows:
            members.setdefault(int(row), []).append(target)
    genes = np.array(sorted(members), dtype=np.int64)
    starts = np.zeros(genes.size + 1, dtype=np.int64)
    starts[1:] = np.cumsum([len(members[int(g)]) for g in genes])
    targets = np.array([t for g in genes for t in members[int(g)]], dtype=np.int64)
    return genes, starts, targets


def _block_sums(
    index: SearchIndex, queries: Sequence[GeneQuery], start: int, stop: int
) -> NDArray[np.uint32]:
    """(2 x len(queries), stop - start): each query's up sums then its down sums (0 where a
    side is empty)."""
    sides = [rows for query in queries for rows in (query.up, query.down)]
    out = np.empty((len(sides), max(0, stop - start)), dtype=np.uint32)
    if out.size:
        compiled.many_rank_sums(index.ranks, *membership(sides), start, stop, out)
    return out

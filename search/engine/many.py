"""Many queries at once, exactly: a block of queries' rank sums in one pass over the rank matrix.

`search_many(index, queries, ...)` answers what `index.search(..., path="exact")` answers for each
query, with the same integers, z, p and FDR (tests/engine/test_many.py checks it bit for bit). The
queries are taken a block at a time; `tiles.tile_rank_sums` sums every side of the block tile by
tile (each rank read from memory once per block), the index's threads each taking a share of the
signatures. Then, by default, each query is ranked from its sums over the whole selection by the
exact path's own code (`searching._exact_ranked`), the threads taking queries in turn; blocks are
as large as SUMS_BYTES of sums allows (128 queries at 1,000,000 signatures).

stream=True bounds memory instead: SPAN signatures at a time, each query keeping a
`running.Running` (its candidates, largest |z| and fixed-bin counts: running.py says why that is
exact); a query whose FDR needs every signature sorted is summed again whole, and counted
(`ManyStats`). path="gpu" sums GPU_BLOCK queries at a time as integer products on the device
(`torch_gpu.DeviceRanks.many_sums`) and ranks each as the gpu path does.

Only the rank score; a query that cannot be scored gets its error in its place, the others still
run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from search.engine import scores
from search.engine.backends import tiles
from search.engine.errors import InvalidQueryError
from search.engine.metadata import Selection
from search.engine.query import MIN_GENES
from search.engine.results import SearchResult
from search.engine.running import Running
from search.engine.searching import (
    GeneQuery,
    _check_options,
    _device_ranked,
    _empty_table,
    _exact_ranked,
    answer_fields,
    gene_query,
    gpu_backend,
)

if TYPE_CHECKING:
    from search.engine.index import SearchIndex

QUERY_BLOCK = 1024  # queries summed together: a row of the rank matrix serves ~20 query sides
SPAN = 16_384  # signatures a thread sums for the whole block at a time when streaming
SUMS_BYTES = 1 << 30  # uint32 sums kept for a whole selection: 1 GiB at most (128 queries at 1M)
GPU_BLOCK = 256  # queries a block on the gpu path: their sums, 2 x 256 x N int32, on the device


@dataclass
class ManyStats:
    """What a search_many call did: streamed queries summed again with their sums kept whole,
    because an FDR needed every signature sorted (a pick's |z| below the largest kept, or a tail
    the fixed bins could not bound)."""

    run_alone: list[int] = field(default_factory=list)


def search_many(
    index: SearchIndex,
    queries: Sequence[tuple[Sequence[str], Sequence[str]]],
    *,
    mode: str = "both",
    filters: Mapping[str, object] | None = None,
    k: int = 100,
    min_genes: int = MIN_GENES,
    stats: ManyStats | None = None,
    stream: bool = False,
    path: str = "exact",
) -> list[SearchResult | InvalidQueryError]:
    """Each (up, down) query's SearchResult, or the InvalidQueryError it raised, in order.
    stream: stream a selection of scores.FULL_SORT_BELOW signatures or more (see above); path:
    "exact" or "gpu" (torch with a CUDA device)."""
    _check_options(mode, "rank", path, k)
    if path not in ("exact", "gpu"):
        raise InvalidQueryError(f"search_many runs the exact or gpu path, not {path!r}")
    if path == "gpu" and gpu_backend(index) != "torch":
        raise InvalidQueryError("search_many's gpu path needs torch with a CUDA GPU")
    if index.in_shards is not None:  # a head: one by one, each scattered to its shards
        one_by_one: list[SearchResult | InvalidQueryError] = []
        for up, down in queries:
            try:
                one_by_one.append(
                    index.search(up, down, mode=mode, filters=filters, k=k, min_genes=min_genes)
                )
            except InvalidQueryError as error:
                one_by_one.append(error)
        return one_by_one
    selection = index.table.select(filters)
    report = index.table.filter_report(filters)
    stats = stats if stats is not None else ManyStats()
    answers: list[SearchResult | InvalidQueryError] = []
    resolved: list[tuple[int, GeneQuery]] = []
    for at, (up, down) in enumerate(queries):
        try:
            resolved.append((at, gene_query(index, up, down, min_genes=min_genes)))
            answers.append(InvalidQueryError("not run"))  # replaced below
        except InvalidQueryError as error:
            answers.append(error)
    streamed = stream and selection.size >= scores.FULL_SORT_BELOW and path == "exact"
    width = max(1, selection.stop - selection.start)
    block = QUERY_BLOCK if streamed else max(1, min(QUERY_BLOCK, SUMS_BYTES // (8 * width)))
    block = GPU_BLOCK if path == "gpu" else block
    for first in range(0, len(resolved), block):
        part = resolved[first : first + block]
        asked = [query for _, query in part]
        if selection.size == 0:
            tables = [_empty_table(index, "rank") for _ in part]
        elif path == "gpu":
            tables = _device_tables(index, asked, selection, mode, k)
        elif streamed:
            tables = _streamed_tables(index, asked, selection, mode, k, stats)
            again = [j for j in range(len(part)) if tables[j] is None]
            stats.run_alone.extend(part[j][0] for j in again)
            whole = max(1, SUMS_BYTES // (8 * width))  # their sums kept whole, in smaller blocks
            for some in (again[i : i + whole] for i in range(0, len(again), whole)):
                redone = _whole_tables(index, [asked[j] for j in some], selection, mode, k)
                for j, table in zip(some, redone, strict=True):
                    tables[j] = table
        else:
            tables = _whole_tables(index, asked, selection, mode, k)
        for (at, query), table in zip(part, tables, strict=True):
            assert table is not None  # every streamed query needing the full sort was redone
            common = answer_fields(index, query, selection, mode, "rank", path, report)
            answers[at] = SearchResult(table=table, **common)
    return answers


def _whole_tables(
    index: SearchIndex, queries: list[GeneQuery], selection: Selection, mode: str, k: int
) -> list[pd.DataFrame | None]:
    """Every query ranked from its sums over the whole selection."""
    sums = block_sums(index, queries, selection.start, selection.stop)
    offsets = selection.positions - selection.start
    tables: list[pd.DataFrame | None] = [None] * len(queries)

    def rank(j: int) -> None:
        given = (sums[2 * j][offsets], sums[2 * j + 1][offsets])
        tables[j] = _exact_ranked(index, queries[j], selection, mode, k, given=given)

    threads = max(1, min(index.threads, len(queries)))

    def share(thread: int) -> None:  # the keys, top k and FDR of every threads-th query
        for j in range(thread, len(queries), threads):
            rank(j)

    _each(threads, share)
    return tables


def _device_tables(
    index: SearchIndex, queries: list[GeneQuery], selection: Selection, mode: str, k: int
) -> list[pd.DataFrame | None]:
    """Every query's sums in one set of device products, then each ranked on the device."""
    sides = [rows for query in queries for rows in (query.up, query.down)]
    sums = index.device_ranks().many_sums(sides, selection)
    return [
        _device_ranked(index, query, selection, mode, k, given=(sums[2 * j], sums[2 * j + 1]))
        for j, query in enumerate(queries)
    ]


def side_layout(
    sets: Sequence[NDArray[np.int64]],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """The inputs of `tiles.tile_rank_sums` for gene sets (rows of the matrix): the genes any set
    holds (sorted), where each set starts in `rows`, and each set's genes as places in the first."""
    every = np.concatenate([np.empty(0, dtype=np.int64), *sets]).astype(np.int64)
    used = np.unique(every).astype(np.int64)
    starts = np.zeros(len(sets) + 1, dtype=np.int64)
    starts[1:] = np.cumsum([len(rows) for rows in sets])
    return used, starts, np.searchsorted(used, every).astype(np.int64)


def block_sums(
    index: SearchIndex, queries: Sequence[GeneQuery], start: int, stop: int
) -> NDArray[np.uint32]:
    """(2 x len(queries), stop - start): each query's up sums then its down sums (0 where a
    side is empty), the columns shared among the index's threads."""
    sides = [rows for query in queries for rows in (query.up, query.down)]
    out = np.empty((len(sides), max(0, stop - start)), dtype=np.uint32)
    layout = side_layout(sides)
    cuts = _cuts(start, stop, index.threads)

    def part(i: int) -> None:
        lo, hi = cuts[i], cuts[i + 1]
        tiles.tile_rank_sums(index.ranks, *layout, lo, hi, out[:, lo - start : hi - start])

    _each(len(cuts) - 1, part)
    return out


def _cuts(start: int, stop: int, parts: int) -> list[int]:
    """Column bounds of up to `parts` pieces of [start, stop), on tile boundaries."""
    step = -(-(stop - start) // max(1, parts) // tiles.TILE) * tiles.TILE or tiles.TILE
    return [*range(start, stop, step), stop] if stop > start else [start, stop]


def _each(n: int, work: Callable[[int], None]) -> None:
    """work(0), ..., work(n - 1), side by side in threads when n > 1 (the kernels release the
    GIL)."""
    if n <= 1:
        for i in range(n):
            work(i)
        return
    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(work, range(n)))


def _streamed_tables(
    index: SearchIndex,
    queries: list[GeneQuery],
    selection: Selection,
    mode: str,
    k: int,
    stats: ManyStats,
) -> list[pd.DataFrame | None]:
    """Every query ranked from its running candidates, top |z| and histograms over the spans
    (None where its FDR needs every signature sorted)."""
    keep = scores.largest_read(k)
    spans = list(range(selection.start, selection.stop, SPAN))
    threads = max(1, min(index.threads, len(spans)))
    runs = [[Running.empty() for _ in queries] for _ in range(threads)]
    layout = side_layout([rows for query in queries for rows in (query.up, query.down)])

    def work(thread: int) -> None:
        for lo in spans[thread::threads]:
            hi = min(lo + SPAN, selection.stop)
            sums = np.empty((2 * len(queries), hi - lo), dtype=np.uint32)
            tiles.tile_rank_sums(index.ranks, *layout, lo, hi, sums)
            first, last = np.searchsorted(selection.positions, [lo, hi])
            offsets = selection.positions[first:last] - lo
            if offsets.size == 0:
                continue
            places = np.arange(first, last, dtype=np.int64)
            dense = offsets.size == hi - lo
            for j, query in enumerate(queries):
                up, down = (
                    (sums[2 * j], sums[2 * j + 1])
                    if dense
                    else (
                        sums[2 * j][offsets],
                        sums[2 * j + 1][offsets],
                    )
                )
                runs[thread][j].add(index.n_genes, query, mode, k, keep, places, up, down)

    _each(threads, work)
    tables: list[pd.DataFrame | None] = []
    for j, query in enumerate(queries):
        run = Running.merged([runs[t][j] for t in range(threads)], k, keep)
        tables.append(run.table(index, query, selection, mode, k))
    return tables

"""The many-query kernel (numba): the rank sums of a block of gene sets, tile by tile.

`tile_rank_sums` copies a tile of TILE columns of every gene the sets hold into one contiguous
buffer (23,614 genes x 128 columns of uint16 = 6 MB, held in the L3 cache), then sums each set's
rows of the tile sixteen at a time, pairs added in uint16 as `compiled.rank_sums` does. Each rank
is read from memory once per block of sets instead of once per set; what remains is one add per
gene, set and signature, read from the cache. Exact: the uint32 sums are `compiled.rank_sums`'s,
set by set (tests/engine/test_many.py).

`add_histogram` counts values into fixed bins, for the FDR's tail bound of a search streamed span
by span (search/engine/many.py).
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from search.engine.backends.compiled import sixteen

TILE = 128  # columns a tile: 256 bytes of each gene's row

_jit = numba.njit(nogil=True, cache=True, boundscheck=False)


@_jit
def tile_rank_sums(
    matrix: NDArray[np.uint16],
    used: NDArray[np.int64],
    starts: NDArray[np.int64],
    rows: NDArray[np.int64],
    start: int,
    stop: int,
    out: NDArray[np.uint32],
) -> None:  # pragma: no cover - compiled
    """out[s, j - start] = sum of matrix[used[r], j] over r in rows[starts[s]:starts[s + 1]], for
    j in [start, stop): set s's rows given as places in `used` (the genes any set holds). matrix
    uint16 (G, N) with values <= 32767, out uint32 (sets, stop - start)."""
    tile = np.zeros((used.size, TILE), dtype=np.uint16)
    acc = np.empty(TILE, dtype=np.uint32)
    for lo in range(start, stop, TILE):
        width = min(TILE, stop - lo)
        for u in range(used.size):
            source = matrix[used[u], lo : lo + width]
            target = tile[u]
            for j in range(width):
                target[j] = source[j]
        for s in range(starts.size - 1):
            acc[:] = 0
            i, end = starts[s], starts[s + 1]
            while i + 16 <= end:
                r0, r1, r2, r3 = (
                    tile[rows[i]],
                    tile[rows[i + 1]],
                    tile[rows[i + 2]],
                    tile[rows[i + 3]],
                )
                r4, r5, r6, r7 = (
                    tile[rows[i + 4]],
                    tile[rows[i + 5]],
                    tile[rows[i + 6]],
                    tile[rows[i + 7]],
                )
                r8, r9, r10, r11 = (
                    tile[rows[i + 8]],
                    tile[rows[i + 9]],
                    tile[rows[i + 10]],
                    tile[rows[i + 11]],
                )
                r12, r13, r14, r15 = (
                    tile[rows[i + 12]],
                    tile[rows[i + 13]],
                    tile[rows[i + 14]],
                    tile[rows[i + 15]],
                )
                for j in range(TILE):
                    acc[j] += sixteen(
                        r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14, r15, j
                    )
                i += 16
            while i < end:
                row = tile[rows[i]]
                for j in range(TILE):
                    acc[j] += np.uint32(row[j])
                i += 1
            sums = out[s, lo - start : lo - start + width]
            for j in range(width):
                sums[j] = acc[j]


@_jit
def add_histogram(
    values: NDArray[np.float64], per_unit: float, counts: NDArray[np.int64]
) -> None:  # pragma: no cover - compiled
    """counts[min(floor(v * per_unit), counts.size - 1)] += 1 for each value v >= 0."""
    last = counts.size - 1
    for v in values:
        b = v * per_unit
        counts[last if b >= last else int(b)] += 1

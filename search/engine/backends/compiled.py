"""Compiled loops (numba) for the exact path's hot spots, where numpy's one-operation-a-pass
would read or write the data several times.

- `rank_sums`: a gene set's rank sums over a column span of the gene-major uint16 matrix. The span
  is cut into blocks of BLOCK columns whose uint32 sums stay in the L1 cache while the set's rows
  stream past GROUP at a time; two ranks add in uint16 without overflow (G <= 32767), so a group
  costs 8 widenings instead of 16, and the loop runs at the memory bandwidth.
- `rank_sums_at`: the same over scattered columns (a sparse filter, or the fast mode's
  candidates), eight rows at a time so that the scattered loads overlap.
- `z_sum_keys`: the ranking key of every signature (|z_sum|, z_sum or -z_sum) and each side's |z|
  straight from the two sums, in one pass and with the same float64 operations as
  `scores.set_z`, so the keys are the reference's bit for bit.
- `row_products`: inner products of a query with scattered rows of a matrix (the fast mode's
  shortlist against the stored embedding), without copying the rows.
- `largest`: the positions of the m largest values by a size-m heap: one pass, no copy (numpy's
  partition copies and moves the whole array); `top_candidates`, every value at least the m-th
  largest, from it.
Every function releases the GIL, so the engine's threads run them side by side. Compiled on first
use and cached beside this file (numba's cache; a read-only install compiles once per process).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

BLOCK = 8192  # columns a block: 32 KB of uint32 sums
GROUP = 16  # rows added to the sums per pass over a block (eight uint16 pairs)

_jit = numba.njit(nogil=True, cache=True, boundscheck=False)


@_jit
def rank_sums(
    matrix: NDArray[np.uint16],
    genes: NDArray[np.int64],
    start: int,
    stop: int,
    out: NDArray[np.uint32],
) -> None:  # pragma: no cover - compiled
    """out[j - start] = sum over genes g of matrix[g, j], j in [start, stop); matrix uint16
    (G, N) with values <= 32767, genes int64, out uint32 (stop - start)."""
    n = genes.size
    for lo in range(start, stop, BLOCK):
        hi = min(lo + BLOCK, stop)
        acc = out[lo - start : hi - start]
        acc[:] = 0
        i = 0
        while i + GROUP <= n:
            r0, r1, r2, r3 = (
                matrix[genes[i], lo:hi],
                matrix[genes[i + 1], lo:hi],
                matrix[genes[i + 2], lo:hi],
                matrix[genes[i + 3], lo:hi],
            )
            r4, r5, r6, r7 = (
                matrix[genes[i + 4], lo:hi],
                matrix[genes[i + 5], lo:hi],
                matrix[genes[i + 6], lo:hi],
                matrix[genes[i + 7], lo:hi],
            )
            r8, r9, r10, r11 = (
                matrix[genes[i + 8], lo:hi],
                matrix[genes[i + 9], lo:hi],
                matrix[genes[i + 10], lo:hi],
                matrix[genes[i + 11], lo:hi],
            )
            r12, r13, r14, r15 = (
                matrix[genes[i + 12], lo:hi],
                matrix[genes[i + 13], lo:hi],
                matrix[genes[i + 14], lo:hi],
                matrix[genes[i + 15], lo:hi],
            )
            for j in range(hi - lo):
                acc[j] += sixteen(
                    r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14, r15, j
                )
            i += GROUP
        while i < n:
            row = matrix[genes[i], lo:hi]
            for j in range(hi - lo):
                acc[j] += np.uint32(row[j])
            i += 1


@numba.njit(inline="always")
def sixteen(
    r0: NDArray[np.uint16],
    r1: NDArray[np.uint16],
    r2: NDArray[np.uint16],
    r3: NDArray[np.uint16],
    r4: NDArray[np.uint16],
    r5: NDArray[np.uint16],
    r6: NDArray[np.uint16],
    r7: NDArray[np.uint16],
    r8: NDArray[np.uint16],
    r9: NDArray[np.uint16],
    r10: NDArray[np.uint16],
    r11: NDArray[np.uint16],
    r12: NDArray[np.uint16],
    r13: NDArray[np.uint16],
    r14: NDArray[np.uint16],
    r15: NDArray[np.uint16],
    j: int,
) -> np.uint32:  # pragma: no cover - compiled
    """Sixteen rows' values at column j, added in eight uint16 pairs, then widened and summed."""
    return (
        (pair_sum(r0[j], r1[j]) + pair_sum(r2[j], r3[j]))
        + (pair_sum(r4[j], r5[j]) + pair_sum(r6[j], r7[j]))
        + (pair_sum(r8[j], r9[j]) + pair_sum(r10[j], r11[j]))
        + (pair_sum(r12[j], r13[j]) + pair_sum(r14[j], r15[j]))
    )


@numba.njit(inline="always")
def pair_sum(a: np.uint16, b: np.uint16) -> np.uint32:  # pragma: no cover - compiled
    """Two uint16 ranks added in 16 bits (no overflow below 32768), then widened."""
    return np.uint32(np.uint16(a + b))


@_jit
def rank_sums_at(
    matrix: NDArray[np.uint16],
    genes: NDArray[np.int64],
    positions: NDArray[np.int64],
    out: NDArray[np.uint32],
) -> None:  # pragma: no cover - compiled
    """out[j] = sum over genes g of matrix[g, positions[j]] (positions sorted int64). Eight rows
    a pass, so that eight independent loads are in flight for each column."""
    n = genes.size
    for lo in range(0, positions.size, BLOCK):
        hi = min(lo + BLOCK, positions.size)
        at = positions[lo:hi]
        acc = out[lo:hi]
        acc[:] = 0
        i = 0
        while i + 8 <= n:
            r0, r1, r2, r3 = (
                matrix[genes[i]],
                matrix[genes[i + 1]],
                matrix[genes[i + 2]],
                matrix[genes[i + 3]],
            )
            r4, r5, r6, r7 = (
                matrix[genes[i + 4]],
                matrix[genes[i + 5]],
                matrix[genes[i + 6]],
                matrix[genes[i + 7]],
            )
            for j in range(hi - lo):
                p = at[j]
                acc[j] += (pair_sum(r0[p], r1[p]) + pair_sum(r2[p], r3[p])) + (
                    pair_sum(r4[p], r5[p]) + pair_sum(r6[p], r7[p])
                )
            i += 8
        while i < n:
            row = matrix[genes[i]]
            for j in range(hi - lo):
                acc[j] += np.uint32(row[at[j]])
            i += 1


@_jit
def z_sum_keys(
    sum_up: NDArray[np.uint32],
    sum_down: NDArray[np.uint32],
    up: NDArray[np.float64],
    down: NDArray[np.float64],
    sign: int,
    out: NDArray[np.float64],
    abs_up: NDArray[np.float64],
    abs_down: NDArray[np.float64],
) -> None:  # pragma: no cover
    """out = key of z_sum = z_up - z_down, z_set = (S - centre) / sd as in scores.set_z (a side
    with no genes counts 0). up, down: (has genes, centre, sd); sign 0: |z_sum| ("both"),
    1: z_sum ("mimic"), -1: -z_sum ("reverse"). abs_up, abs_down = |z_up|, |z_down| (for the
    per-side FDR; 0 for a side with no genes)."""
    for j in range(out.size):
        z_up = (np.float64(sum_up[j]) - up[1]) / up[2] if up[0] else 0.0
        z_down = (np.float64(sum_down[j]) - down[1]) / down[2] if down[0] else 0.0
        z = z_up - z_down
        out[j] = abs(z) if sign == 0 else sign * z
        abs_up[j] = abs(z_up)
        abs_down[j] = abs(z_down)


@numba.njit(nogil=True, cache=True, boundscheck=False, fastmath=True)  # vectorized sums
def row_products(
    matrix: NDArray[np.float32],
    rows: NDArray[np.int64],
    query: NDArray[np.float32],
    out: NDArray[np.float32],
) -> None:  # pragma: no cover - compiled
    """out[i] = matrix[rows[i]] . query in float32 (0 where rows[i] < 0); matrix (N, d)."""
    for i in range(rows.size):
        total = np.float32(0.0)
        if rows[i] >= 0:
            row = matrix[rows[i]]
            for j in range(query.size):
                total += row[j] * query[j]
        out[i] = total


@_jit
def largest(values: NDArray[np.floating[Any]], m: int) -> NDArray[np.intp]:  # pragma: no cover
    """Positions of the m largest values (any order; which of equal values at the boundary is
    unspecified), 0 < m <= values.size."""
    heap = values[:m].copy()
    where = np.arange(m)
    for i in range(m // 2 - 1, -1, -1):
        _sift(heap, where, i)
    for j in range(m, values.size):
        if values[j] > heap[0]:
            heap[0] = values[j]
            where[0] = j
            _sift(heap, where, 0)
    return where


def top_candidates(values: NDArray[np.floating[Any]], m: int) -> NDArray[np.intp]:
    """Positions (ascending) of every value at least the m-th largest: the top m, ties included."""
    if m >= values.size:
        return np.arange(values.size)
    return np.flatnonzero(values >= values[largest(values, m)].min())


@numba.njit(inline="always")
def _sift(
    heap: NDArray[np.floating[Any]], where: NDArray[np.intp], i: int
) -> None:  # pragma: no cover - compiled
    """Restore the min-heap below i."""
    m = heap.size
    while True:
        low, left = i, 2 * i + 1
        if left < m and heap[left] < heap[low]:
            low = left
        if left + 1 < m and heap[left + 1] < heap[low]:
            low = left + 1
        if low == i:
            return
        heap[i], heap[low] = heap[low], heap[i]
        where[i], where[low] = where[low], where[i]
        i = low

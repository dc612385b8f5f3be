"""The ranks of float32 signatures by a radix sort (numba), for the index build.

`float32_ranks`: a float32's bits, with the sign bit flipped for positives and every bit flipped
for negatives, are an unsigned key in the numbers' order (-0.0 is taken as +0.0 first, so the two
tie as they compare). Three stable passes of 11 bits sort a row of G keys in 6 G steps, where a
comparison sort takes about G log2 G; being stable, it keeps tied values in gene order, which is
the order `build.ranks_of` defines. A tied run takes its largest rank, as SigCom LINCS's rank
files do.

Releases the GIL: the build's threads rank their blocks side by side.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

DIGIT = 11  # bits a pass
PASSES = 3  # 3 x 11 >= 32
BUCKETS = 1 << DIGIT
MASK = BUCKETS - 1
SIGN = 0x80000000
ALL = 0xFFFFFFFF


def float32_ranks(values: NDArray[np.float32]) -> tuple[NDArray[np.uint16], NDArray[np.int64]]:
    """(ranks, order) of each row of values (c, G), G <= 65,535: ranks 1 = smallest ... G with
    ties at their run's largest rank, and the stable sort order (ties in gene order). The values
    must be finite (the caller checks)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    ranks = np.empty(bits.shape, dtype=np.uint16)
    order = np.empty(bits.shape, dtype=np.int64)
    _rank_rows(bits, ranks, order)
    return ranks, order


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _rank_rows(
    bits: NDArray[np.uint32], ranks: NDArray[np.uint16], order: NDArray[np.int64]
) -> None:  # pragma: no cover - compiled
    n_rows, n = bits.shape
    keys = np.empty(n, dtype=np.uint32)
    spare_keys = np.empty(n, dtype=np.uint32)
    at = np.empty(n, dtype=np.int64)
    spare_at = np.empty(n, dtype=np.int64)
    counts = np.zeros((PASSES, BUCKETS), dtype=np.int64)
    for row in range(n_rows):
        counts[:] = 0
        for j in range(n):
            b = np.int64(bits[row, j])
            if b == SIGN:  # -0.0 ties with +0.0
                b = np.int64(0)
            key = b ^ ALL if b >= SIGN else b | SIGN
            keys[j] = key
            at[j] = j
            for p in range(PASSES):
                counts[p, (key >> (p * DIGIT)) & MASK] += 1
        for p in range(PASSES):
            total = 0
            for d in range(BUCKETS):
                size = counts[p, d]
                counts[p, d] = total
                total += size
        source_keys, source_at, target_keys, target_at = keys, at, spare_keys, spare_at
        for p in range(PASSES):
            shift = p * DIGIT
            for j in range(n):
                moved = np.int64(source_keys[j])
                digit = (moved >> shift) & MASK
                place = counts[p, digit]
                counts[p, digit] = place + 1
                target_keys[place] = moved
                target_at[place] = source_at[j]
            source_keys, target_keys = target_keys, source_keys
            source_at, target_at = target_at, source_at
        run_end = n - 1
        for i in range(n - 1, -1, -1):
            if i < n - 1 and source_keys[i] != source_keys[i + 1]:
                run_end = i
            ranks[row, source_at[i]] = run_end + 1
            order[row, i] = source_at[i]

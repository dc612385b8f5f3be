"""Many queries at once: the block kernel's rank sums against the same queries one by one.

A gene-major uint16 rank matrix of G = 23,614 genes x N signatures (each column a random
permutation of 1..G, as an index stores ranks) and Q queries of 2 x 250 random genes. Measured in
one process, one thread:
- one by one: `compiled.rank_sums` of each side of each query over all N (the exact path's
  gather, what a batch search runs today, query after query);
- block kernel: `compiled.many_rank_sums` over blocks of QUERY_BLOCK queries (search/engine/
  many.py), each gene's row read once per block;
- the arithmetic floor: uint32 += uint16 adds a second of numpy over the same rows (one long
  vectorized add), the rate an add-bound kernel cannot beat on one core.
Both kernels give the same integers (checked here on every query). Queries per minute count the
rank sums only: each query's ranking (keys, top k, FDR: one pass over N, as the exact path) comes
on top and is measured as "ranking" per query. At N = 1,000,000 the sums scale linearly in N.

Run: python -m benchmarks.batch [--signatures 100000] [--queries 256]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from benchmarks.common import machine, markdown
from search.engine.backends import compiled
from search.engine.many import QUERY_BLOCK, membership

N_GENES, SIDE = 23_614, 250


def rank_matrix(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    matrix = np.empty((N_GENES, n), dtype=np.uint16)
    for start in range(0, n, 2000):
        stop = min(n, start + 2000)
        keys = rng.random((stop - start, N_GENES))
        matrix[:, start:stop] = (np.argsort(np.argsort(keys, axis=1), axis=1) + 1).T
    return matrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=256)
    args = parser.parse_args()
    n, q = args.signatures, args.queries
    started = time.perf_counter()
    matrix = rank_matrix(n)
    made = time.perf_counter() - started
    rng = np.random.default_rng(1)
    sides = [
        np.sort(rng.choice(N_GENES, SIDE, replace=False)).astype(np.int64) for _ in range(2 * q)
    ]
    out = np.empty(n, dtype=np.uint32)
    compiled.rank_sums(matrix, sides[0], 0, n, out)  # compile
    started = time.perf_counter()
    alone = []
    for rows in sides:
        compiled.rank_sums(matrix, rows, 0, n, out)
        alone.append(out.copy())
    one_by_one = time.perf_counter() - started
    block = np.empty((2 * QUERY_BLOCK, n), dtype=np.uint32)
    warm = membership(sides[:2])
    compiled.many_rank_sums(matrix, *warm, 0, n, block[:2])  # compile
    started = time.perf_counter()
    same = True
    for first in range(0, 2 * q, 2 * QUERY_BLOCK):
        part = sides[first : first + 2 * QUERY_BLOCK]
        compiled.many_rank_sums(matrix, *membership(part), 0, n, block[: len(part)])
        same &= all(np.array_equal(block[i], alone[first + i]) for i in range(len(part)))
    blocked = time.perf_counter() - started
    acc = np.zeros(n, dtype=np.uint32)
    started = time.perf_counter()
    for row in range(2000):
        np.add(acc, matrix[row], out=acc, casting="unsafe")
    floor = 2000 * n / (time.perf_counter() - started)
    keys = np.empty(n)
    up, down = np.array([1.0, 0.0, 1.0]), np.array([1.0, 0.0, 1.0])
    compiled.z_sum_keys(alone[0], alone[1], up, down, 0, keys, np.empty(n), np.empty(n))
    started = time.perf_counter()
    for j in range(0, min(2 * q, 64), 2):
        compiled.z_sum_keys(alone[j], alone[j + 1], up, down, 0, keys, np.empty(n), np.empty(n))
        compiled.top_candidates(keys, 100)
    ranking = (time.perf_counter() - started) / (min(2 * q, 64) // 2)
    adds = 2 * q * SIDE * n
    rows = [
        {
            "kernel": "one by one (compiled.rank_sums)",
            "seconds": one_by_one,
            "queries/min": 60 * q / one_by_one,
            "adds/s (G)": adds / one_by_one / 1e9,
            "of the floor": f"{adds / one_by_one / floor:.0%}",
            "ratio": "1.0x",
        },
        {
            "kernel": f"block kernel ({QUERY_BLOCK} queries a block)",
            "seconds": blocked,
            "queries/min": 60 * q / blocked,
            "adds/s (G)": adds / blocked / 1e9,
            "of the floor": f"{adds / blocked / floor:.0%}",
            "ratio": f"{one_by_one / blocked:.2f}x",
        },
        {
            "kernel": "floor: numpy uint32 += uint16",
            "seconds": "",
            "queries/min": "",
            "adds/s (G)": floor / 1e9,
            "of the floor": "100%",
            "ratio": "",
        },
        {
            "kernel": "ranking a query (keys + top 100)",
            "seconds": ranking,
            "queries/min": 60 / ranking,
            "adds/s (G)": "",
            "of the floor": "",
            "ratio": "",
        },
    ]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"{machine()}; {n:,} signatures x {N_GENES:,} genes ({made:.0f} s to make); {q} "
        f"queries of 2 x {SIDE} genes; one thread; same integers: {same}; peak RSS {peak:.1f} GB\n"
    )
    print(markdown(rows))


if __name__ == "__main__":
    main()

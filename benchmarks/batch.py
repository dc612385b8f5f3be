"""Many queries at once: `search_many` (the block kernel, streamed ranking and exact FDR) against
the same queries searched one by one, whole answers (top 100 with z, p and FDR) in both.

An index is written straight to --dir (default $SEARCH_BENCH_DIR or /tmp; deleted afterwards): a
gene-major uint16 rank matrix of --genes genes x --signatures signatures, each column a random
permutation of 1..G, and its metadata. Queries of 2 x 250 genes are the 250 highest and lowest
ranked genes of random signatures with 50 of each side swapped for random genes: each has a strong
hit, and the rest of the index is null. Measured in one process with the index's two threads (the
machine's cores):
- one by one: `index.search(up, down, k=100, path="exact")` for --alone queries (the baseline: what
  a batch ran before, query after query), as queries a minute;
- search_many: all --queries queries in blocks of many.QUERY_BLOCK; each answer is compared with
  the one-by-one answer where there is one (equal tables, bit for bit), and the queries run alone
  because their FDR needed every signature sorted are counted;
- the rank sums alone (`many.block_sums` of one block, two threads), as adds a second;
- the arithmetic floor: uint32 += uint16 adds a second of numpy (one long vectorized add, one
  thread, times two for the two cores), the rate a kernel that reads its ranks from memory as
  numpy does cannot beat.
Peak memory: the process's peak RSS after each step (the rank matrix is in it), and the Python heap
peak of each step (tracemalloc: numpy's buffers, not numba's tile of 6 MB a thread).

Run: python -m benchmarks.batch [--signatures 1000000] [--genes 5000] [--queries 1024]
[--alone 64] [--dir D]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import machine, markdown
from search.engine import many
from search.engine.index import SearchIndex
from search.engine.metadata import write_metadata
from search.engine.searching import gene_query

SIDE, SWAPPED, K = 250, 50, 100


def write_index(folder: Path, n_genes: int, n: int, seed: int = 0) -> SearchIndex:
    """A minimal index (genes, metadata, ranks, a one-gene top_genes) of random permutations."""
    rng = np.random.default_rng(seed)
    genes = [f"G{g:05d}" for g in range(n_genes)]
    (folder / "genes.txt").write_text("".join(f"{g}\n" for g in genes), encoding="utf-8")
    write_metadata(
        folder / "metadata.h5",
        pd.DataFrame(
            {
                "sig_id": [f"S{i:07d}" for i in range(n)],
                "pert_type": np.array(["trt_cp", "trt_sh"])[rng.integers(0, 2, n)],
                "cell_id": np.array(["A375", "MCF7", "PC3"])[rng.integers(0, 3, n)],
            }
        ),
    )
    ranks = np.lib.format.open_memmap(folder / "ranks.npy", "w+", np.uint16, (n_genes, n))
    base = np.arange(1, n_genes + 1, dtype=np.uint16)
    for start in range(0, n, 8192):
        stop = min(n, start + 8192)
        ranks[:, start:stop] = rng.permuted(np.tile(base, (stop - start, 1)), axis=1).T
    ranks.flush()
    del ranks
    np.save(folder / "top_genes.npy", np.zeros((n, 2, 1), dtype=np.uint16))
    manifest = {"version": "batch-benchmark", "n_signatures": n}
    index = SearchIndex(folder, manifest, threads=2)
    index.ranks = np.asarray(np.load(folder / "ranks.npy"))  # in memory, as a serving process's
    return index


def queries(index: SearchIndex, count: int, seed: int = 1) -> list[tuple[list[str], list[str]]]:
    rng = np.random.default_rng(seed)
    asked = []
    for column in rng.integers(0, index.n_signatures, count):
        order = np.argsort(index.ranks[:, column])
        up, down = order[::-1][:SIDE].copy(), order[:SIDE].copy()
        others = np.setdiff1d(np.arange(index.n_genes), np.concatenate([up, down]))
        swapped = rng.choice(others, 2 * SWAPPED, replace=False)
        up[:SWAPPED], down[:SWAPPED] = swapped[:SWAPPED], swapped[SWAPPED:]
        asked.append(([index.genes[g] for g in up], [index.genes[g] for g in down]))
    return asked


def timed(step: str, run, peaks: dict[str, tuple[float, float]]):  # type: ignore[no-untyped-def]
    tracemalloc.start()
    started = time.perf_counter()
    out = run()
    seconds = time.perf_counter() - started
    heap = tracemalloc.get_traced_memory()[1] / 2**30
    tracemalloc.stop()
    peaks[step] = (heap, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    return out, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=1_000_000)
    parser.add_argument("--genes", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=1024)
    parser.add_argument("--alone", type=int, default=64)
    parser.add_argument("--dir", default=os.environ.get("SEARCH_BENCH_DIR", "/tmp"))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="batch-bench-", dir=args.dir))
    try:
        run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, folder: Path) -> None:
    n, q = args.signatures, args.queries
    started = time.perf_counter()
    index = write_index(folder, args.genes, n)
    made = time.perf_counter() - started
    asked = queries(index, q)
    peaks: dict[str, tuple[float, float]] = {}
    index.search(*asked[0], k=K, path="exact")  # compile
    many.search_many(index, asked[:2], k=K)
    many.search_many(index, asked[:2], k=K, stream=False)
    alone, one_by_one = timed(
        "one by one",
        lambda: [index.search(up, down, k=K, path="exact") for up, down in asked[: args.alone]],
        peaks,
    )
    stats = many.ManyStats()
    found, batched = timed(
        "search_many", lambda: many.search_many(index, asked, k=K, stats=stats, stream=True), peaks
    )
    whole, unstreamed = timed(
        "search_many, whole", lambda: many.search_many(index, asked, k=K, stream=False), peaks
    )
    same = all(
        isinstance(answer, type(expected)) and answer.table.equals(expected.table)
        for answer, expected in zip(found, alone, strict=False)
    ) and all(a.table.equals(b.table) for a, b in zip(found, whole, strict=True))
    block = [gene_query(index, up, down) for up, down in asked[: many.QUERY_BLOCK]]
    _, summing = timed("rank sums of a block", lambda: many.block_sums(index, block, 0, n), peaks)
    acc = np.zeros(n, dtype=np.uint32)
    started = time.perf_counter()
    rows = min(200, args.genes)
    for row in range(rows):
        np.add(acc, index.ranks[row], out=acc, casting="unsafe")
    floor = 2 * rows * n / (time.perf_counter() - started)
    adds_one = 2 * SIDE * n
    summed = 2 * SIDE * n * len(block)
    table = [
        _row("one by one (index.search, exact)", args.alone, one_by_one, 1.0, peaks["one by one"]),
        _row(
            f"search_many, streamed ({many.QUERY_BLOCK} a block)",
            q,
            batched,
            0,
            peaks["search_many"],
        ),
        _row("search_many, sums kept whole", q, unstreamed, 0, peaks["search_many, whole"]),
        {
            "step": f"rank sums of {len(block)} queries (many.block_sums)",
            "queries": len(block),
            "seconds": summing,
            "queries/min": 60 * len(block) / summing,
            "adds/s (G)": summed / summing / 1e9,
            "of the floor": f"{summed / summing / floor:.0%}",
            "ratio": "",
            "heap peak (GB)": peaks["rank sums of a block"][0],
            "RSS peak (GB)": peaks["rank sums of a block"][1],
        },
        {
            "step": "floor: numpy uint32 += uint16, x2 cores",
            "queries": "",
            "seconds": "",
            "queries/min": "",
            "adds/s (G)": floor / 1e9,
            "of the floor": "100%",
            "ratio": "",
            "heap peak (GB)": "",
            "RSS peak (GB)": "",
        },
    ]
    base = 60 * args.alone / one_by_one
    table[1]["ratio"] = f"{60 * q / batched / base:.2f}x"
    table[2]["ratio"] = f"{60 * q / unstreamed / base:.2f}x"
    for line in table[:3]:
        line["adds/s (G)"] = adds_one * float(line["queries/min"]) / 60 / 1e9  # type: ignore[arg-type]
        line["of the floor"] = f"{float(line['adds/s (G)']) * 1e9 / floor:.0%}"  # type: ignore[arg-type]
    print(
        f"{machine()}; {n:,} signatures x {args.genes:,} genes ({made:.0f} s to write); queries "
        f"of 2 x {SIDE} genes, top {K}; index threads 2; the first {args.alone} answers of "
        f"search_many equal one by one: {same}; run alone for their FDR: {len(stats.run_alone)} "
        f"of {q}\n"
    )
    print(markdown(table))


def _row(step: str, count: int, seconds: float, ratio: float, peak: tuple[float, float]) -> dict:  # type: ignore[type-arg]
    return {
        "step": step,
        "queries": count,
        "seconds": seconds,
        "queries/min": 60 * count / seconds,
        "adds/s (G)": 0.0,
        "of the floor": "",
        "ratio": f"{ratio:.2f}x" if ratio else "",
        "heap peak (GB)": peak[0],
        "RSS peak (GB)": peak[1],
    }


if __name__ == "__main__":
    main()

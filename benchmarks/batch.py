"""Many queries at once: `search_many` (the tile kernel, then each query's ranking and exact FDR)
against the same queries searched one by one; whole answers (top 100 with z, p and FDR) in both.

An index is written straight to --dir (default $SEARCH_BENCH_DIR or /tmp; deleted afterwards): a
gene-major uint16 rank matrix of --genes genes x --signatures signatures, each column a random
permutation of 1..G, and its metadata. Queries of 2 x 250 genes are the 250 highest and lowest
ranked genes of random signatures with 50 of each side swapped for random genes: each has a strong
hit, and the rest of the index is null (the hard case for an exact FDR). One process, the index's
two threads (the machine's cores):
- one by one: `index.search(up, down, k=100, path="exact")` for --alone queries: the baseline,
  what a batch ran before, query after query;
- search_many with each query's sums kept whole (the default), then streamed span by span; their
  answers are compared with the one-by-one answers (the first --alone) and with each other (all),
  table for table; the streamed queries summed again because an FDR needed every signature are
  counted;
- the rank sums alone (`many.block_sums` of one block of many.QUERY_BLOCK queries);
- where torch sees a CUDA device: search_many on the GPU (`path="gpu"`: the sums as exact int8
  products, each query ranked on the device), after the ranks are loaded there (timed apart), its
  answers compared with the CPU's table for table, and the time 5,000 queries would take;
- the arithmetic floor: adds a second of `compiled.rank_sums` over 16 rows held in the cache (what
  the adds cost when reading the ranks costs nothing), times two cores. "of the floor" is each
  step's adds a second (2 x 250 x N a query) against it.
Memory: the process's peak RSS after each step (the rank matrix is in it) and the Python heap's
peak during it (tracemalloc: numpy's buffers, not numba's tile of 6 MB a thread).

With --library GMT (gzipped or not), the queries are instead a real library's sets, each an
up-only query as a batch reads it (GO Biological Process 2023: 5,407 sets of 5 to 2,028 genes):
its distinct genes are given distinct random genes of the index (so --genes must hold them), its
sets keep their sizes, and a set over the search's 2,000 genes a side is left out and counted;
--queries is then ignored. The adds a second count each query's own genes.

Run: python -m benchmarks.batch [--signatures 1000000] [--genes 5000] [--queries 1024]
[--alone 64] [--library GMT] [--dir D]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from benchmarks.common import machine, markdown, scratch_folder
from search.engine import many
from search.engine.backends import compiled
from search.engine.index import SearchIndex
from search.engine.metadata import write_metadata
from search.engine.query import MAX_GENES
from search.engine.searching import gene_query
from transform.io.gmt import read_gmt

SIDE, SWAPPED, K = 250, 50, 100
T = TypeVar("T")


def write_index(
    folder: Path, n_genes: int, n: int, seed: int = 0, *, values: bool = False
) -> SearchIndex:
    """A minimal index (genes, metadata, ranks, a one-gene top_genes) of random permutations;
    with `values`, also the cd score's values.npy (float32, in the order of the ranks: (rank -
    mean) / n_genes) and value_stats.npy, as a build with store_values writes them."""
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
    if values:
        _write_values(folder, n_genes, n)
    manifest = {"version": "batch-benchmark", "n_signatures": n}
    index = SearchIndex(folder, manifest, threads=2)
    index.ranks = np.asarray(np.load(folder / "ranks.npy"))  # in memory, as a serving process's
    return index


def _write_values(folder: Path, n_genes: int, n: int) -> None:
    """values.npy from ranks.npy, block by block (each signature's values a shifted, scaled copy
    of its ranks), and each signature's mean and population variance of them."""
    ranks = np.load(folder / "ranks.npy", mmap_mode="r")
    out = np.lib.format.open_memmap(folder / "values.npy", "w+", np.float32, (n_genes, n))
    stats = np.empty((n, 2), dtype=np.float64)
    for start in range(0, n, 8192):
        block = (ranks[:, start : start + 8192].astype(np.float32) - (n_genes + 1) / 2) / n_genes
        out[:, start : start + block.shape[1]] = block
        stats[start : start + block.shape[1], 0] = block.mean(axis=0, dtype=np.float64)
        stats[start : start + block.shape[1], 1] = block.var(axis=0, dtype=np.float64)
    out.flush()
    del out
    np.save(folder / "value_stats.npy", stats)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=1_000_000)
    parser.add_argument("--genes", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=1024)
    parser.add_argument("--alone", type=int, default=64)
    parser.add_argument("--library", type=Path, help="a GMT library as the queries (up-only)")
    parser.add_argument("--dir", default=os.environ.get("SEARCH_BENCH_DIR", "/tmp"))
    args = parser.parse_args()
    with scratch_folder("batch-bench-", args.dir) as folder:
        run(args, folder)


def run(args: argparse.Namespace, folder: Path) -> None:
    n, q = args.signatures, args.queries
    started = time.perf_counter()
    index = write_index(folder, args.genes, n)
    made = time.perf_counter() - started
    asked, about = queries(index, q), f"queries of 2 x {SIDE} genes"
    if args.library:
        asked, left_out = library_queries(index, args.library)
        q = len(asked)
        about = (
            f"{q:,} queries of {args.library.name} (up-only, {_mean_genes(asked):.1f} genes on "
            f"average; {left_out} set(s) over {MAX_GENES} genes left out)"
        )
    index.search(*asked[0], k=K, path="exact")  # compile every kernel first
    many.search_many(index, asked[:2], k=K)
    many.search_many(index, asked[:2], k=K, stream=True)
    steps: list[Step] = []
    alone = steps_run(
        steps,
        "one by one (index.search, exact)",
        args.alone,
        lambda: [index.search(up, down, k=K, path="exact") for up, down in asked[: args.alone]],
    )
    whole = steps_run(
        steps, "search_many, sums kept whole", q, lambda: many.search_many(index, asked, k=K)
    )
    stats = many.ManyStats()
    streamed = steps_run(
        steps,
        f"search_many, streamed ({many.QUERY_BLOCK} a block)",
        q,
        lambda: many.search_many(index, asked, k=K, stats=stats, stream=True),
    )
    same = all(a.table.equals(b.table) for a, b in zip(whole, alone, strict=False))
    same &= all(a.table.equals(b.table) for a, b in zip(whole, streamed, strict=True))
    block = [gene_query(index, up, down) for up, down in asked[: many.QUERY_BLOCK]]
    steps_run(
        steps,
        "rank sums alone (many.block_sums)",
        len(block),
        lambda: many.block_sums(index, block, 0, n),
    )
    if _cuda():
        loaded = time.perf_counter()
        index.device_ranks()  # the rank matrix into device memory, once
        load_s = time.perf_counter() - loaded
        many.search_many(index, asked[:2], k=K, path="gpu")  # the kernels, once
        on_gpu = steps_run(
            steps,
            f"search_many on the GPU ({load_s:.0f} s to load the ranks, apart)",
            q,
            lambda: many.search_many(index, asked, k=K, path="gpu"),
        )
        same &= all(a.table.equals(b.table) for a, b in zip(whole, on_gpu, strict=True))
    floor = add_floor(threads=2)
    base = steps[0].per_minute
    table = [step.row(round(_mean_genes(asked) * n), floor, base) for step in steps]
    for row in table:
        if "GPU" in str(row["step"]):
            row["of in-cache"] = ""  # the floor is the CPU's
    table.append(
        {"step": "in-cache adds (compiled.rank_sums), x2 cores", "adds/s (G)": floor / 1e9}
    )
    print(
        f"{machine()}; {n:,} signatures x {args.genes:,} genes ({made:.0f} s to write); "
        f"{about}, top {K}; index threads 2; search_many's answers equal one by one "
        f"(first {args.alone}) and each other: {same}; streamed queries summed again for their "
        f"FDR: {len(stats.run_alone)} of {q}\n"
    )
    print(markdown([{name: row.get(name, "") for name in table[0]} for row in table]))
    if _cuda():
        rate = steps[-1].per_minute
        print(f"\nGPU: 5,000 queries would take {60 * 5000 / rate:.1f} s at {rate:,.0f} a minute")


def library_queries(
    index: SearchIndex, path: Path
) -> tuple[list[tuple[list[str], list[str]]], int]:
    """A GMT library's sets as up-only queries on the index's genes (each distinct gene of the
    library given its own random gene of the index), and how many sets were over MAX_GENES."""
    sets = [gene_set.genes for gene_set in read_gmt(path)]
    distinct = list(dict.fromkeys(gene for genes in sets for gene in genes))
    if len(distinct) > index.n_genes:
        raise SystemExit(f"{path.name} has {len(distinct):,} genes: give --genes at least that")
    drawn = np.random.default_rng(2).choice(index.n_genes, len(distinct), replace=False)
    named = {gene: index.genes[row] for gene, row in zip(distinct, drawn, strict=True)}
    kept = [genes for genes in sets if len(set(genes)) <= MAX_GENES]
    asked = [(list(dict.fromkeys(named[gene] for gene in genes)), []) for genes in kept]
    return asked, len(sets) - len(kept)


def _mean_genes(asked: list[tuple[list[str], list[str]]]) -> float:
    return float(np.mean([len(up) + len(down) for up, down in asked]))


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@dataclass
class Step:
    name: str
    count: int
    seconds: float
    heap: float  # GB, tracemalloc's peak
    rss: float  # GB, the process's peak so far

    @property
    def per_minute(self) -> float:
        return 60 * self.count / self.seconds

    def row(self, adds_a_query: int, floor: float, base: float) -> dict[str, object]:
        adds = adds_a_query * self.per_minute / 60
        return {
            "step": self.name,
            "queries": self.count,
            "seconds": self.seconds,
            "queries/min": self.per_minute,
            "ratio": f"{self.per_minute / base:.2f}x",
            "adds/s (G)": adds / 1e9,
            "of in-cache": f"{adds / floor:.0%}",
            "heap peak (GB)": self.heap,
            "RSS peak (GB)": self.rss,
        }


def steps_run(steps: list[Step], name: str, count: int, work: Callable[[], T]) -> T:
    """work(), timed, with its Python heap peak and the process's RSS peak after it."""
    tracemalloc.start()
    started = time.perf_counter()
    out = work()
    seconds = time.perf_counter() - started
    heap = tracemalloc.get_traced_memory()[1] / 2**30
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    steps.append(Step(name, count, seconds, heap, rss))
    return out


def add_floor(threads: int, columns: int = 4096, rounds: int = 20_000) -> float:
    """Adds a second of compiled.rank_sums over 16 rows held in the L1/L2 cache: what the adds
    cost when reading the ranks costs nothing, times the threads."""
    ranks = np.random.default_rng(0).integers(1, 5000, size=(16, columns), dtype=np.uint16)
    rows, out = np.arange(16, dtype=np.int64), np.empty(columns, dtype=np.uint32)
    compiled.rank_sums(ranks, rows, 0, columns, out)
    started = time.perf_counter()
    for _ in range(rounds):
        compiled.rank_sums(ranks, rows, 0, columns, out)
    return threads * 16 * columns * rounds / (time.perf_counter() - started)


if __name__ == "__main__":
    main()

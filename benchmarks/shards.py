"""An index in shards on this machine: 2 and 4 shard workers (Celery on the running Redis) against
the one index searched in this process; the overhead of scatter and merge per query.

An index of --signatures generated signatures x --genes genes (random permutations, as
benchmarks.batch writes them) is split with `write_shards`; for each K, K solo workers of the
portal's app serve the shards (SEARCH_SHARD_DIR, one queue each), and --queries queries of 2 x 250
genes (a signature's top and bottom genes, 50 of each swapped) are searched one after another:
- one index: `index.search(up, down, k=100, path="exact")` in this process (the baseline);
- K shards: `ShardedIndex(index, [QueueShard ...]).search(up, down, k=100)`, every answer checked
  equal to the baseline's table, three ways: with the rank sums asked in a second round where an
  FDR needs them and every answer JSON (sums_first="never", blobs=False: the previous way,
  measured again in this run); with each shard sending them with its summary where it guesses
  they will be (sums_first="guess"); and that with the large arrays as bytes through Redis
  (blobs=True, the default).
Per query p50 and p99 of each, the overhead (sharded minus one index, query by query), how many
queries needed the shards' rank sums (an FDR over every signature) and how many took a second
round for them. The workers share this
machine's two cores with each other and with this process, so the shards cannot run side by side
here: the figures are the cost of the scatter, the transport and the merge, not the speed-up K
machines would give. Peak RSS of this process and of the workers (summed) beside each.

A second table: what a web process serving the head (the index without its matrices, written
beside the shards) reads through the same workers, against the one index read in this process,
--reads times each, taking turns, every answer checked equal: a gene's row across every
signature (the gene page), a signature's top genes with their values (the signature page), and
the 20 signatures most like one (`similar`), exact and fast: the index is given the fast mode's
files as the build makes them (a 64-dimensional basis fitted on 10,000 signatures, every
signature embedded in it, FAISS beyond the build's flat limit), which the head keeps, and a fast
`similar` on the head has each shard rescore only its own candidates.

With --values the index also has the cd score's values (float32, as a build with store_values
writes them): a gene page then reads a row of ranks and a row of values from every shard, and a
signature page reads its top genes' values. Each K's shards are removed before the next K's are
written, so the disk holds the index and one split at a time (6 bytes a signature and gene with
values: 14 GB per copy at 100,000 x 23,614).

Run: python -m benchmarks.shards [--signatures 200000] [--genes 2000] [--queries 40] [--reads 20]
[--values] [--dir D]
(needs Redis at REDIS_URL, default redis://127.0.0.1:6379/0)
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd
from celery import Celery
from numpy.typing import NDArray

from benchmarks.batch import K, queries, write_index
from benchmarks.common import interleaved, machine, markdown, scratch_folder
from search.engine.build import BuildSettings, standardized
from search.engine.fast import build_faiss, fit_basis
from search.engine.index import SearchIndex
from search.engine.results import SearchResult
from search.engine.shards import HEAD, ShardedIndex, write_shards
from search.runtime.shards import QueueShard

REPO = Path(__file__).resolve().parents[1]
POLICIES = (  # (ShardedIndex.sums_first, QueueShard.blobs): the previous way (the baseline) first
    ("never", False, "sums asked in a second round, JSON"),
    ("guess", False, "sums sent with the summary where a shard guesses, JSON"),
    (
        "guess",
        True,
        "sums sent with the summary where a shard guesses, large arrays as Redis bytes",
    ),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=200_000)
    parser.add_argument("--genes", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--values", action="store_true", help="the index also stores values")
    parser.add_argument("--dir", default=os.environ.get("SEARCH_BENCH_DIR", "/tmp"))
    args = parser.parse_args()
    with scratch_folder("shards-bench-", args.dir) as folder:
        run(args, folder)


def run(args: argparse.Namespace, folder: Path) -> None:
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    index = _with_fast_mode(write_index(folder, args.genes, args.signatures, values=args.values))
    asked = queries(index, args.queries + 1)
    index.search(*asked[0], k=K, path="exact")  # compile
    tables = [index.search(up, down, k=K, path="exact").table for up, down in asked[1:]]
    rows, reads = [], []
    client = Celery(broker=redis, backend=redis, set_as_current=False)
    for k in (2, 4):
        directories = write_shards(index, folder / f"shards-{k}", k)
        queue = f"bench-{uuid.uuid4().hex[:8]}-shard-{{}}"
        workers = [_worker(folder, redis, queue.format(n), directories[n]) for n in range(k)]
        try:
            ways = [
                ShardedIndex(
                    index,
                    [QueueShard(n, 120, queue, client, blobs=blobs) for n in range(k)],
                    sums_first=first,
                )
                for first, blobs, _ in POLICIES
            ]
            for sharded in ways:
                sharded.search(*asked[0], k=K)  # the workers open their shards and compile
                sharded.sums_asked = sharded.second_rounds = 0
            times = _interleaved(index, ways, asked[1:], tables, k)
            head = SearchIndex.open(directories[0].parent / HEAD)
            ShardedIndex(head, [QueueShard(n, 120, queue, client) for n in range(k)])
            reads += _head_reads(index, head, args.reads, k)
            rss = sum(_rss_gb(worker.pid) for worker in workers)
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(timeout=30)
            shutil.rmtree(directories[0].parent)
        base = times[0]
        rows.append(_row(f"one index (beside {k} shards)", base, base))
        for sharded, (_, _, how), spent in zip(ways, POLICIES, times[1:], strict=True):
            row = _row(f"{k} shards, {how}", spent, base)
            row.update(
                {
                    "queries needing the sums": sharded.sums_asked,
                    "second rounds": sharded.second_rounds,
                    "workers' RSS (GB)": rss,
                }
            )
            rows.append(row)
    client.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"{machine()}; {args.signatures:,} signatures x {args.genes:,} genes"
        f"{', ranks and values' if args.values else ', ranks only'}; {args.queries} "
        f"queries of 2 x 250 genes, top {K}; every sharded answer equal to one index's; this "
        f"process's peak RSS {peak:.1f} GB\n"
    )
    print(markdown(rows))
    print(f"\nA head's reads through the same workers ({args.reads} each):\n")
    print(markdown(reads))


def _interleaved(
    index: SearchIndex,
    ways: list[ShardedIndex],
    asked: list[tuple[list[str], list[str]]],
    tables: list[pd.DataFrame],
    k: int,
) -> list[NDArray[np.float64]]:
    """Seconds per query of the one index, then of each way, the ways taking turns query by query
    (common.interleaved: the order rotated each query), so that the machine's drift falls on all
    of them alike; every answer checked against the one index's table."""
    searches: list[Callable[[list[str], list[str]], SearchResult]] = [
        functools.partial(index.search, k=K, path="exact"),
        *(functools.partial(way.search, k=K) for way in ways),
    ]
    answers: list[list[pd.DataFrame]] = [[] for _ in searches]
    times = interleaved(
        {str(n): _one_query_a_run(search, asked, answers[n]) for n, search in enumerate(searches)},
        rounds=len(asked),
    )
    if any(not a.equals(e) for found in answers for a, e in zip(found, tables, strict=True)):
        raise SystemExit(f"{k} shards answered a query differently from one index")
    return [np.array(times[str(n)]) for n in range(len(searches))]


def _head_reads(index: SearchIndex, head: SearchIndex, rounds: int, k: int) -> list[dict[str, Any]]:
    """p50 and p99 of each read of the head (through its k shards) against the same read of the
    one index, taking turns read by read; a different gene or signature each round."""
    rng = np.random.default_rng(k)
    genes = [index.genes[g] for g in rng.integers(0, index.n_genes, rounds + 1)]
    sig_ids = [str(s) for s in index.table.sig_ids[rng.integers(0, index.n_signatures, rounds + 1)]]
    reads: dict[str, Callable[[SearchIndex, int], Any]] = {
        "a gene's row (gene page)": lambda on, at: _gene_page(on, genes[at]),
        "a signature's top genes (signature page)": lambda on, at: on.signature(sig_ids[at], n=1),
        "20 similar signatures (exact)": lambda on, at: on.similar(sig_ids[at], 20, path="exact"),
        "20 similar signatures (fast)": lambda on, at: on.similar(sig_ids[at], 20, path="fast"),
    }
    rows = []
    for name, read in reads.items():
        found: dict[str, list[Any]] = {"one": [], "head": []}
        runs: dict[str, Callable[[], object]] = {
            w: _reading(read, on, found[w]) for w, on in (("one", index), ("head", head))
        }
        times = interleaved(runs, rounds=rounds + 1)
        for one, split in zip(found["one"], found["head"], strict=True):
            if not (
                np.array_equal(one, split, equal_nan=True)
                if isinstance(one, np.ndarray)
                else one == split
            ):
                raise SystemExit(f"the head of {k} shards read {name} differently")
        one, split = (np.array(times[w][1:]) for w in ("one", "head"))  # the first warms up
        rows.append(
            {
                "read": f"{name}, {k} shards",
                "one index p50 (ms)": 1e3 * float(np.percentile(one, 50)),
                "head p50 (ms)": 1e3 * float(np.percentile(split, 50)),
                "head p99 (ms)": 1e3 * float(np.percentile(split, 99)),
                "overhead p50 (ms)": 1e3 * float(np.percentile(split - one, 50)),
            }
        )
    return rows


def _gene_page(on: SearchIndex, gene: str) -> NDArray[np.float64]:
    """What a gene page reads of one gene across every signature: its ranks and its values (NaN
    without values), side by side."""
    row = on.gene_values(gene)
    return np.concatenate([row["rank"].astype(np.float64), row["values"].astype(np.float64)])


def _with_fast_mode(index: SearchIndex) -> SearchIndex:
    """The fast mode's files beside the benchmark's index, made as the build makes them
    (build.py's _basis and _computed, the build's default settings), and the index opened again
    with them, its ranks in memory."""
    settings = BuildSettings()
    n_genes, n = index.ranks.shape
    rng = np.random.default_rng(settings.seed)
    sample = np.sort(rng.choice(n, min(n, settings.sample), replace=False))
    fitted = standardized(np.ascontiguousarray(index.ranks[:, sample].T), n_genes)
    basis = fit_basis(fitted, settings.embedding_dim, settings.seed)
    embedded = np.empty((n, basis.shape[1]), dtype=np.float32)
    for first in range(0, n, settings.block):
        block = np.ascontiguousarray(index.ranks[:, first : first + settings.block].T)
        embedded[first : first + block.shape[0]] = standardized(block, n_genes) @ basis
    np.save(index.folder / "basis.npy", basis)
    np.save(index.folder / "embedded.npy", embedded)
    fast = build_faiss(embedded, flat_up_to=settings.pq_from, seed=settings.seed)
    faiss.write_index(fast, str(index.folder / "fast.faiss"))
    opened = SearchIndex(index.folder, index.manifest, threads=index.threads)
    opened.ranks = index.ranks
    return opened


def _reading(
    read: Callable[[SearchIndex, int], Any], on: SearchIndex, answers: list[Any]
) -> Callable[[], None]:
    """A run that reads the next round's gene or signature from `on`, keeping the answer."""

    def run() -> None:
        answers.append(read(on, len(answers)))

    return run


def _one_query_a_run(
    search: Callable[[list[str], list[str]], SearchResult],
    asked: list[tuple[list[str], list[str]]],
    answers: list[pd.DataFrame],
) -> Callable[[], None]:
    """A run that searches the next of `asked` each time it is called, keeping its table."""
    pending = iter(asked)

    def run() -> None:
        answers.append(search(*next(pending)).table)

    return run


def _row(name: str, spent: NDArray[np.float64], base: NDArray[np.float64]) -> dict[str, Any]:
    """A table row: p50 and p99 of `spent`, and its overhead over `base` query by query."""
    extra = spent - base
    sharded = spent is not base
    return {
        "search": name,
        "p50 (ms)": 1e3 * float(np.percentile(spent, 50)),
        "p99 (ms)": 1e3 * float(np.percentile(spent, 99)),
        "overhead p50 (ms)": 1e3 * float(np.percentile(extra, 50)) if sharded else "",
        "overhead p99 (ms)": 1e3 * float(np.percentile(extra, 99)) if sharded else "",
        "ratio (p50)": f"{np.percentile(spent, 50) / np.percentile(base, 50):.2f}x",
        "queries needing the sums": "",
        "second rounds": "",
        "workers' RSS (GB)": "",
    }


def _worker(folder: Path, redis: str, queue: str, shard: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": "shards-benchmark",
        "DATABASE_URL": f"sqlite:///{folder / 'unused.sqlite3'}",
        "DATA_DIR": str(folder),
        "CELERY_BROKER_URL": redis,
        "CELERY_RESULT_BACKEND": redis,
        "SEARCH_SHARD_DIR": str(shard),
    }
    command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "-Q"]
    command += [queue, "-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "-l", "WARNING"]
    log = (folder / f"{queue}.log").open("w")
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def _rss_gb(pid: int) -> float:
    """A live process's peak RSS (VmHWM), in GB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return 0.0


if __name__ == "__main__":
    main()

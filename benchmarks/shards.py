"""An index in shards on this machine: 2 and 4 shard workers (Celery on the running Redis) against
the one index searched in this process; the overhead of scatter and merge per query.

An index of --signatures generated signatures x --genes genes (random permutations, as
benchmarks.batch writes them) is split with `write_shards`; for each K, K solo workers of the
portal's app serve the shards (SEARCH_SHARD_DIR, one queue each), and --queries queries of 2 x 250
genes (a signature's top and bottom genes, 50 of each swapped) are searched one after another:
- one index: `index.search(up, down, k=100, path="exact")` in this process (the baseline);
- K shards: `ShardedIndex(index, [QueueShard ...]).search(up, down, k=100)`, every answer checked
  equal to the baseline's table.
Per query p50 and p99 of each, the overhead (sharded minus one index, query by query) and how many
queries needed the shards' rank sums (an FDR over every signature). The workers share this
machine's two cores with each other and with this process, so the shards cannot run side by side
here: the figures are the cost of the scatter, the transport and the merge, not the speed-up K
machines would give. Peak RSS of this process and of the workers (summed) beside each.

Run: python -m benchmarks.shards [--signatures 200000] [--genes 2000] [--queries 40] [--dir D]
(needs Redis at REDIS_URL, default redis://127.0.0.1:6379/0)
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from celery import Celery

from benchmarks.batch import K, queries, write_index
from benchmarks.common import machine, markdown, scratch_folder
from search.engine.shards import ShardedIndex, write_shards
from search.runtime.shards import QueueShard

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=200_000)
    parser.add_argument("--genes", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--dir", default=os.environ.get("SEARCH_BENCH_DIR", "/tmp"))
    args = parser.parse_args()
    with scratch_folder("shards-bench-", args.dir) as folder:
        run(args, folder)


def run(args: argparse.Namespace, folder: Path) -> None:
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    index = write_index(folder, args.genes, args.signatures)
    asked = queries(index, args.queries + 1)
    index.search(*asked[0], k=K, path="exact")  # compile
    results: list[tuple[str, list[float], int, float]] = []
    baseline = []
    tables = []
    for up, down in asked[1:]:
        began = time.perf_counter()
        tables.append(index.search(up, down, k=K, path="exact").table)
        baseline.append(time.perf_counter() - began)
    results.append(("one index", baseline, 0, 0.0))
    client = Celery(broker=redis, backend=redis, set_as_current=False)
    for k in (2, 4):
        directories = write_shards(index, folder / f"shards-{k}", k)
        queue = f"bench-{uuid.uuid4().hex[:8]}-shard-{{}}"
        workers = [_worker(folder, redis, queue.format(n), directories[n]) for n in range(k)]
        try:
            shards = [QueueShard(n, 120, queue, client) for n in range(k)]
            sharded = ShardedIndex(index, shards)
            sharded.search(*asked[0], k=K)  # the workers open their shards and compile
            sharded.sums_asked = 0
            times = []
            for (up, down), expected in zip(asked[1:], tables, strict=True):
                began = time.perf_counter()
                answer = sharded.search(up, down, k=K)
                times.append(time.perf_counter() - began)
                if not answer.table.equals(expected):
                    raise SystemExit(f"{k} shards answered a query differently from one index")
            rss = sum(_rss_gb(worker.pid) for worker in workers)
            name = f"{k} shards (Celery workers on Redis)"
            results.append((name, times, sharded.sums_asked, rss))
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(timeout=30)
    client.close()
    base = np.array(baseline)
    rows = []
    for name, times, summed, rss in results:
        spent = np.array(times)
        extra = spent - base
        rows.append(
            {
                "search": name,
                "p50 (ms)": 1e3 * float(np.percentile(spent, 50)),
                "p99 (ms)": 1e3 * float(np.percentile(spent, 99)),
                "overhead p50 (ms)": 1e3 * float(np.percentile(extra, 50)) if rss else "",
                "overhead p99 (ms)": 1e3 * float(np.percentile(extra, 99)) if rss else "",
                "ratio (p50)": f"{np.percentile(spent, 50) / np.percentile(base, 50):.2f}x",
                "queries needing the sums": summed if rss else "",
                "workers' RSS (GB)": rss if rss else "",
            }
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"{machine()}; {args.signatures:,} signatures x {args.genes:,} genes; {args.queries} "
        f"queries of 2 x 250 genes, top {K}; every sharded answer equal to one index's; this "
        f"process's peak RSS {peak:.1f} GB\n"
    )
    print(markdown(rows))


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

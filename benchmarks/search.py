"""Search latency at 10,000 to 1,000,000 signatures x 23,614 genes: exact and fast against numpy.

Each size is a generated signature set (below) built into a real index by the engine's own
`build_index` (memory-mapped, on disk under --dir, default $SEARCH_BENCH_DIR or /tmp; deleted
afterwards unless --keep), then queried by 2 x 250-gene queries (the 250 most raised and lowered
genes of held-out signatures of the same model), mode "both", top 100:
- exact: the engine's gather over the gene-major uint16 rank matrix; "first" is a query's first
  run with its rows dropped from the page cache (read from disk), "repeat" its second (its rows
  then in the page cache), the in-memory figure; "rank sums
  alone" times the compiled gather of the two sets without z, top k, FDR or the result table;
  "2 threads" is the same search from an index opened with threads=2 (both cores on one query),
  against the bandwidth two threads reach;
- fast: FAISS candidates from the PCA embedding, rescored exactly; recall@100 against exact; its
  first run (rows dropped from the page cache, as exact's); its exact rescoring alone, and the
  recall@100 other candidate counts would give;
- flat: FAISS flat inner product over signature-major float32 vectors (stored for 10,000 only);
- numpy, precomputed ranks: `ranks[genes].sum(0)` on the same gene-major matrix, then z and a sort;
- numpy, ranking every signature (the issue's baseline): double argsort of each signature's values
  at query time, then rank sums; timed on a subsample of signatures and scaled to the size.
The floor: the bytes the exact path must read, 2 bytes x (n_up + n_down) x N, over the memory
bandwidth measured by the same process before and after its queries (the better of the two; a
numpy sum over a 1 GiB array, one thread, as the engine).
Build and measurement run in child processes, so each size's memory figures are its own.

Generated signatures, near a low-dimensional space as real ones are: a perturbagen's latent
effect (64 dimensions, shared by its 10 signatures), a per-signature variation of it (0.7 x), mapped
to genes by fixed random loadings, plus noise from shifted copies of a pool of random vectors (one
third of the variance, not low-dimensional); stored as int16 keys (values x 4000), ranked stably.

Run: python -m benchmarks.search [--sizes 10000,100000,1000000] [--queries 30] [--dir D] [--keep]
[--reuse] (--reuse measures an index an earlier --keep run left, instead of building it again)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import machine, markdown

N_GENES = 23_614
QUERY_GENES = 250
LATENT = 64
PER_PERT = 10
POOL = 256
NOISE = float(os.environ.get("SEARCH_BENCH_NOISE", "0.8"))  # sd of each of the 2 noise terms
RANKING_SAMPLE = 2000
CANDIDATE_GRID = (300, 600, 1200, 2400)  # fast-mode candidates whose recall@100 is reported
QUERIES_FILE = "benchmark-queries.json"
SAMPLE_FILE = "benchmark-ranking-sample.npy"
BUILT_FILE = "benchmark-build.json"  # what the build measured, for --reuse


class SyntheticSignatures:
    """n signatures (plus held-out ones after them) x n_genes, metadata sorted as the index."""

    def __init__(self, n: int, n_genes: int = N_GENES, *, held_out: int = 100, seed: int = 0):
        rng = np.random.default_rng(seed)
        total = n + held_out
        self.n_genes = n_genes
        self.genes = [f"GENE{g:05d}" for g in range(n_genes)]
        self.loadings = (rng.standard_normal((n_genes, LATENT)) / math.sqrt(LATENT)).astype(
            np.float32
        )
        self.pool = (NOISE * rng.standard_normal((POOL, n_genes))).astype(np.float32)
        n_perts = math.ceil(n / PER_PERT)
        self.effects = rng.standard_normal((n_perts, LATENT)).astype(np.float32)
        pert = np.minimum(np.arange(total) // PER_PERT, n_perts - 1)
        pert[n:] = rng.integers(0, n_perts, held_out)
        self.pert = pert
        self.variation = (0.7 * rng.standard_normal((total, LATENT))).astype(np.float32)
        self.noise = rng.integers(0, [POOL, n_genes, POOL, n_genes], size=(total, 4))
        kinds = np.where(
            np.arange(n) < 0.7 * n, "trt_cp", np.where(np.arange(n) < 0.9 * n, "trt_sh", "trt_oe")
        )
        self.metadata = pd.DataFrame(
            {
                "sig_id": [f"SYN{j:07d}" for j in range(n)],
                "pert_type": kinds,
                "cell_id": [f"CELL{(j % PER_PERT):02d}" for j in range(n)],
                "pert_iname": [f"pert-{p:06d}" for p in pert[:n]],
                "pert_dose": np.array([0.1, 1.0, 10.0])[np.arange(n) % 3],
                "pert_time": 24,
            }
        ).sort_values(["pert_type", "cell_id", "pert_iname"], kind="stable")
        self.positions = self.metadata.index.to_numpy()  # index order -> generator position
        self.metadata = self.metadata.reset_index(drop=True)

    def values(self, positions: np.ndarray) -> np.ndarray:
        """Generator positions -> (len, G) float32 values."""
        latent = self.effects[self.pert[positions]] + self.variation[positions]
        out = latent @ self.loadings.T
        for row, (a, s, b, t) in enumerate(self.noise[positions]):
            out[row] += np.roll(self.pool[a], s)
            out[row] += np.roll(self.pool[b], t)
        return out

    def read(self, positions: np.ndarray) -> np.ndarray:
        """Index positions -> (len, G) int16 keys (the build ranks them)."""
        values = self.values(self.positions[np.asarray(positions)])
        return np.clip(np.rint(values * 4000), -32767, 32767).astype(np.int16)

    def held_out_queries(self, count: int) -> list[tuple[list[str], list[str]]]:
        n = len(self.metadata)
        genes = np.array(self.genes)
        queries = []
        for values in self.values(np.arange(n, n + count)):
            order = np.argsort(values, kind="stable")
            queries.append(
                (list(genes[order[::-1][:QUERY_GENES]]), list(genes[order[:QUERY_GENES]]))
            )
        return queries


def build_worker(n: int, folder: Path) -> dict:
    from search.engine.build import BuildSettings, build_index

    source = SyntheticSignatures(n)
    settings = replace(BuildSettings(), store_values=False, full_checksums=False)
    started = time.perf_counter()
    manifest = build_index(
        source, folder, settings, progress=lambda m: print(m, file=sys.stderr, flush=True)
    )
    (folder / QUERIES_FILE).write_text(json.dumps(source.held_out_queries(100)))
    np.save(folder / SAMPLE_FILE, source.read(np.arange(min(n, RANKING_SAMPLE))))
    disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    built = {
        "build_s": time.perf_counter() - started,
        "fast": manifest["fast"],
        "disk_gb": disk / 1e9,
    }
    (folder / BUILT_FILE).write_text(json.dumps(built))
    return built


def measure_worker(n: int, folder: Path, n_queries: int) -> dict:
    import faiss

    from search.engine.index import SearchIndex

    index = SearchIndex.open(folder)
    queries = json.loads((folder / QUERIES_FILE).read_text())[:n_queries]
    paths = ("first", "repeat", "sums", "fast", "fast first", "rescoring", "flat", "gpu", "numpy")
    timings: dict[str, list[float]] = {key: [] for key in paths}
    recalls, memory = [], {"rss_anon_mb": 0.0, "rss_file_mb": 0.0}
    for up, down in queries:
        rows = _gene_rows(index, (up, down))
        recalls.append(_engine_query(index, up, down, rows, timings))
        status = _proc_status()  # the engine's memory, before the baseline's temporaries
        memory = {
            "rss_anon_mb": max(memory["rss_anon_mb"], status["RssAnon"] / 1024),
            "rss_file_mb": max(memory["rss_file_mb"], status["RssFile"] / 1024),
        }
        timings["numpy"].append(_numpy_gather_seconds(index.ranks, rows))
    path_auto = index.search(*queries[0]).path
    both_cores = SearchIndex.open(folder, threads=2)  # the machine's two cores on one query
    timings["two"] = []
    for up, down in queries:
        both_cores.search(up, down, path="exact", k=100)
        started = time.perf_counter()
        both_cores.search(up, down, path="exact", k=100)
        timings["two"].append(time.perf_counter() - started)
    faiss.omp_set_num_threads(1)
    sample = np.load(folder / SAMPLE_FILE).astype(np.float32)
    timings["ranking"] = [
        _ranking_baseline_seconds(sample, _gene_rows(index, q), n) for q in queries[:3]
    ]
    bandwidth = max(memory_bandwidth(), memory_bandwidth())
    bandwidth_two = max(memory_bandwidth(2), memory_bandwidth(2))
    return {
        "timings": timings,
        "recall": recalls,
        "path_auto": path_auto,
        "bandwidth": bandwidth,
        "bandwidth_two": bandwidth_two,
        "load": os.getloadavg()[0],
        **memory,
    }


def _gene_rows(index, sides) -> list[np.ndarray]:
    """The index rows of each side's gene symbols."""
    return [np.array([index.gene_row(g) for g in side], dtype=np.int64) for side in sides]


def _floor_ms(n: int, bandwidth: float) -> float:
    """The exact path's bytes-touched floor: 2 bytes x (n_up + n_down) x n at the bandwidth."""
    return 2 * 2 * QUERY_GENES * n / bandwidth * 1000


def _engine_query(
    index, up: list[str], down: list[str], rows: list[np.ndarray], timings: dict[str, list]
) -> float:
    """Time one query on every path (rows: its genes' index rows); the fast mode's recall@100
    against exact."""
    from search.engine import searching
    from search.engine.backends import cpu
    from search.engine.fast import candidates
    from search.engine.metadata import Selection

    for path, key in (("fast", "fast first"), ("exact", "first"), ("exact", "repeat")):
        if key != "repeat":
            index.readers["ranks"].drop(np.concatenate(rows))
        started = time.perf_counter()
        exact = index.search(up, down, path=path, k=100)
        timings.setdefault(key, []).append(time.perf_counter() - started)
    selection = Selection.every(index.n_signatures)
    started = time.perf_counter()
    for side in rows:
        cpu.set_sums(index.ranks, side, selection)
    timings["sums"].append(time.perf_counter() - started)
    started = time.perf_counter()
    fast = index.search(up, down, path="fast", k=100)
    timings["fast"].append(time.perf_counter() - started)
    query = searching.gene_query(index, up, down)
    found = searching.fast_candidates(index, query, selection, "both")
    started = time.perf_counter()
    searching.score_query(index, query, found, "rank", "fast")
    timings["rescoring"].append(time.perf_counter() - started)
    truth = exact.table["sig_id"].to_numpy()
    embedded = searching.embedded_query(index, query)
    for count in CANDIDATE_GRID:
        settings = replace(index.fast_settings, candidates=count)
        ids = candidates(
            index.faiss, embedded, (1, -1), selection, index.n_signatures, settings, index.embedded
        )
        proposed = index.table.columns_at(ids)["sig_id"]
        timings.setdefault(f"recall {count}", []).append(float(np.isin(truth, proposed).mean()))
    for path in ("flat", "gpu"):
        if index.flat is not None and (path == "flat" or cpu.gpu_available()):
            index.search(up, down, path=path, k=100)
            started = time.perf_counter()
            index.search(up, down, path=path, k=100)
            timings[path].append(time.perf_counter() - started)
    return len(set(fast.table["sig_id"]) & set(exact.table["sig_id"])) / 100


def _numpy_gather_seconds(ranks: np.ndarray, rows: list[list[int]]) -> float:
    """The straightforward numpy version on the same precomputed gene-major ranks."""
    g = ranks.shape[0]
    started = time.perf_counter()
    z = [
        (ranks[r].sum(axis=0, dtype=np.int64) - len(r) * (g + 1) / 2)
        / math.sqrt(len(r) * (g - len(r)) * (g + 1) / 12)
        for r in rows
    ]
    np.argsort(-np.abs(z[0] - z[1]))[:100]
    return time.perf_counter() - started


def _ranking_baseline_seconds(values: np.ndarray, rows: list[list[int]], n: int) -> float:
    """Rank every signature at query time (double argsort), sum ranks: on a subsample, scaled."""
    sample = values.shape[0]
    g = values.shape[1]
    started = time.perf_counter()
    ranks = values.argsort(axis=1).argsort(axis=1) + 1
    z = [
        (ranks[:, r].sum(axis=1) - len(r) * (g + 1) / 2)
        / math.sqrt(len(r) * (g - len(r)) * (g + 1) / 12)
        for r in rows
    ]
    np.argsort(-np.abs(z[0] - z[1]))
    return (time.perf_counter() - started) * n / sample


def memory_bandwidth(threads: int = 1) -> float:
    """Bytes per second numpy sums read from memory, 1 GiB a thread (best of 5)."""
    parts = [np.ones(1 << 27, dtype=np.int64) for _ in range(threads)]
    best = math.inf
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(5):
            started = time.perf_counter()
            list(pool.map(np.sum, parts))
            best = min(best, time.perf_counter() - started)
    return sum(part.nbytes for part in parts) / best


def _proc_status() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            fields[name] = int(rest.split()[0])
    return fields


def _child(*args: str) -> dict:
    command = [sys.executable, "-m", "benchmarks.search", "--worker", *args]
    result = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_size(n: int, base: Path, n_queries: int, keep: bool, reuse: bool = False) -> dict:
    folder = base / f"search-benchmark-{n}"
    if reuse and (folder / BUILT_FILE).exists():
        print(f"reusing the index of {n:,} signatures in {folder}", file=sys.stderr, flush=True)
        built = json.loads((folder / BUILT_FILE).read_text())
        return {"n": n, **built, **_child("measure", str(n), str(folder), str(n_queries))}
    shutil.rmtree(folder, ignore_errors=True)
    try:
        print(f"building {n:,} signatures in {folder} ...", file=sys.stderr, flush=True)
        built = _child("build", str(n), str(folder))
        print(f"measuring {n:,} ...", file=sys.stderr, flush=True)
        return {"n": n, **built, **_child("measure", str(n), str(folder), str(n_queries))}
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def report(results: list[dict]) -> str:
    lines = []
    for r in results:
        t = {key: np.array(values) * 1000 for key, values in r["timings"].items()}
        bandwidth = r["bandwidth"]
        floor_ms = _floor_ms(r["n"], bandwidth)
        exact = statistics.median(t["repeat"])
        recall = f"recall@100 {np.mean(r['recall']):.4f} (lowest {min(r['recall']):.2f})"
        flat_note = "every vector read" if len(t["flat"]) else "not stored at this size"
        sums_note = "the compiled gather"
        if len(t.get("sums", [])):
            sums_note += f": {statistics.median(t['sums']) / floor_ms:.2f}x floor"
        two_note = "-"
        if len(t.get("two", [])):
            floor_two = _floor_ms(r["n"], r["bandwidth_two"])
            two_note = (
                f"{statistics.median(t['two']) / floor_two:.2f}x its floor ({floor_two:.1f}"
                f" ms at {r['bandwidth_two'] / 1e9:.1f} GB/s, two threads)"
            )
        gpu_note = "FAISS GPU" if len(t["gpu"]) else "no FAISS GPU here: benchmarks.search_gpu"
        rows = [
            _row("exact (gather), repeat", t["repeat"], exact, f"{exact / floor_ms:.2f}x floor"),
            _row(
                "exact (gather), first run",
                t["first"],
                exact,
                "its rows dropped from the page cache first: read from disk",
            ),
            _row("exact, its rank sums alone", t.get("sums", []), exact, sums_note),
            _row("exact, 2 threads", t.get("two", []), exact, two_note),
            _row("fast (FAISS + exact rescoring)", t["fast"], exact, recall),
            _row(
                "fast, first run",
                t.get("fast first", []),
                exact,
                "its rows dropped from the page cache first",
            ),
            _row(
                "fast, its exact rescoring alone",
                t.get("rescoring", []),
                exact,
                _rescoring_note(r, t),
            ),
            _row("flat (FAISS flat IP)", t["flat"], exact, flat_note),
            _row("GPU (FAISS GPU flat IP)", t["gpu"], exact, gpu_note),
            _row("numpy, precomputed ranks", t["numpy"], exact, "ranks[genes].sum(0), same matrix"),
            _row(
                "numpy, ranking every signature",
                t["ranking"],
                exact,
                f"timed on {min(r['n'], RANKING_SAMPLE):,} signatures, scaled",
            ),
        ]
        lines += [_heading(r, floor_ms, bandwidth), "", markdown(rows), ""]
    return "\n".join(lines)


def _rescoring_note(r: dict, t: dict[str, np.ndarray]) -> str:
    """The candidates' rescoring per value gathered, and the recall@100 other counts give."""
    if not len(t.get("rescoring", [])):
        return "-"
    gathered = r["fast"]["candidates"] * 2 * QUERY_GENES
    per_value = statistics.median(t["rescoring"]) * 1e6 / gathered
    curve = ", ".join(
        f"{c:,}: {np.mean(r['timings'][f'recall {c}']):.3f}"
        for c in CANDIDATE_GRID
        if f"recall {c}" in r["timings"]
    )
    return (
        f"{r['fast']['candidates']:,} candidates x {2 * QUERY_GENES} genes, {per_value:.1f} ns"
        f" a scattered value; recall@100 by candidates {curve}"
    )


def _heading(r: dict, floor_ms: float, bandwidth: float) -> str:
    fast = r["fast"]
    return (
        f"**{r['n']:,} signatures x {N_GENES:,} genes** (index {r['disk_gb']:.1f} GB on disk, "
        f"built in {r['build_s'] / 60:.1f} min; fast mode: {fast['index']}, "
        f"{fast['candidates']} candidates, recall@100 at build "
        f"{fast['recall_at_100']}; auto chose {r['path_auto']}). Floor: "
        f"{2 * 2 * QUERY_GENES * r['n'] / 1e9:.2f} GB read at {bandwidth / 1e9:.1f} GB/s = "
        f"{floor_ms:.1f} ms (load average {r['load']:.1f} on the 2 cores). Query process, "
        f"at most: {r['rss_anon_mb']:,.0f} MB private, {r['rss_file_mb']:,.0f} MB of index "
        f"pages mapped (page cache, shared)."
    )


def _row(path: str, ms: list[float], exact_ms: float, note: str) -> dict[str, object]:
    if len(ms) == 0:
        return {"path": path, "p50 ms": "-", "p99 ms": "-", "vs exact": "-", "note": note}
    p50, p99 = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
    return {
        "path": path,
        "p50 ms": p50,
        "p99 ms": p99,
        "vs exact": f"{exact_ms / p50:.3g}x",
        "note": note,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument(
        "--dir", type=Path, default=Path(os.environ.get("SEARCH_BENCH_DIR", "/tmp"))
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated indexes")
    parser.add_argument(
        "--reuse", action="store_true", help="measure an index an earlier --keep run left"
    )
    parser.add_argument("--report-only", action="store_true", help="print the last run's tables")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, n, folder, *rest = args.worker
        if kind == "build":
            print(json.dumps(build_worker(int(n), Path(folder))))
        else:
            print(json.dumps(measure_worker(int(n), Path(folder), int(rest[0]))))
        return
    saved = args.dir / "search-benchmark-results.json"
    results = json.loads(saved.read_text())["results"] if saved.exists() else []
    if not args.report_only:  # a run adds its sizes to those saved by earlier runs
        for n in (int(size) for size in args.sizes.split(",")):
            result = run_size(n, args.dir, args.queries, args.keep or args.reuse, args.reuse)
            results = sorted([r for r in results if r["n"] != n] + [result], key=lambda r: r["n"])
            saved.write_text(json.dumps({"results": results}))
    print(f"Search benchmark on {machine()}: 2 x {QUERY_GENES}-gene queries, mode both, top 100\n")
    print(report(results))


if __name__ == "__main__":
    main()

"""The search's gpu path at 10,000 to 1,000,000 signatures x 23,614 genes, on a CUDA device.

The signatures are those of `benchmarks.search` (the same generator and seeds), computed and
ranked on the GPU itself (building a 1,000,000-signature index on disk first would take an hour),
into the (G, N) int16 matrix that `torch_gpu.DeviceRanks` (search/engine/backends) holds for
the gpu path. Queries:
2 x 250 genes, the most raised and lowered genes of held-out signatures, as in `benchmarks.search`.
Measured in the same run, per size:
- GPU set sums: the engine's `DeviceRanks.device_sums` for both sets, synchronized; its floor is
  the bytes the gather must read, 2 x (n_up + n_down) x N, at the device's measured copy bandwidth;
- GPU search: as `index.search(path="gpu")` runs it: z of every signature on the device, the
  candidates for the top 100 by |z_sum| ranked on the host, their Benjamini-Hochberg FDR over all
  N from the device's |z| (its largest values and a histogram come back, not all N);
- the engine's exact CPU kernel (`cpu.set_sums`, one thread, as a web worker runs it) and the
  numpy baseline (`ranks[genes].sum(0)`) on a host copy of the same matrix, whose sums must equal
  the GPU's (checked for every timed query);
- numpy ranking every signature at query time (the issue's baseline): timed on 2,000 signatures
  and scaled to N.
Run (needs torch with CUDA): python -m benchmarks.search_gpu [--sizes 10000,100000,1000000]
[--queries 30] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np
import torch

from benchmarks.common import machine, markdown
from benchmarks.search import (
    N_GENES,
    QUERY_GENES,
    RANKING_SAMPLE,
    SyntheticSignatures,
    _numpy_gather_seconds,
    _ranking_baseline_seconds,
    _row,
)
from search.engine import scores
from search.engine.backends import cpu
from search.engine.backends.torch_gpu import DeviceRanks, rank_on_device
from search.engine.metadata import Selection
from search.engine.searching import top_positions

BLOCK = 8192  # signatures generated and ranked at once on the device
HOST_QUERIES = 3  # queries timed on the host paths (each reads the matrix once)


def device_keys(
    source: SyntheticSignatures,
    lo: int,
    hi: int,
    device: torch.device,
    tensors: dict[str, torch.Tensor],
) -> torch.Tensor:
    """int16 keys (values x 4000) of generator positions lo..hi, as SyntheticSignatures.read."""
    positions = torch.arange(lo, hi, device=device)
    latent = tensors["effects"][tensors["pert"][positions]] + tensors["variation"][positions]
    values = latent @ tensors["loadings"].T
    genes = torch.arange(source.n_genes, device=device)
    noise = tensors["noise"][positions]
    for pool_column, shift_column in ((0, 1), (2, 3)):  # np.roll(pool[a], s)[j] = pool[a][j - s]
        shifted = (genes[None, :] - noise[:, shift_column, None]) % source.n_genes
        values += tensors["pool"][noise[:, pool_column, None], shifted]
    return torch.clamp(torch.round(values * 4000), -32767, 32767).to(torch.int16)


def device_ranks(source: SyntheticSignatures, n: int, device: torch.device) -> torch.Tensor:
    """(G, n) int16 ranks: 1 = lowest key ... G = highest, ties by gene order (the build's)."""
    tensors = {
        "loadings": torch.from_numpy(source.loadings).to(device),
        "pool": torch.from_numpy(source.pool).to(device),
        "effects": torch.from_numpy(source.effects).to(device),
        "variation": torch.from_numpy(source.variation).to(device),
        "pert": torch.from_numpy(source.pert).to(device),
        "noise": torch.from_numpy(source.noise).to(device),
    }
    out = torch.empty((source.n_genes, n), dtype=torch.int16, device=device)
    for lo in range(0, n, BLOCK):
        hi = min(lo + BLOCK, n)
        keys = device_keys(source, lo, hi, device, tensors)
        order = torch.argsort(keys, dim=1, stable=True)
        ranks = torch.empty_like(order)
        count = torch.arange(1, source.n_genes + 1, device=device).expand(hi - lo, -1)
        ranks.scatter_(1, order, count)
        out[:, lo:hi] = ranks.T.to(torch.int16)
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def device_bandwidth(device: torch.device, gib: int = 4) -> float:
    """Bytes/s a sum over `gib` GiB of float32 reads on the device (best of 5)."""
    data = torch.ones(gib << 28, dtype=torch.float32, device=device)
    best = math.inf
    for _ in range(5):
        sync(device)
        started = time.perf_counter()
        data.sum()
        sync(device)
        best = min(best, time.perf_counter() - started)
    return data.numel() * 4 / best


def host_search(sums: tuple[np.ndarray, np.ndarray], n_up: int, n_down: int) -> np.ndarray:
    """The engine's ranking of gpu sums on the host: z, top 100 by |z_sum|, BH FDR over all."""
    mean, var = scores.rank_moments(N_GENES)
    z_up = scores.set_z(sums[0], n_up, N_GENES, mean, var)
    z_down = scores.set_z(sums[1], n_down, N_GENES, mean, var)
    z_sum = z_up - z_down
    picks = top_positions(np.abs(z_sum), 100)
    sd = scores.z_sum_sd(N_GENES, n_up, n_down)
    scores.fdr_for(np.abs(z_sum) / sd, picks)
    return picks


def device_search(ranks: DeviceRanks, up: np.ndarray, down: np.ndarray, every: Selection) -> None:
    """What index.search(path="gpu") runs (searching._device_ranked, without the metadata): z on
    the device, the top-100 candidates ranked on the host, their FDR from the device's |z|."""
    sd = scores.z_sum_sd(N_GENES, up.size, down.size)
    found = rank_on_device(ranks, up, down, every, N_GENES, "both", 100, sd)
    z_sum = np.nan_to_num(found.z_up) - np.nan_to_num(found.z_down)
    picks = top_positions(np.abs(z_sum), 100)
    scores.fdr_for(found.abs_z, found.candidates[picks])


def measure(n: int, n_queries: int, device: torch.device, bandwidth: float) -> dict:
    started = time.perf_counter()
    source = SyntheticSignatures(n)
    matrix = device_ranks(source, n, device)
    sync(device)
    generated_s = time.perf_counter() - started
    ranks = DeviceRanks.from_tensor(matrix)
    every = Selection.every(n)
    queries = [
        [np.array([int(g[4:]) for g in side]) for side in q]
        for q in source.held_out_queries(n_queries)
    ]
    timings: dict[str, list[float]] = {"sums": [], "search": [], "cpu": [], "numpy": []}
    for up, down in queries[:2]:  # warm-up
        device_search(ranks, up, down, every)
    for up, down in queries:
        sync(device)
        started = time.perf_counter()
        ranks.device_sums(up), ranks.device_sums(down)
        sync(device)
        timings["sums"].append(time.perf_counter() - started)
        started = time.perf_counter()
        device_search(ranks, up, down, every)
        timings["search"].append(time.perf_counter() - started)
    host = matrix.cpu().numpy().view(np.uint16)
    for up, down in queries[:HOST_QUERIES]:
        started = time.perf_counter()
        cpu = [cpu.set_sums(host, rows, every) for rows in (up, down)]
        host_search((cpu[0], cpu[1]), up.size, down.size)
        timings["cpu"].append(time.perf_counter() - started)
        timings["numpy"].append(_numpy_gather_seconds(host, [list(up), list(down)]))
        for rows, expected in zip((up, down), cpu, strict=True):  # the GPU's sums are exact
            if not np.array_equal(ranks.set_sums(rows, every), expected):
                raise AssertionError(f"the GPU's sums differ from the CPU kernel's at n={n}")
    del ranks, matrix
    checked = 2 * HOST_QUERIES + _check_ranks(source, n, host)
    sample = source.read(np.arange(min(n, RANKING_SAMPLE))).astype(np.float32)
    ranking = [_ranking_baseline_seconds(sample, [list(q[0]), list(q[1])], n) for q in queries[:1]]
    return {
        "n": n,
        "generated_s": generated_s,
        "bandwidth": bandwidth,
        "timings": timings,
        "ranking": ranking,
        "checked": checked,
    }


def _check_ranks(source: SyntheticSignatures, n: int, host: np.ndarray) -> int:
    """The device's ranks against a host ranking of the generator's keys, on 50 columns."""
    sample = np.linspace(0, n - 1, 50).astype(np.int64)
    keys = np.clip(np.rint(source.values(sample) * 4000), -32767, 32767).astype(np.int16)
    expected = np.empty(keys.shape, dtype=np.int64)
    counts = np.broadcast_to(np.arange(1, N_GENES + 1), keys.shape)
    np.put_along_axis(expected, np.argsort(keys, axis=1, kind="stable"), counts, axis=1)
    agree = float(np.mean(host[:, sample] == expected.T))
    if agree < 0.99:  # float32 rounding on the device may move a key by a unit, and its ties
        raise AssertionError(f"device ranks agree with a host ranking on {agree:.2%} only")
    return sample.size


def report(results: list[dict], device_name: str) -> str:
    lines = [f"GPU search benchmark on {device_name} (host: {machine()})", ""]
    for r in results:
        t = {key: np.array(v) * 1000 for key, v in r["timings"].items()}
        floor_ms = 2 * 2 * QUERY_GENES * r["n"] / r["bandwidth"] * 1000
        cpu = float(np.median(t["cpu"]))
        sums = float(np.median(t["sums"]))
        rows = [
            _row(
                "GPU set sums (on the device)",
                t["sums"],
                cpu,
                f"{sums / floor_ms:.2f}x floor ({floor_ms:.3f} ms)",
            ),
            _row(
                "GPU search (z on the device; the top candidates and FDR pieces to the host)",
                t["search"],
                cpu,
                "what index.search(path='gpu') runs",
            ),
            _row(
                "CPU exact kernel + ranking, same host, 1 thread",
                t["cpu"],
                cpu,
                f"{len(t['cpu'])} queries; sums equal the GPU's",
            ),
            _row("numpy, precomputed ranks (host)", t["numpy"], cpu, "ranks[genes].sum(0)"),
            _row(
                "numpy, ranking every signature (host)",
                np.array(r["ranking"]) * 1000,
                cpu,
                f"timed on {min(r['n'], RANKING_SAMPLE):,} signatures, scaled",
            ),
        ]
        lines += [
            f"**{r['n']:,} signatures x {N_GENES:,} genes** (generated and ranked on the GPU in "
            f"{r['generated_s']:.1f} s; {2 * N_GENES * r['n'] / 1e9:.1f} GB of int16 ranks in "
            f"device memory). Floor: {2 * 2 * QUERY_GENES * r['n'] / 1e9:.2f} GB read at "
            f"{r['bandwidth'] / 1e12:.2f} TB/s = {floor_ms:.3f} ms. {r['checked']} checks of "
            f"the GPU against the host passed.",
            "",
            markdown(rows),
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--json", help="also write the measurements here")
    parser.add_argument("--device", default="cuda", help=argparse.SUPPRESS)  # cpu: a dry run
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("benchmarks.search_gpu needs torch with a CUDA device")
    bandwidth = device_bandwidth(device)
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"{n:,} signatures ...", file=sys.stderr, flush=True)
        results.append(measure(n, args.queries, device, bandwidth))
        torch.cuda.empty_cache() if device.type == "cuda" else None
    name = torch.cuda.get_device_name() if device.type == "cuda" else "the CPU (dry run)"
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"device": name, "results": results}, out)
    print(report(results, name))


if __name__ == "__main__":
    main()

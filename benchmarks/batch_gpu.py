"""The issue's GPU target in one short run: 5,000 queries at once against 1,000,000 signatures x
23,614 genes, exactly, with search_many's gpu path.

The signatures are `benchmarks.search`'s generator, ranked on the device itself into the (G, N)
int16 matrix the gpu path holds (`benchmarks.search_gpu.device_ranks`; writing a 47 GB index to
disk first would take most of a lent device's time). The index around it is real (genes,
metadata, top genes) except its host rank matrix, a sparse file that is never written: the gpu
path reads the device's copy. Queries: the 250 most raised and lowered genes of held-out
signatures, one strong hit each.

Measured: the ranks made on the device; `search_many(path="gpu")` over every query (each a whole
answer: top 100 with z, p and FDR over all N), queries a minute and the time 5,000 take; the
device's and the host's peak memory. Checked in the same run: the first --check answers equal the
same queries searched one by one (`index.search(path="gpu")`, table for table), and their rank
sums equal plain int64 sums of the same rows copied to the host.

Run on a CUDA host: python -m benchmarks.batch_gpu [--signatures 1000000] [--queries 5000]
[--check 4] [--dir D]. `--device cpu` runs the same torch code on the CPU at a small size (a
smoke run of the script, not a GPU figure).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import machine, markdown, scratch_folder
from benchmarks.search import SyntheticSignatures
from benchmarks.search_gpu import device_ranks, sync
from search.engine import many, searching
from search.engine.backends.torch_gpu import DeviceRanks
from search.engine.index import SearchIndex
from search.engine.metadata import Selection, write_metadata
from search.engine.searching import gene_query

K = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=5_000)
    parser.add_argument("--check", type=int, default=4)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dir", default=os.environ.get("SEARCH_BENCH_DIR", "/tmp"))
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type != "cuda":  # the smoke run: the gpu path's torch code on this device
        searching.gpu_backend = many.gpu_backend = lambda index: "torch"  # type: ignore[attr-defined]
    with scratch_folder("batch-gpu-bench-", args.dir) as folder:
        print(run(args, device, folder))


def run(args: argparse.Namespace, device: torch.device, folder: Path) -> str:
    n, q = args.signatures, args.queries
    started = time.perf_counter()
    source = SyntheticSignatures(n, held_out=q)
    matrix = device_ranks(source, n, device)
    sync(device)
    made_s = time.perf_counter() - started
    index = _index(folder, source, matrix)
    asked = source.held_out_queries(q)
    many.search_many(index, asked[:2], k=K, path="gpu")  # the kernels, once
    _reset_peak(device)
    sync(device)
    started = time.perf_counter()
    found = many.search_many(index, asked, k=K, path="gpu")
    sync(device)
    seconds = time.perf_counter() - started
    device_peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
    alone = [index.search(up, down, k=K, path="gpu") for up, down in asked[: args.check]]
    same = all(a.table.equals(b.table) for a, b in zip(found, alone, strict=False))
    exact = _sums_exact(index, matrix, asked[: args.check])
    rate = 60 * q / seconds
    row = {
        "signatures": n,
        "genes": source.n_genes,
        "queries": q,
        "seconds": seconds,
        "queries/min": rate,
        "5,000 queries (s)": 5000 * 60 / rate,
        "device peak (GB)": device_peak / 1e9,
        "host RSS peak (GB)": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "torch CPU device"
    return (
        f"search_many(path='gpu') on {where} (host: {machine()}); ranks made on the device in "
        f"{made_s:.0f} s ({matrix.numel() * 2 / 1e9:.1f} GB); queries of 2 x 250 genes, top {K}; "
        f"the first {args.check} answers equal one-by-one gpu searches: {same}; their rank "
        f"sums equal int64 sums on the host: {exact}\n\n" + markdown([row])
    )


def _index(folder: Path, source: SyntheticSignatures, matrix: torch.Tensor) -> SearchIndex:
    """An index whose rank matrix is the device's: genes, metadata and top genes on disk, the
    host's ranks a sparse file of the right shape (never read by the gpu path)."""
    n = matrix.shape[1]
    (folder / "genes.txt").write_text("".join(f"{g}\n" for g in source.genes), encoding="utf-8")
    in_generator_order = np.argsort(source.positions)  # column j is generator position j
    write_metadata(folder / "metadata.h5", source.metadata.iloc[in_generator_order])
    np.lib.format.open_memmap(folder / "ranks.npy", "w+", np.uint16, tuple(matrix.shape))
    np.save(folder / "top_genes.npy", np.zeros((n, 2, 1), dtype=np.uint16))
    index = SearchIndex(folder, {"version": "batch-gpu-benchmark", "n_signatures": n})
    index._device_ranks = DeviceRanks.from_tensor(matrix)
    return index


def _sums_exact(
    index: SearchIndex, matrix: torch.Tensor, asked: list[tuple[list[str], list[str]]]
) -> bool:
    """The batch kernel's rank sums against int64 sums of the same rows on the host."""
    found = [gene_query(index, up, down) for up, down in asked]
    sides = [side for query in found for side in (query.up, query.down)]
    every = Selection.every(matrix.shape[1])
    sums = index.device_ranks().many_sums(sides, every).cpu().numpy()
    for got, rows in zip(sums, sides, strict=True):
        host = matrix[torch.as_tensor(rows, device=matrix.device)].cpu().numpy()
        if not np.array_equal(got, host.astype(np.int64).sum(axis=0)):
            return False
    return True


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


if __name__ == "__main__":
    main()

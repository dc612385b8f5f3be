"""The index build per million signatures: float32 signatures ranked, transposed to gene-major,
embedded and coded for the fast mode, calibrated.

Generated float32 signatures (the search benchmark's generator: shared latent effects plus
noise) over the full gene space (23,614 genes) are built into an index with the portal's
settings, timed end to end, and the time projected to 1,000,000 signatures (linear: it holds
while the index fits the page cache; at 1M it does not on 24 GB, see docs/benchmarks/build.md).
The ranking, the build's own CPU step, is also timed alone on a sample: the compiled radix sort
(backends/radix.py) against the numpy argsort it replaced, measured in the same run.
`--writes N` instead times the writing of a gene-major uint16 matrix of N signatures alone, both
ways in the same run: the build's positioned writes (`gene_major.GeneMajorWriter`) against the
memory map it used before (the baseline, kept here), each with the same 512 MB buffer and ended
on disk (fsync or msync). The gap opens when the matrix outgrows the page cache (N = 600,000 is
28 GB).
`--split N` times the copy of the first of 2 shards' ranks out of such a matrix of N signatures,
as `write_shards` makes it, both ways in the same run: `gene_major.copy_columns` (file to file,
a row's run a call) against the memory maps write_shards used before (the baseline, kept here).
Run: python -m benchmarks.build [--signatures N] [--no-values] [--writes N | --split N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import best_time, machine, markdown, scratch_folder
from benchmarks.search import SyntheticSignatures
from search.engine.build import BuildSettings, build_index, ranks_of
from search.engine.gene_major import GeneMajorWriter, buffer_columns, copy_columns

SAMPLE = 2000  # signatures ranked for the ranking rows


class FloatSignatures(SyntheticSignatures):
    """The generator's signatures as the signature pipeline writes them: float32 values."""

    def read(self, positions: np.ndarray) -> np.ndarray:
        return self.values(self.positions[np.asarray(positions)])


def argsort_ranks(values: np.ndarray) -> np.ndarray:
    """The ranking the radix sort replaced, without its second, stable sort of the rows with ties
    (a lower bound of its time): numpy's argsort of each row, ranks put back."""
    order = np.argsort(values, axis=1)
    ranks = np.empty(values.shape, dtype=np.uint16)
    np.put_along_axis(ranks, order, np.arange(1, values.shape[1] + 1, dtype=np.uint16)[None], 1)
    return ranks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--signatures", type=int, default=100_000)
    parser.add_argument("--dir", default="/tmp", help="where the index is written, then deleted")
    parser.add_argument(
        "--no-values",
        action="store_true",
        help="without values.npy (the cd score's float32 matrix: 94 GB at a million)",
    )
    parser.add_argument("--writes", type=int, help="time the gene-major writes alone, N signatures")
    parser.add_argument(
        "--split", type=int, help="time the copy of a shard's ranks alone, from N signatures"
    )
    args = parser.parse_args()
    if args.writes:
        print(write_comparison(args.writes, args.dir))
        return
    if args.split:
        print(split_comparison(args.split, args.dir))
        return
    source = FloatSignatures(args.signatures)
    sample = source.read(np.arange(min(SAMPLE, args.signatures)))
    ranks_of(sample[:2])  # compile the radix kernel
    if not np.array_equal(ranks_of(sample)[0], ranks_of(sample.astype(np.float64))[0]):
        raise AssertionError("the radix ranks differ from numpy's sorts on the sample")
    reading = len(sample) / best_time(lambda: source.read(np.arange(len(sample))), repeats=2)
    baseline = len(sample) / best_time(lambda: argsort_ranks(sample), repeats=2)
    radix = len(sample) / best_time(lambda: ranks_of(sample), repeats=2)
    settings = replace(BuildSettings(), full_checksums=False, store_values=not args.no_values)
    with scratch_folder("build-bench-", args.dir) as folder:
        started = time.perf_counter()
        build_index(source, folder / "index", settings)
        build_s = time.perf_counter() - started
        size_gb = sum(f.stat().st_size for f in (folder / "index").rglob("*") if f.is_file()) / 1e9
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    per_million = 1e6 / args.signatures
    rows = [
        {
            "step": "generating the source alone (inside the whole build)",
            "signatures/s": reading,
            "vs baseline": reading / baseline,
            "per 1,000,000 (min)": per_million * args.signatures / reading / 60,
        },
        {
            "step": "ranking alone, numpy argsort (baseline)",
            "signatures/s": baseline,
            "vs baseline": 1.0,
            "per 1,000,000 (min)": per_million * args.signatures / baseline / 60,
        },
        {
            "step": "ranking alone, radix sort",
            "signatures/s": radix,
            "vs baseline": radix / baseline,
            "per 1,000,000 (min)": per_million * args.signatures / radix / 60,
        },
        {
            "step": f"whole build, {settings.threads} threads",
            "signatures/s": args.signatures / build_s,
            "vs baseline": args.signatures / build_s / baseline,
            "per 1,000,000 (min)": per_million * build_s / 60,
        },
    ]
    print(
        f"Index build benchmark on {machine()}: {args.signatures:,} float32 signatures x "
        f"{source.n_genes:,} genes (one thread for the ranking rows); "
        f"{'without' if args.no_values else 'with'} the cd score's values; index {size_gb:.1f} GB "
        f"on disk; peak RSS {peak_gb:.1f} GB\n"
    )
    print(markdown(rows))


def write_comparison(n: int, parent: str) -> str:
    """Both ways of writing a (23,614, n) uint16 gene-major matrix, block by block."""
    n_genes, block, columns = _ranks_block()
    rows: list[dict[str, Any]] = []
    for name, writer in (
        ("through a memory map (before, baseline)", _MappedWrites),
        ("positioned writes (GeneMajorWriter)", GeneMajorWriter),
    ):
        with scratch_folder("write-bench-", parent) as folder:
            path = folder / "ranks.npy"
            rows.append({"way": name, **_timed(_write, writer, path, columns, n)})
            written = np.load(path, mmap_mode="r")
            last = n - (n - 1) // block * block
            if not (
                np.array_equal(written[:, :block], columns)
                and np.array_equal(written[:, n - last :], columns[:, :last])
            ):
                raise AssertionError(f"{name}: the file does not hold the columns written")
    _against_the_first(rows)
    return (
        f"Gene-major writes alone on {machine()}: {n_genes:,} x {n:,} uint16 "
        f"({2 * n_genes * n / 1e9:.1f} GB), blocks of {block} signatures\n\n" + markdown(rows)
    )


def split_comparison(n: int, parent: str) -> str:
    """Both ways of copying the first of 2 shards' ranks out of a (23,614, n) uint16 gene-major
    matrix on disk, as write_shards does."""
    n_genes, block, columns = _ranks_block()
    stop = n // 2
    rows: list[dict[str, Any]] = []
    with scratch_folder("split-bench-", parent) as folder:
        _write(GeneMajorWriter, folder / "whole.npy", columns, n)
        for name, copy in (
            ("through memory maps (before, baseline)", _mapped_copy),
            ("file to file, a row's run a call (gene_major.copy_columns)", copy_columns),
        ):
            path = folder / "shard-0.npy"
            rows.append({"way": name, **_timed(copy, folder / "whole.npy", 0, stop, path)})
            whole, shard = (np.load(p, mmap_mode="r") for p in (folder / "whole.npy", path))
            for lo in (0, (stop - 1) // block * block):  # the first block and the last
                hi = min(stop, lo + block)
                if not np.array_equal(shard[:, lo:hi], whole[:, lo:hi]):
                    raise AssertionError(f"{name}: columns from {lo} differ from the source's")
            del whole, shard
            path.unlink()
    _against_the_first(rows)
    return (
        f"A shard's ranks copied alone on {machine()}: columns 0:{stop:,} of a {n_genes:,} x "
        f"{n:,} uint16 matrix ({2 * n_genes * stop / 1e9:.1f} GB of {2 * n_genes * n / 1e9:.1f})"
        "\n\n" + markdown(rows)
    )


def _ranks_block() -> tuple[int, int, np.ndarray]:
    """The gene space's size, the build's block of signatures, and one block of random uint16
    ranks (genes x block) that the comparisons write over and over."""
    n_genes, block = 23_614, BuildSettings().block
    columns = np.random.default_rng(0).integers(1, n_genes + 1, (n_genes, block), dtype=np.uint16)
    return n_genes, block, columns


def _against_the_first(rows: list[dict[str, Any]]) -> None:
    """Each row's speed against the first's (the baseline): its wall time over theirs."""
    for row in rows:
        row["vs baseline"] = rows[0]["wall (s)"] / row["wall (s)"]


def _mapped_copy(source: Path, start: int, stop: int, path: Path) -> None:
    """write_shards' copy before: 65,536 columns at a time from one memory map into another."""
    matrix = np.load(source, mmap_mode="r")
    out = np.lib.format.open_memmap(path, "w+", matrix.dtype, (matrix.shape[0], stop - start))
    for lo in range(start, stop, 1 << 16):
        hi = min(stop, lo + (1 << 16))
        out[:, lo - start : hi - start] = matrix[:, lo:hi]
    out.flush()


class _MappedWrites:
    """The build's writer before positioned writes: the buffer assigned into a memory map."""

    def __init__(self, path: Path, dtype: type, shape: tuple[int, int], block: int) -> None:
        self.array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
        columns = min(shape[1], buffer_columns(shape, dtype, block))
        self.buffer: np.ndarray = np.empty((shape[0], columns), dtype=dtype)
        self.start = self.filled = 0

    def put(self, first: int, block: np.ndarray) -> None:
        if self.filled + block.shape[1] > self.buffer.shape[1]:
            self.flush()
        self.buffer[:, self.filled : self.filled + block.shape[1]] = block
        self.filled += block.shape[1]

    def flush(self) -> None:
        self.array[:, self.start : self.start + self.filled] = self.buffer[:, : self.filled]
        self.start += self.filled
        self.filled = 0
        self.array.flush()


def _write(writer: Callable[..., object], path: Path, columns: np.ndarray, n: int) -> None:
    out = writer(path, np.uint16, (columns.shape[0], n), columns.shape[1])
    for first in range(0, n, columns.shape[1]):
        out.put(first, columns[:, : min(columns.shape[1], n - first)])  # type: ignore[attr-defined]
    out.flush()  # type: ignore[attr-defined]


def _timed(work: Callable[..., None], *args: object) -> dict[str, float]:
    """Wall, user and system seconds and page faults of work(*args)."""
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    work(*args)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall (s)": wall,
        "user (s)": after.ru_utime - before.ru_utime,
        "system (s)": after.ru_stime - before.ru_stime,
        "major faults": after.ru_majflt - before.ru_majflt,
        "minor faults": after.ru_minflt - before.ru_minflt,
    }


if __name__ == "__main__":
    main()

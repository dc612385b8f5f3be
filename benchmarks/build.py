"""The index build per million signatures: float32 signatures ranked, transposed to gene-major,
embedded and coded for the fast mode, calibrated.

Generated float32 signatures (the search benchmark's generator: shared latent effects plus
noise) over the full gene space (23,614 genes) are built into an index with the portal's
settings, timed end to end, and the time projected to 1,000,000 signatures (linear: it holds
while the index fits the page cache; at 1M it does not on 24 GB, see docs/benchmarks/build.md).
The ranking, the build's own CPU step, is also timed alone on a sample: the compiled radix sort
(backends/radix.py) against the numpy argsort it replaced, measured in the same run.
Run: python -m benchmarks.build [--signatures N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import resource
import time
from dataclasses import replace

import numpy as np

from benchmarks.common import best_time, machine, markdown, scratch_folder
from benchmarks.search import SyntheticSignatures
from search.engine.build import BuildSettings, build_index, ranks_of

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
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()

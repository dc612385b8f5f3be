"""Signatures/s: the per-batch characteristic direction against the naive per-signature method.

One batch as the world makes it (3 replicate plates of 384 profiles, 348 compound signatures of 3
cases each) over the full RNA-seq-like gene space (23,614 genes), on this machine's CPU:
- batch: `batch_signatures` (one PCA and covariance per batch, then one product for every
  signature, cd.BatchDirections);
- batch through the loadings: the same shared PCA, each signature projected on the loadings
  V S^-1 V' m as before the n x n form (two more gene-sized products), in the same run;
- n x n form as first written: the z-scores and the centred profiles each a temporary of their
  own (before standardize worked in one copy and the Gram matrix was centred from X'X), in the
  same run; and the whole step as first written, its fold changes a product of their own.
- naive: the released algorithm run per signature (its own z-scoring, PCA and inverse), timed on a
  few signatures and scaled to the batch.
The CPU forms take turns, the order rotated each round (--rounds, 5), and each row gives its
median, so that the machine's drift falls on all of them alike; beside it the Python heap's peak
over one more, untimed run (tracemalloc: numpy's buffers; the input batch, 0.1 GB, not counted).
On a GPU also the batch rule through torch (`SignatureSettings(device="cuda")`), with its largest
difference from the CPU's CD vectors. Projected time for 1,000,000 signatures from the batch rate.
Run: python -m benchmarks.signatures
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from benchmarks.common import best_time, interleaved, machine, markdown
from transform.signatures.cd import (
    BatchDirections,
    characteristic_direction,
    kept_components,
    principal_components,
    shrunk_inverse,
)
from transform.signatures.compute import SignatureSettings, batch_signatures


def synthetic_batch(genes: int, plates: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    wells = 384 * plates
    factors = rng.normal(0, 1, (genes, 20)).astype(np.float32) @ rng.normal(
        0, 1, (20, wells)
    ).astype(np.float32)
    profiles = 1.5 + rng.gamma(2.0, 0.5, (genes, 1)).astype(np.float32) + 0.2 * factors
    profiles += rng.normal(0, 0.2, (genes, wells)).astype(np.float32)
    compound = np.tile(np.r_[np.full(36, -1), np.repeat(np.arange(58), 6)], plates)
    dose = np.tile(np.r_[np.full(36, -1), np.tile(np.arange(6), 58)], plates)
    inst = pd.DataFrame(
        {
            "pert_type": np.where(compound < 0, "ctl_vehicle", "trt_cp"),
            "key": [f"{c}-{d}" for c, d in zip(compound, dose, strict=True)],
        },
        index=[f"w{i}" for i in range(wells)],
    )
    treated = inst[inst["pert_type"] == "trt_cp"]
    sigs = pd.DataFrame({"distil_id": ["|".join(g.index) for _, g in treated.groupby("key")]})
    return np.maximum(profiles, 0), inst, sigs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--genes", type=int, default=23614)
    parser.add_argument("--plates", type=int, default=3)
    parser.add_argument("--naive-signatures", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    profiles, inst, sigs = synthetic_batch(args.genes, args.plates)
    on_cpu = batch_signatures(profiles, inst, sigs, SignatureSettings())
    all_masks = np.column_stack([inst.index.isin(d.split("|")) for d in sigs["distil_id"]])
    square = BatchDirections.fit(profiles).signatures(all_masks)
    difference = float(np.abs(_through_loadings(profiles, all_masks) - square).max())
    first_difference = float(np.abs(_square_as_first_written(profiles, all_masks) - square).max())
    runs: dict[str, Callable[[], object]] = {
        "per batch through the loadings (the previous form)": lambda: _through_loadings(
            profiles, all_masks
        ),
        "per batch, n x n form as first written (max |CD - n x n form's| "
        f"{first_difference:.1e})": lambda: _square_as_first_written(profiles, all_masks),
        f"per batch, n x n form (max |CD - previous form's| {difference:.1e})": lambda: (
            BatchDirections.fit(profiles).signatures(all_masks)
        ),
        "the whole step as first written: n x n form, fold changes by a product of their "
        "own": lambda: _whole_step_as_first_written(profiles, all_masks),
        "the whole step: n x n form, fold changes from the same product, float32": lambda: (
            batch_signatures(profiles, inst, sigs, SignatureSettings())
        ),
    }
    medians = {
        name: float(np.median(t)) for name, t in interleaved(runs, rounds=args.rounds).items()
    }
    masks = [inst.index.isin(d.split("|")) for d in sigs["distil_id"][: args.naive_signatures]]
    started = time.perf_counter()
    for mask in masks:
        characteristic_direction(profiles[:, ~mask], profiles[:, mask])
    naive_per_signature = (time.perf_counter() - started) / len(masks)
    n = len(sigs)
    naive_rate = 1 / naive_per_signature
    naive_peak = heap_peak(
        lambda: characteristic_direction(profiles[:, ~masks[0]], profiles[:, masks[0]])
    )
    rows = [
        _row("per signature (the same algorithm, each alone)", naive_rate, naive_rate, naive_peak)
    ]
    rows += [
        _row(name, n / medians[name], naive_rate, heap_peak(run)) for name, run in runs.items()
    ]
    if torch.cuda.is_available():
        rows.append(_gpu_row(profiles, inst, sigs, on_cpu.cd, naive_rate))
    print(
        f"Signatures benchmark on {machine()}: one batch of {inst.shape[0]} profiles x "
        f"{args.genes} genes, {n} signatures\n"
    )
    print(markdown(rows))


def _through_loadings(profiles: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The batch rule as computed before the n x n form: b = V S^-1 V' m for each signature."""
    data = _standardized_as_first_written(profiles)
    loadings, scores = principal_components(data)
    projector = loadings @ shrunk_inverse(scores, 1.0).T
    n_cases = masks.sum(axis=0)
    case_sums = data @ masks.astype(np.float64)
    total = data.sum(axis=1, keepdims=True)
    differences = case_sums / n_cases - (total - case_sums) / (masks.shape[0] - n_cases)
    b = projector @ (loadings.T @ differences)
    unit: np.ndarray = b / np.linalg.norm(b, axis=0, keepdims=True)
    return unit


def _standardized_as_first_written(profiles: np.ndarray) -> np.ndarray:
    """cd.standardize before it worked in one copy: the float64 profiles, their deviations and
    the z-scores each an array of their own."""
    data = np.asarray(profiles, dtype=np.float64)
    mean, sd = data.mean(axis=0, keepdims=True), data.std(axis=0, keepdims=True)
    z: np.ndarray = (data - mean) / np.where(sd > 0, sd, 1.0)
    return z


def _square_as_first_written(profiles: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """BatchDirections.fit(profiles).signatures(masks) (gamma 1) as first written: the centred
    profiles formed for their Gram matrix, b = X (U s U' w) less the mean's part."""
    data = _standardized_as_first_written(profiles)
    mean = data.mean(axis=1)
    centred = data - mean[:, None]
    kept, basis = kept_components(centred.T @ centred)
    mix = (basis / (kept / (data.shape[1] - 2))) @ basis.T
    n_cases = masks.sum(axis=0)
    mixed = mix @ (masks / n_cases - ~masks / (masks.shape[0] - n_cases))
    b = data @ mixed - np.outer(mean, mixed.sum(axis=0))
    unit: np.ndarray = b / np.linalg.norm(b, axis=0, keepdims=True)
    return unit


def _whole_step_as_first_written(
    profiles: np.ndarray, masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """batch_signatures (batch rule, log10 profiles) as first written: the CD vectors, then the
    fold changes as the float64 profiles times the case-less-control weights."""
    cd = _square_as_first_written(profiles, masks)
    n_cases = masks.sum(axis=0)
    weights = masks / n_cases - ~masks / (masks.shape[0] - n_cases)
    lfc = (np.asarray(profiles, dtype=np.float64) @ weights) * np.log2(10.0)
    return cd.astype(np.float32), lfc.astype(np.float32)


def _gpu_row(
    profiles: np.ndarray,
    inst: pd.DataFrame,
    sigs: pd.DataFrame,
    cpu_cd: np.ndarray,
    naive_rate: float,
) -> dict[str, object]:
    """The whole step through torch on the GPU (best of 3 after a warm-up), its largest
    difference from the CPU's unit CD vectors, and its peak of device memory (in the heap
    column)."""
    settings = SignatureSettings(device="cuda")
    batch_signatures(profiles, inst, sigs, settings)  # CUDA context, kernels, cuBLAS
    seconds = best_time(lambda: batch_signatures(profiles, inst, sigs, settings))
    torch.cuda.reset_peak_memory_stats()
    cd = batch_signatures(profiles, inst, sigs, settings).cd
    peak = torch.cuda.max_memory_allocated() / 2**30
    difference = float(np.abs(cd - cpu_cd).max())
    gpu = torch.cuda.get_device_name()
    name = f"the whole step on the GPU ({gpu}; max |CD - CPU's| {difference:.1e}; device memory)"
    return _row(name, len(sigs) / seconds, naive_rate, peak)


def _row(method: str, rate: float, baseline: float, peak: float | None) -> dict[str, object]:
    return {
        "method": method,
        "signatures/s": rate,
        "speed-up": rate / baseline,
        "1,000,000 signatures (h)": 1e6 / rate / 3600,
        "heap peak (GB)": "" if peak is None else peak,
    }


def heap_peak(run: Callable[[], object]) -> float:
    """The Python heap's peak over one untimed run, in GB (tracemalloc: numpy's buffers)."""
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1] / 2**30
    tracemalloc.stop()
    return peak


if __name__ == "__main__":
    main()

"""Step 2: the extrapolator, RNA-seq landmarks -> every output gene, trained on RNA-seq alone.

As the paper: MSE loss; Adam lr 2e-4, weight decay 1e-4; lr x0.5 every 10 epochs; batch 100; at
most 100 epochs; early stopping after 3 epochs without a validation gain of at least 1e-4. The
split is 49,000 / 500 / 500 of 50,000 samples, scaled down for smaller collections
(`split_sizes`); it is drawn with the data seed, so every run on the same data has the same test
samples (listed in RUN_DIR/split.tsv). The weights of the best validation epoch are kept beside
the last ones, and are the ones scored on the test samples and bundled.

Not in the paper (demo preset): a standardized extrapolator z-scores its inputs with the training
samples' per-gene means and SDs (buffers saved with its weights), which it learns from an order of
magnitude faster on small collections (docs/training.md).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from transform.evaluate.baselines import Ridge, RidgeSums
from transform.models import Extrapolator
from transform.train.checkpoint import make_deterministic, resolve_device, save_checkpoint
from transform.train.config import ExtrapolatorTrainConfig, split_sizes
from transform.train.moments import gene_moments
from transform.train.prepare import PreparedData
from transform.train.session import (
    ProgressLine,
    Session,
    Stateful,
    format_losses,
    open_run,
    run_epochs,
)

EVAL_CHUNK = 1000  # samples scored at once


class EarlyStopping:
    """Stop after `patience` epochs without a validation loss below best - min_delta."""

    def __init__(self, patience: int, min_delta: float) -> None:
        self.patience, self.min_delta = patience, min_delta
        self.best, self.best_epoch, self.bad_epochs = math.inf, 0, 0
        self.best_state: dict[str, torch.Tensor] = {}

    def update(self, loss: float, epoch: int, model: nn.Module) -> None:
        if loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = loss, epoch, 0
            self.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.bad_epochs, self.best_state = state["bad_epochs"], dict(state["best_state"])


def split_samples(n_samples: int, config: ExtrapolatorTrainConfig) -> dict[str, np.ndarray]:
    """Sorted sample positions of the train, validation and test parts (data seed)."""
    sizes = split_sizes(n_samples, config.split)
    order = np.random.default_rng([config.data.seed, 4]).permutation(n_samples)
    bounds = np.cumsum([0, *sizes])
    names = ("train", "validation", "test")
    return {name: np.sort(order[bounds[i] : bounds[i + 1]]) for i, name in enumerate(names)}


def write_split(parts: dict[str, np.ndarray], sample_ids: tuple[str, ...], path: Path) -> None:
    rows = sorted((int(at), name) for name, positions in parts.items() for at in positions)
    path.write_text(
        "sample_id\tsplit\n" + "".join(f"{sample_ids[at]}\t{name}\n" for at, name in rows)
    )


def mean_profile(profiles: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(n_genes,) float32 mean of the rows at `positions`, summed chunk by chunk in float64."""
    total = np.zeros(profiles.shape[1], dtype=np.float64)
    for start in range(0, len(positions), EVAL_CHUNK):
        total += profiles[positions[start : start + EVAL_CHUNK]].sum(axis=0, dtype=np.float64)
    return (total / len(positions)).astype(np.float32)


def input_moments(inputs: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and SD (n_input,) of the training samples' inputs."""
    return gene_moments(np.asarray(inputs[np.sort(positions)], dtype=np.float64))


def linear_path(
    model: Extrapolator, data: PreparedData, split: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(coef (n_in, n_out), intercept (n_out,)) of the ridge regression from the inputs the
    network sees to the outputs: fitted on the training samples, its alpha chosen on the
    validation samples (the evaluation's CMap-style ridge, `baselines.Ridge`), then refitted on
    both. Streamed EVAL_CHUNK samples at a time from running sums."""
    n_in, n_out = len(data.input_genes), len(data.output_genes)
    mean = sd = None
    if model.config.standardized:
        mean, sd = (
            getattr(model, name).cpu().double().numpy() for name in ("input_mean", "input_sd")
        )
    sums = []
    for part in ("train", "validation"):
        total, positions = RidgeSums.empty(n_in, n_out), np.sort(split[part])
        for start in range(0, len(positions), EVAL_CHUNK):
            at = positions[start : start + EVAL_CHUNK]
            x = np.asarray(data.rnaseq_inputs[at], dtype=np.float64)
            if mean is not None:
                x = (x - mean) / sd
            total.add(x.T, np.asarray(data.rnaseq_outputs[at], dtype=np.float64).T)
        sums.append(total)
    ridge = Ridge.from_sums(sums[0], sums[1])
    return ridge.coef, ridge.y_mean - ridge.coef.T @ ridge.x_mean


class Batches:
    """(inputs, targets) of sample positions: inputs held on the device, targets read on demand."""

    def __init__(self, data: PreparedData, device: torch.device) -> None:
        self.inputs = torch.from_numpy(np.array(data.rnaseq_inputs, dtype=np.float32)).to(device)
        self.targets = data.rnaseq_outputs  # (n_samples, n_output), memory-mapped
        self.device = device

    def __call__(self, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        at = np.sort(positions)
        targets = torch.from_numpy(np.asarray(self.targets[at], dtype=np.float32))
        return self.inputs[torch.from_numpy(at)], targets.to(self.device)


@torch.no_grad()
def mean_squared_error(model: nn.Module, batches: Batches, positions: np.ndarray) -> float:
    """MSE over every gene of every sample at `positions`, accumulated in float64."""
    model.eval()
    total = 0.0
    for start in range(0, len(positions), EVAL_CHUNK):
        inputs, targets = batches(positions[start : start + EVAL_CHUNK])
        total += float(F.mse_loss(model(inputs), targets, reduction="sum").double())
    n_genes: int = batches.targets.shape[1]
    return total / (len(positions) * n_genes)


def train_extrapolator(
    config: ExtrapolatorTrainConfig,
    data: PreparedData,
    run_dir: Path,
    *,
    device: str = "cpu",
    resume: bool = False,
    until_epoch: int | None = None,
    progress: ProgressLine | None = None,
) -> Path:
    """Train (or resume) step 2 into run_dir; returns the checkpoint path."""
    saved = open_run(run_dir, kind="extrapolator", resume=resume)
    where = resolve_device(device)
    make_deterministic(config.seed)
    model = Extrapolator(len(data.input_genes), len(data.output_genes), config.model).to(where)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.lr_step_epochs, config.lr_gamma)
    early = EarlyStopping(config.patience, config.min_delta)
    parts: dict[str, Stateful] = {
        "model": model,
        "optimizer": optimizer,
        "scheduler": scheduler,
        "early_stopping": early,
    }
    session = Session(
        "extrapolator", config, parts, data.genes_state(), data.manifest, device=str(where)
    )
    split = split_samples(len(data.rnaseq_ids), config)
    if config.model.standardized:
        model.set_scales(*input_moments(data.rnaseq_inputs, split["train"]))
    if config.model.linear:
        model.set_linear(*linear_path(model, data, split))
    elif config.start_at_mean:
        model.start_at(torch.from_numpy(mean_profile(data.rnaseq_outputs, split["train"])))
    if saved is not None:
        session.restore(saved)
    write_split(split, data.rnaseq_ids, run_dir / "split.tsv")
    batches = Batches(data, where)
    line = progress or ProgressLine("extrapolator")

    def train_epoch(epoch: int) -> dict[str, float]:
        model.train()
        order = np.random.default_rng([config.seed, 0, epoch]).permutation(split["train"])
        total, seen, started = 0.0, 0, time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        for start in range(0, len(order), config.batch_size):
            inputs, targets = batches(order[start : start + config.batch_size])
            loss = F.mse_loss(model(inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]  # torch: Tensor.backward unannotated
            optimizer.step()
            total, seen = total + float(loss.detach()) * len(inputs), seen + len(inputs)
            rate = seen / (time.perf_counter() - started)
            line.update(
                f"epoch {epoch}/{config.epochs} [{seen}/{len(order)}] "
                f"mse {float(loss.detach()):.4g}  {rate:,.0f} samples/s"
            )
        seconds = time.perf_counter() - started
        scheduler.step()
        validation = mean_squared_error(model, batches, split["validation"])
        early.update(validation, epoch, model)
        losses = {"train_mse": total / seen, "val_mse": validation}
        line.done(
            f"epoch {epoch}/{config.epochs} {format_losses(losses)}  "
            f"{seen / seconds:,.0f} samples/s"
        )
        return {**losses, "lr": lr, "samples_per_s": seen / seconds, "seconds": seconds}

    path = run_epochs(
        session,
        run_dir,
        train_epoch,
        epochs=config.epochs,
        until_epoch=until_epoch,
        stop=lambda: early.should_stop,
    )
    if session.stopped or session.epoch >= config.epochs:
        session.results = _test_results(model, early, batches, split["test"])
        save_checkpoint(session.state(), path)
        line.done(format_losses(session.results))
    return path


def _test_results(
    model: nn.Module, early: EarlyStopping, batches: Batches, test: np.ndarray
) -> dict[str, float]:
    """Score the best validation epoch's weights on the test samples."""
    model.load_state_dict(early.best_state)
    return {
        "test_mse": mean_squared_error(model, batches, test),
        "best_epoch": early.best_epoch,
        "best_val_mse": early.best,
    }

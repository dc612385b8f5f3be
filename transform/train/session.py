"""The epoch loop both steps share: resume, per-epoch checkpoint and metrics, progress line.

A `Session` holds everything that changes while training (networks, optimizers, schedulers,
replay buffers, early-stopping state: anything with state_dict / load_state_dict) and what a
checkpoint must carry besides. After every epoch the whole session is saved to
RUN_DIR/checkpoint.pt and the metrics of all epochs to RUN_DIR/metrics.csv, so an interrupted
run resumes at the last finished epoch and ends exactly as an uninterrupted one (on the CPU).
"""

from __future__ import annotations

import csv
import io
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from transform.frozen import FrozenConfig
from transform.gene_space import GeneSpace
from transform.train.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    FORMAT_VERSION,
    load_checkpoint,
    restore_rng,
    rng_state,
    save_checkpoint,
    versions,
)

METRICS_NAME = "metrics.csv"


class Stateful(Protocol):
    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> Any: ...


@dataclass
class Session:
    kind: str  # "cyclegan" or "extrapolator"
    config: FrozenConfig
    parts: dict[str, Stateful]
    genes: dict[str, Any]  # PreparedData.genes_state()
    data: dict[str, Any]  # the prepared data's manifest
    epoch: int = 0  # epochs finished
    stopped: bool = False  # stopped early (no more epochs, even when asked for more)
    history: list[dict[str, float]] = field(default_factory=list)
    results: dict[str, float] = field(default_factory=dict)  # e.g. the test scores at the end
    device: str = "cpu"

    def state(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "config": self.config.as_dict(),
            "seed": getattr(self.config, "seed", None),
            "genes": self.genes,
            "data": self.data,
            "state": {name: part.state_dict() for name, part in self.parts.items()},
            "epoch": self.epoch,
            "stopped": self.stopped,
            "history": self.history,
            "results": self.results,
            "rng": rng_state(),
            "versions": versions(),
            "device": self.device,
        }

    def restore(self, saved: dict[str, Any]) -> None:
        """Continue from a checkpoint of the same run: same config (but for a longer `epochs`),
        same prepared data."""
        if _but_epochs(saved["config"]) != _but_epochs(self.config.as_dict()):
            raise ValueError("the checkpoint was made with another config; resume without options")
        require_same_genes(saved["genes"], self.genes, what="the training data")
        if saved["data"].get("key") != self.data.get("key"):
            raise ValueError("the checkpoint was trained on other prepared data")
        for name, part in self.parts.items():
            part.load_state_dict(saved["state"][name])
        self.epoch, self.stopped = saved["epoch"], saved["stopped"]
        self.history, self.results = list(saved["history"]), dict(saved["results"])
        restore_rng(saved["rng"])


def require_same_genes(expected: dict[str, Any], given: dict[str, Any], *, what: str) -> None:
    """Raise GeneSpaceMismatch (naming the genes) unless `given` has the input and output gene
    spaces of `expected` (both `PreparedData.genes_state()` dicts)."""
    for name in ("input_genes", "output_genes"):
        GeneSpace.from_dict(expected[name]).require_same(
            GeneSpace.from_dict(given[name]), what=f"{what} ({name.replace('_', ' ')})"
        )


def _but_epochs(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key != "epochs"}


def open_run(run_dir: Path, *, kind: str, resume: bool) -> dict[str, Any] | None:
    """The checkpoint to resume from (None to start: a new run, or one stopped before its first
    checkpoint); refuses to overwrite a run unless resuming."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / CHECKPOINT_NAME
    if not path.exists():
        return None
    if not resume:
        raise FileExistsError(f"{run_dir} holds a run; pass --resume to continue it")
    return load_checkpoint(path, kind=kind)


EpochFn = Callable[[int], dict[str, float]]


def run_epochs(
    session: Session,
    run_dir: Path,
    train_epoch: EpochFn,
    *,
    epochs: int,
    until_epoch: int | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> Path:
    """Train epoch after epoch up to `epochs` (or `until_epoch`, to split a run), or until `stop`.

    train_epoch(epoch) trains one epoch (1-based) and returns its metrics.
    """
    path = run_dir / CHECKPOINT_NAME
    last = min(epochs, until_epoch) if until_epoch is not None else epochs
    while not session.stopped and session.epoch < last:
        epoch = session.epoch + 1
        session.history.append({"epoch": epoch, **train_epoch(epoch)})
        session.epoch = epoch
        session.stopped = stop()
        save_checkpoint(session.state(), path)
        write_metrics(session.history, run_dir / METRICS_NAME)
    return path


def write_metrics(history: list[dict[str, float]], path: Path) -> None:
    """All epochs' metrics as CSV (rewritten whole, so it always agrees with the checkpoint)."""
    columns = list(dict.fromkeys(key for row in history for key in row))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text.getvalue())
    os.replace(temp, path)


class ProgressLine:
    """One stderr line per epoch, redrawn in place (at most once a second) on a terminal."""

    def __init__(self, label: str, stream: TextIO | None = None, every_s: float = 1.0) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.live = self.stream.isatty()
        self._shown = 0.0

    def update(self, text: str) -> None:
        now = time.perf_counter()
        if self.live and now - self._shown >= self.every_s:
            self._shown = now
            print(f"\r{self.label} {text}", end="", file=self.stream, flush=True)

    def done(self, text: str) -> None:
        start = "\r" if self.live else ""
        print(f"{start}{self.label} {text}", file=self.stream, flush=True)


def format_losses(losses: dict[str, float]) -> str:
    return "  ".join(f"{name} {value:.4g}" for name, value in losses.items())

"""Checkpoint files: written atomically, read back on the CPU with torch's safe loader.

A checkpoint rebuilds its model alone: the frozen config, the weights (and optimizer, scheduler
and replay states to resume), both gene spaces, the normalization facts, the seed, the random
number generator states and the versions it was made with.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_FORMAT = "lincs-transform-checkpoint"
FORMAT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """torch.save into `<path>.tmp`, then rename onto `path` (never a half-written file)."""
    temp = path.with_name(path.name + ".tmp")
    torch.save(state, temp)
    os.replace(temp, path)


def load_checkpoint(path: Path, *, kind: str | None = None) -> dict[str, Any]:
    """A checkpoint (or bundle) read onto the CPU; `kind` checks what it holds."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or "format" not in state:
        raise ValueError(f"{path}: not a checkpoint of this project")
    if kind is not None and state.get("kind") != kind:
        raise ValueError(f"{path}: a {state.get('kind')} checkpoint, expected {kind}")
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{path}: format version {state['format_version']} is newer than this code"
        )
    return state


def versions() -> dict[str, str]:
    """The versions a checkpoint was made with."""
    found = {
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "cuda": str(torch.version.cuda),
    }
    try:
        found["lincs-portal"] = metadata.version("lincs-portal")
    except metadata.PackageNotFoundError:
        found["lincs-portal"] = "not installed"
    return found


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def resolve_device(name: str) -> torch.device:
    """auto (CUDA when there is one), cpu or cuda."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    return torch.device(name)


def make_deterministic(seed: int) -> None:
    """Seed torch and ask for deterministic kernels (exact on CPU; CUDA needs the cuBLAS
    workspace setting, made here unless already set)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)

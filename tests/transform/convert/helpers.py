"""Small Level 3 files and random-weight bundles for the conversion tests."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import REPO
from transform.convert import ConvertOptions, ConvertSummary, convert_profiles, run
from transform.convert.job import WorkFolder
from transform.convert.synthetic import write_random_bundle
from transform.io import GctxWriter
from transform.io.gctx import MATRIX
from transform.models import ExtrapolatorConfig, GeneratorConfig

TINY_GENERATOR = GeneratorConfig(hidden=(32, 32), bottleneck=8)
TINY_EXTRAPOLATOR = ExtrapolatorConfig(hidden=(32, 64, 128))


def write_level3(
    path: Path,
    *,
    n_profiles: int,
    n_probes: int = 40,
    seed: int = 0,
    renamed: dict[str, str] | None = None,
) -> Path:
    """A Level 3 GCTX of uniform values in 4..15, probes G000.. with Entrez ids 10, 20, ..,
    written in blocks of 5,000 profiles; renamed: symbol -> the symbol the file gives instead
    (the same values and Entrez id)."""
    rng = np.random.default_rng(seed)
    symbols = [f"G{i:03d}" for i in range(n_probes)]
    rows = pd.DataFrame(
        {
            "pr_gene_symbol": [(renamed or {}).get(symbol, symbol) for symbol in symbols],
            "pr_gene_id": np.arange(1, n_probes + 1) * 10,
            "pr_is_lm": np.ones(n_probes, dtype=np.int64),
        },
        index=pd.Index([f"{1000 + i}_at" for i in range(n_probes)], name="rid"),
    )
    with GctxWriter(path, rows) as writer:
        for start in range(0, n_profiles, 5000):
            ids = [f"P{j:06d}" for j in range(start, min(start + 5000, n_profiles))]
            cols = pd.DataFrame(
                {"cell_id": "A375", "pert_dose": np.arange(len(ids), dtype=float)},
                index=pd.Index(ids, name="cid"),
            )
            values = rng.uniform(4, 15, (n_probes, len(ids))).astype(np.float32)
            writer.append(values, cols)
    return path


def tiny_bundle(
    path: Path,
    input_genes: list[str],
    *,
    n_outputs: int = 50,
    seed: int = 0,
    input_gene_ids: dict[str, int | None] | None = None,
) -> Path:
    outputs = [f"OUT{i:04d}" for i in range(n_outputs)]
    return write_random_bundle(
        path,
        input_genes=input_genes,
        output_genes=outputs,
        input_gene_ids=input_gene_ids,
        generator=TINY_GENERATOR,
        extrapolator=TINY_EXTRAPOLATOR,
        seed=seed,
    )


def entrez_ids(symbols: list[str]) -> dict[str, int | None]:
    """The Entrez ids `write_level3` gives its probes: G000 -> 10, G001 -> 20, .."""
    return {symbol: (int(symbol[1:]) + 1) * 10 for symbol in symbols}


def convert_command(checkpoint: Path, source: Path, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "transform",
        "convert",
        "--checkpoint",
        str(checkpoint),
        "--input",
        str(source),
        "--output",
        str(output),
        "--device",
        "cpu",
        *extra,
    ]


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of the processes a test starts: one OpenMP thread each (tiny matrices run
    much slower on threads that wait for a shared, busy CPU), output unbuffered."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra}


def run_convert(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=120, env=subprocess_env()
    )


# A test parametrized over DEVICES runs on the CPU, and on CUDA where there is a GPU (marker gpu).
CUDA_MARKS = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA_MARKS)]


def convert(
    checkpoint: Path, source: Path, output: Path, *, device: str = "cpu", **options: object
) -> ConvertSummary:
    """`convert_profiles` (on the CPU unless told), its progress lines kept out of the test's
    output."""
    return convert_profiles(
        checkpoint=checkpoint,
        input=source,
        output=output,
        options=ConvertOptions(device=device, **options),
        stream=io.StringIO(),
    )


def stored_profiles(path: Path) -> np.ndarray:
    """The stored matrix of a GCTX as it is on disk: (profiles, genes) in its own dtype."""
    with h5py.File(path, "r") as file:
        return file[MATRIX][...]


def file_checksum(path: Path, chunk_size: int) -> str:
    """The manifest's checksum computed apart: SHA-256 over the hex SHA-256 of each chunk's
    little-endian bytes, read with h5py."""
    matrix = stored_profiles(path)
    digest = hashlib.sha256()
    for start in range(0, len(matrix), chunk_size):
        block = matrix[start : start + chunk_size].astype(matrix.dtype.newbyteorder("<"))
        digest.update(hashlib.sha256(block.tobytes()).hexdigest().encode("ascii"))
    return digest.hexdigest()


def manifest_of(output: Path) -> dict:
    return json.loads(output.with_suffix(".json").read_text())


class Stopped(Exception):
    """The conversion stopped before its last steps (as if killed there)."""


def stop(*args: object, **kwargs: object) -> None:
    raise Stopped


def leave_unfinished(
    monkeypatch: pytest.MonkeyPatch, bundle: Path, source: Path, output: Path, **options: object
) -> WorkFolder:
    """Convert every chunk but stop before the manifest: the work folder stays."""
    with monkeypatch.context() as patched:
        patched.setattr(run, "_finish", stop)
        with pytest.raises(Stopped):
            convert(bundle, source, output, **options)
    work = WorkFolder.beside(output)
    assert work.exists()
    assert not output.exists()
    return work

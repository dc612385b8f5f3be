"""On a CUDA device (marker `gpu`, skipped without one): the pinned, overlapped GPU pipeline writes
the CPU's profiles and refuses float16 overflow found on the device. Resuming and autocast run on
CUDA too, in test_resume.py and test_output.py (parametrized over DEVICES)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.transform.convert.helpers import convert, manifest_of
from transform.convert import ConvertSummary
from transform.convert.compute import ChunkModel
from transform.io import read_gctx

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]


def convert_on_cuda(bundle: Path, source: Path, output: Path, **options: object) -> ConvertSummary:
    return convert(bundle, source, output, device="cuda", **options)


def test_the_gpu_writes_the_profiles_of_the_cpu(
    plate: Path, plate_bundle: Path, expected: np.ndarray, tmp_path: Path
) -> None:
    summary = convert_on_cuda(plate_bundle, plate, tmp_path / "gpu.gctx", chunk_size=100)
    assert summary.profiles == 377
    devices = manifest_of(tmp_path / "gpu.gctx")["devices"]
    assert len(devices) == 1
    assert devices[0].startswith("cuda")
    assert torch.cuda.get_device_name() in devices[0]
    np.testing.assert_allclose(
        read_gctx(tmp_path / "gpu.gctx").values, expected, rtol=1e-4, atol=1e-5
    )
    cpu = convert(plate_bundle, plate, tmp_path / "cpu.gctx", chunk_size=100, dtype="float16")
    gpu = convert_on_cuda(
        plate_bundle, plate, tmp_path / "gpu16.gctx", chunk_size=100, dtype="float16"
    )
    difference = np.abs(
        read_gctx(tmp_path / "gpu16.gctx").values.astype(np.float64)
        - read_gctx(tmp_path / "cpu.gctx").values
    )
    assert difference.max() <= 2e-3 * max(1.0, float(np.abs(expected).max()))
    assert cpu.profiles == gpu.profiles


def test_float16_overflow_found_on_the_device_stops_the_run(
    plate: Path, plate_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clipped = ChunkModel._clipped
    monkeypatch.setattr(ChunkModel, "_clipped", lambda self, x: clipped(self, x) * 1e9)
    with pytest.raises(ValueError, match="beyond the float16 range"):
        convert_on_cuda(plate_bundle, plate, tmp_path / "out.gctx", chunk_size=100, dtype="float16")
    assert not (tmp_path / "out.gctx").exists()

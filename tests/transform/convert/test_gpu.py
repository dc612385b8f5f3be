"""On a CUDA device (marker `gpu`, skipped without one): the pinned, overlapped GPU pipeline writes
the CPU's profiles, resumes as the CPU's does, and measures its autocast against float32."""

from __future__ import annotations

import io
from itertools import count
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.transform.convert.helpers import convert, manifest_of
from transform.convert import ConvertOptions, ConvertSummary, convert_profiles
from transform.convert.compute import ChunkModel
from transform.convert.job import WorkFolder
from transform.io import read_gctx

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]


def convert_on_cuda(bundle: Path, source: Path, output: Path, **options: object) -> ConvertSummary:
    return convert_profiles(checkpoint=bundle, input=source, output=output,
                            options=ConvertOptions(device="cuda", **options),
                            stream=io.StringIO())  # fmt: skip


def test_the_gpu_writes_the_profiles_of_the_cpu(
    plate: Path, plate_bundle: Path, expected: np.ndarray, tmp_path: Path
) -> None:
    summary = convert_on_cuda(plate_bundle, plate, tmp_path / "gpu.gctx", chunk_size=100)
    assert summary.profiles == 377
    devices = manifest_of(tmp_path / "gpu.gctx")["devices"]
    assert len(devices) == 1
    assert devices[0].startswith("cuda")
    assert torch.cuda.get_device_name() in devices[0]
    np.testing.assert_allclose(read_gctx(tmp_path / "gpu.gctx").values, expected,
                               rtol=1e-4, atol=1e-5)  # fmt: skip
    cpu = convert(plate_bundle, plate, tmp_path / "cpu.gctx", chunk_size=100, dtype="float16")
    gpu = convert_on_cuda(plate_bundle, plate, tmp_path / "gpu16.gctx", chunk_size=100,
                          dtype="float16")  # fmt: skip
    difference = np.abs(read_gctx(tmp_path / "gpu16.gctx").values.astype(np.float64)
                        - read_gctx(tmp_path / "cpu.gctx").values)  # fmt: skip
    assert difference.max() <= 2e-3 * max(1.0, float(np.abs(expected).max()))
    assert cpu.profiles == gpu.profiles


@pytest.mark.parametrize("autocast", ["bf16", "fp16"])
def test_autocast_on_the_gpu_is_measured_against_float32(
    plate: Path, plate_bundle: Path, expected: np.ndarray, tmp_path: Path, autocast: str
) -> None:
    output = tmp_path / f"{autocast}.gctx"
    check = convert_on_cuda(plate_bundle, plate, output, chunk_size=200,
                            autocast=autocast).autocast_check  # fmt: skip
    assert check is not None
    assert check["autocast"] == autocast
    assert 0 < check["max_abs_diff"] < 1
    assert 0.99 < check["pcc"] < 1
    first = read_gctx(output).values[:, :200]
    assert np.abs(first - expected[:, :200]).max() == pytest.approx(check["max_abs_diff"], rel=1e-3)


def test_a_gpu_run_that_failed_part_way_converts_only_the_chunks_left(
    plate: Path, plate_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = convert_on_cuda(plate_bundle, plate, tmp_path / "whole.gctx", chunk_size=50)
    output = tmp_path / "resumed.gctx"
    forward, calls = ChunkModel.forward, count()

    def failing_at_the_fifth_chunk(self: ChunkModel, inputs: torch.Tensor) -> torch.Tensor:
        if next(calls) == 4:
            raise RuntimeError("the device went away")
        return forward(self, inputs)

    with monkeypatch.context() as patched:
        patched.setattr(ChunkModel, "forward", failing_at_the_fifth_chunk)
        with pytest.raises(RuntimeError, match="the device went away"):
            convert_on_cuda(plate_bundle, plate, output, chunk_size=50)
    done = len(list(WorkFolder.beside(output).done.glob("*.json")))
    assert 1 <= done <= 4
    resumed = convert_on_cuda(plate_bundle, plate, output, chunk_size=50)
    assert (resumed.chunks_before, resumed.converted) == (done, 377 - 50 * done)
    assert resumed.manifest["checksum"] == whole.manifest["checksum"]


def test_float16_overflow_found_on_the_device_stops_the_run(
    plate: Path, plate_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clipped = ChunkModel._clipped
    monkeypatch.setattr(ChunkModel, "_clipped", lambda self, x: clipped(self, x) * 1e9)
    with pytest.raises(ValueError, match="beyond the float16 range"):
        convert_on_cuda(plate_bundle, plate, tmp_path / "out.gctx", chunk_size=100,
                        dtype="float16")  # fmt: skip
    assert not (tmp_path / "out.gctx").exists()

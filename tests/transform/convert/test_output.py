"""What `convert_profiles` writes: the model's profiles, clipped, under the input's column
metadata, in float32 or float16, whatever the chunking, with a manifest that checks out."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from tests.transform.convert.helpers import (
    CUDA_MARKS,
    convert,
    file_checksum,
    manifest_of,
    stored_profiles,
)
from transform.convert import chunks as convert_chunks
from transform.inference import TwoStepModel
from transform.io import read_gctx
from transform.io.gctx import COL_META, MATRIX
from transform.models import Extrapolator


def test_the_output_equals_the_model_run_on_the_whole_plate_at_once(
    plate: Path, plate_bundle: Path, expected: np.ndarray, tmp_path: Path
) -> None:
    output = tmp_path / "profiles.gctx"
    summary = convert(plate_bundle, plate, output, chunk_size=100)
    profiles = read_gctx(output)
    assert profiles.values.shape == expected.shape == (200, 377)
    assert profiles.values.dtype == np.float32
    np.testing.assert_allclose(profiles.values, expected, rtol=1e-5, atol=1e-6)
    assert list(profiles.row_meta.index) == list(TwoStepModel.load(plate_bundle).output_genes)
    assert (summary.converted, summary.profiles, summary.chunks_before) == (377, 377, 0)
    assert not (tmp_path / "profiles.gctx.work").exists()


def float64_forward(bundle: Path, plate: Path) -> np.ndarray:
    """(n_output, n) both networks in float64 on the aligned plate, nothing clipped."""
    model = TwoStepModel.load(bundle)
    inputs = torch.from_numpy(model.align_inputs(read_gctx(plate)).T).double()
    with torch.no_grad():
        return model.extrapolator.double()(model.generator.double()(inputs)).numpy().T


def test_it_agrees_with_a_float64_forward_pass(
    plate: Path, plate_bundle: Path, tmp_path: Path
) -> None:
    output = tmp_path / "profiles.gctx"
    convert(plate_bundle, plate, output, chunk_size=128)
    reference = float64_forward(plate_bundle, plate)
    np.testing.assert_allclose(read_gctx(output).values, reference, rtol=1e-4, atol=1e-5)


def test_negative_values_are_clipped_to_zero(
    plate: Path, plate_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The extrapolator ends in a ReLU; without it (as here) the clipping is what keeps the
    profiles non-negative."""
    monkeypatch.setattr(Extrapolator, "forward", lambda self, x: self.net[:-1](x))
    raw = float64_forward(plate_bundle, plate)
    assert (raw < 0).mean() > 0.2
    output = tmp_path / "profiles.gctx"
    convert(plate_bundle, plate, output, chunk_size=128)
    profiles = read_gctx(output).values
    assert profiles.min() == 0.0
    assert (profiles[raw < -1e-4] == 0).all()
    np.testing.assert_allclose(profiles, np.maximum(raw, 0), rtol=1e-4, atol=1e-5)


def test_the_input_column_metadata_are_carried_as_stored(
    plate: Path, plate_bundle: Path, tmp_path: Path
) -> None:
    output = tmp_path / "profiles.gctx"
    convert(plate_bundle, plate, output, chunk_size=200)
    pd.testing.assert_frame_equal(read_gctx(output).col_meta, read_gctx(plate).col_meta)
    with h5py.File(plate, "r") as source, h5py.File(output, "r") as copy:
        assert list(copy[COL_META]) == list(source[COL_META])
        for name, stored in source[COL_META].items():
            assert copy[COL_META][name].dtype == stored.dtype, name
            assert (copy[COL_META][name][...] == stored[...]).all(), name


def test_float16_is_written_on_request_at_half_the_size(
    plate: Path, plate_bundle: Path, expected: np.ndarray, tmp_path: Path
) -> None:
    output = tmp_path / "profiles16.gctx"
    convert(plate_bundle, plate, output, chunk_size=100, dtype="float16")
    with h5py.File(output, "r") as file:
        assert file[MATRIX].dtype == np.dtype("<f2")
        assert file[MATRIX].id.get_storage_size() == 377 * 200 * 2
    np.testing.assert_allclose(
        stored_profiles(output).T.astype(np.float32),
        expected.astype(np.float16).astype(np.float32),
        rtol=2e-3,
        atol=1e-4,
    )
    assert manifest_of(output)["dtype"] == "float16"


@pytest.mark.parametrize("chunk_size", [3, 13, 377, 5000])
def test_the_profiles_do_not_depend_on_the_chunk_size(
    plate: Path, plate_bundle: Path, expected: np.ndarray, tmp_path: Path, chunk_size: int
) -> None:
    output = tmp_path / "profiles.gctx"
    convert(plate_bundle, plate, output, chunk_size=chunk_size)
    np.testing.assert_allclose(read_gctx(output).values, expected, rtol=1e-5, atol=1e-6)
    chunks = manifest_of(output)["chunks"]
    assert chunks["count"] == -(-377 // chunk_size) == len(chunks["checksums"])
    ranges = [entry["profiles"] for entry in chunks["checksums"]]
    assert ranges[0][0] == 0
    assert ranges[-1][1] == 377
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))


def test_the_manifest_describes_the_file_and_its_checksums_check_out(
    plate: Path, plate_bundle: Path, tmp_path: Path
) -> None:
    output = tmp_path / "profiles.gctx"
    summary = convert(plate_bundle, plate, output, chunk_size=150)
    manifest = manifest_of(output)
    assert manifest == summary.manifest
    assert manifest["format"] == "lincs-transform-profiles"
    assert manifest["shape"] == {"genes": 200, "profiles": 377}
    assert manifest["dtype"] == "float32"
    model = TwoStepModel.load(plate_bundle)
    assert manifest["gene_space"] == model.output_space.summary()
    assert manifest["gene_space"]["n_genes"] == 200
    assert manifest["input_genes"]["n_genes"] == 962
    bundle_sha256 = hashlib.sha256(plate_bundle.read_bytes()).hexdigest()
    assert manifest["checkpoint"]["sha256"] == bundle_sha256
    assert manifest["checksum"] == file_checksum(output, 150)
    matrix = stored_profiles(output)
    for entry in manifest["chunks"]["checksums"]:
        start, stop = entry["profiles"]
        assert entry["sha256"] == hashlib.sha256(matrix[start:stop].tobytes()).hexdigest()
    assert {"torch", "numpy", "h5py"} <= set(manifest["versions"])
    assert manifest["devices"] == ["cpu"]


def test_a_limit_converts_the_first_profiles_only(
    plate: Path, plate_bundle: Path, expected: np.ndarray, tmp_path: Path
) -> None:
    output = tmp_path / "first.gctx"
    summary = convert(plate_bundle, plate, output, chunk_size=16, limit=40)
    profiles = read_gctx(output)
    assert summary.profiles == 40
    np.testing.assert_allclose(profiles.values, expected[:, :40], rtol=1e-5, atol=1e-6)
    assert list(profiles.col_meta.index) == list(read_gctx(plate).col_meta.index[:40])


@pytest.mark.parametrize(
    ("device", "autocast"),
    [
        ("cpu", "bf16"),
        pytest.param("cuda", "bf16", marks=CUDA_MARKS),
        pytest.param("cuda", "fp16", marks=CUDA_MARKS),
    ],
)
def test_autocast_is_checked_against_float32_and_the_check_is_kept(
    plate: Path,
    plate_bundle: Path,
    expected: np.ndarray,
    tmp_path: Path,
    device: str,
    autocast: str,
) -> None:
    output = tmp_path / f"{autocast}.gctx"
    summary = convert(plate_bundle, plate, output, chunk_size=200, autocast=autocast, device=device)
    check = summary.autocast_check
    assert check is not None
    assert check["autocast"] == autocast
    assert check["profiles"] == 200
    assert 0 < check["max_abs_diff"] < 1
    assert 0.99 < check["pcc"] < 1
    assert manifest_of(output)["autocast"] == {"dtype": autocast, "check": check}
    first = read_gctx(output).values[:, :200]
    assert np.abs(first - expected[:, :200]).max() == pytest.approx(check["max_abs_diff"], rel=1e-3)


def test_several_writers_write_the_file_of_one(
    plate: Path, plate_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = convert(plate_bundle, plate, tmp_path / "one.gctx", chunk_size=20)
    monkeypatch.setattr(convert_chunks, "CPU_WRITERS", 3)  # as on a GPU, where chunks come faster
    monkeypatch.setattr(convert_chunks, "OUTPUT_BUFFERS", 6)
    three = convert(plate_bundle, plate, tmp_path / "three.gctx", chunk_size=20)
    assert three.manifest["checksum"] == one.manifest["checksum"]
    assert three.manifest["chunks"]["checksums"] == one.manifest["chunks"]["checksums"]

"""GCTX files that break the layout are refused with a message that names the problem."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.transform.io.real_files import LJP005_GCTX, TINY_GCTX
from transform.io import GctxFormatError, gctx_shape, iter_gctx_columns, read_gctx, read_gctx_meta


def test_it_refuses_a_truncated_file(tmp_path: Path) -> None:
    cut = tmp_path / "cut.gctx"
    data = LJP005_GCTX.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(GctxFormatError, match="truncated"):
        read_gctx(cut)


def test_it_refuses_a_file_that_is_not_hdf5(tmp_path: Path) -> None:
    text = tmp_path / "plate.gctx"
    text.write_text("#1.3\n1\t1\t0\t0\nid\tc1\nr1\t1.0\n")
    with pytest.raises(GctxFormatError, match="not an HDF5 file"):
        read_gctx(text)


def _damaged(tmp_path: Path, damage: Callable[[h5py.File], None]) -> Path:
    path = tmp_path / "damaged.gctx"
    shutil.copyfile(TINY_GCTX, path)
    with h5py.File(path, "r+") as file:
        damage(file)
    return path


def _replace(file: h5py.File, name: str, data: np.ndarray) -> None:
    del file[name]
    file.create_dataset(name, data=data)


def test_it_refuses_a_file_without_its_matrix(tmp_path: Path) -> None:
    path = _damaged(tmp_path, lambda f: f.__delitem__("0/DATA/0/matrix"))
    with pytest.raises(GctxFormatError, match="missing dataset /0/DATA/0/matrix"):
        read_gctx(path)


def test_it_refuses_a_file_without_column_ids(tmp_path: Path) -> None:
    path = _damaged(tmp_path, lambda f: f.__delitem__("0/META/COL/id"))
    with pytest.raises(GctxFormatError, match="missing dataset /0/META/COL/id"):
        gctx_shape(path)


def test_it_refuses_a_matrix_stored_genes_by_samples(tmp_path: Path) -> None:
    path = _damaged(tmp_path, lambda f: _replace(f, "0/DATA/0/matrix", f["0/DATA/0/matrix"][()].T))
    problem = r"shape \(50, 25\) but the file holds 25 column ids and 50 row ids"
    with pytest.raises(GctxFormatError, match=problem):
        read_gctx(path)


def test_it_refuses_duplicate_row_ids(tmp_path: Path) -> None:
    def repeat_first_id(file: h5py.File) -> None:
        ids = file["0/META/ROW/id"][()]
        ids[7] = ids[0]
        _replace(file, "0/META/ROW/id", ids)

    with pytest.raises(GctxFormatError, match="duplicate row ids '200814_at'"):
        read_gctx(_damaged(tmp_path, repeat_first_id))


def test_it_refuses_duplicate_column_ids(tmp_path: Path) -> None:
    def repeat_id(file: h5py.File) -> None:
        ids = file["0/META/COL/id"][()]
        ids[-1] = ids[3]
        _replace(file, "0/META/COL/id", ids)

    path = _damaged(tmp_path, repeat_id)
    with pytest.raises(GctxFormatError, match="duplicate column ids 'CVD001_HEPG2_24H"):
        read_gctx_meta(path)
    with pytest.raises(GctxFormatError, match="duplicate column ids"):
        list(iter_gctx_columns(path, chunk_size=100))


def test_it_refuses_a_metadata_field_of_the_wrong_length(tmp_path: Path) -> None:
    field = "0/META/COL/cell_id"
    path = _damaged(tmp_path, lambda f: _replace(f, field, f[field][:-1]))
    with pytest.raises(
        GctxFormatError, match=r"/0/META/COL/cell_id has shape \(24,\) for 25 column"
    ):
        read_gctx(path)

"""GCTX: the real CMap files read right, round trips are exact, slices and streams agree."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from tests.transform.io.real_files import LJP005_GCTX, MODZ_GCTX, TINY_GCTX
from transform.io import (
    GeneMatrix,
    UnknownIdError,
    gctx_shape,
    iter_gctx_columns,
    read_gctx,
    read_gctx_meta,
    write_gctx,
)

# (file, shape, dtype, cells): cells are (rid, cid, value) read from the files with plain h5py;
# the first is the matrix's first cell, the second its last.
GOLDEN = [
    (
        LJP005_GCTX,
        (978, 377),
        np.float32,
        [
            ("200814_at", "LJP005_A375_24H_X1_B19:A03", 0.3473286),
            ("203897_at", "LJP005_A375_24H_X1_B19:P24", -0.62497133),
            ("201614_s_at", "LJP005_A375_24H_X1_B19:A13", 0.0998286),
        ],
    ),
    (
        MODZ_GCTX,
        (978, 272),
        np.float32,
        [
            ("200814_at", "CPC006_A549_6H:BRD-U88459701-000-01-8:10", -0.52360797),
            ("205379_at", "CPD002_PC3_24H:BRD-A51714012-001-04-9:10", 0.17138433),
            ("208025_s_at", "CPC006_CORL23_6H:BRD-U88459701-000-01-8:10", 0.43524998),
        ],
    ),
    (
        TINY_GCTX,
        (50, 25),
        np.float64,
        [
            ("200814_at", "CPC004_PC3_24H:BRD-A51714012-001-03-1:10", -1.145369052886963),
            ("200966_x_at", "CPC006_TYKNU_6H:BRD-K56343971-001-02-3:10", -0.7602999210357666),
            ("214435_x_at", "CVD001_HEPG2_24H:BRD-U88459701-000-01-8:10", -1.1946806907653809),
        ],
    ),
]
REAL = [golden[0] for golden in GOLDEN]


def _cell(matrix: GeneMatrix, rid: str, cid: str) -> float:
    return matrix.values[matrix.row_ids.get_loc(rid), matrix.col_ids.get_loc(cid)]


@pytest.mark.parametrize(("path", "shape", "dtype", "cells"), GOLDEN, ids=lambda v: str(v)[-12:])
def test_it_reads_every_real_gctx_with_its_shape_and_known_cells(path, shape, dtype, cells) -> None:
    matrix = read_gctx(path)
    assert matrix.shape == shape
    assert matrix.values.dtype == dtype
    assert matrix.values[0, 0] == dtype(cells[0][2])
    assert matrix.values[-1, -1] == dtype(cells[1][2])
    for rid, cid, value in cells:
        assert _cell(matrix, rid, cid) == dtype(value)
    assert (matrix.row_ids.name, matrix.col_ids.name) == ("rid", "cid")


def test_the_ljp005_metadata_come_back_typed() -> None:
    matrix = read_gctx(LJP005_GCTX)
    rows, cols = matrix.row_meta, matrix.col_meta
    assert (len(rows.columns), len(cols.columns)) == (11, 37)
    assert rows.loc["200814_at", "pr_gene_symbol"] == "PSME1"
    assert rows["pr_gene_id"].dtype == np.int64
    assert rows.loc["200814_at", "pr_gene_id"] == 5720
    assert cols["pert_time"].dtype == np.int64
    assert set(cols["pert_time"]) == {24}
    assert cols["pert_type"].value_counts().to_dict() == {
        "trt_cp": 328,
        "ctl_vehicle": 26,
        "trt_poscon": 23,
    }
    # pert_dose is stored as text ("10.0", "-666"): numbers come back, -666 as missing
    dose = cols["pert_dose"]
    assert dose.dtype == np.float64
    assert dose.max() == 10.0
    assert dose.isna().sum() == 26
    assert dose[cols["pert_type"] == "ctl_vehicle"].isna().all()
    assert cols["mfc_plate_dim"].isna().all()
    assert cols.loc["LJP005_A375_24H_X1_B19:A03", "qc_iqr"] == pytest.approx(9.110431010795287)


def test_the_latin1_micro_sign_reads_as_micro() -> None:
    cols = read_gctx(MODZ_GCTX).col_meta
    assert cols["pert_idose"].value_counts().to_dict() == {
        "10 µM": 218,
        "100 nM": 16,
        "500 nM": 16,
        "1 µM": 12,
        "3 µM": 10,
    }
    with h5py.File(MODZ_GCTX) as raw:
        assert raw["0/META/COL/pert_idose"][0] == b"10 \xb5M"


def test_text_fields_holding_numbers_come_back_as_numbers() -> None:
    rows = read_gctx(MODZ_GCTX).row_meta
    with h5py.File(MODZ_GCTX) as raw:
        assert raw["0/META/ROW/pr_gene_id"].dtype.kind == "S"
    assert rows["pr_gene_id"].dtype == np.int64
    assert rows["pr_gene_id"].iloc[:2].tolist() == [5720, 466]
    assert rows["is_lm"].dtype == np.float32


def test_shape_and_metadata_come_without_reading_the_matrix() -> None:
    assert gctx_shape(LJP005_GCTX) == (978, 377)
    rows, cols = read_gctx_meta(LJP005_GCTX)
    full = read_gctx(LJP005_GCTX)
    pd.testing.assert_frame_equal(rows, full.row_meta)
    pd.testing.assert_frame_equal(cols, full.col_meta)


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_a_real_gctx_written_and_read_back_is_identical(path: Path, tmp_path: Path) -> None:
    original = read_gctx(path)
    write_gctx(tmp_path / "copy.gctx", original, dtype=original.values.dtype)
    again = read_gctx(tmp_path / "copy.gctx")
    np.testing.assert_array_equal(again.values, original.values)
    assert again.values.dtype == original.values.dtype
    pd.testing.assert_frame_equal(again.row_meta, original.row_meta)
    pd.testing.assert_frame_equal(again.col_meta, original.col_meta)


def test_float16_storage_keeps_values_within_float16_precision(tmp_path: Path) -> None:
    original = read_gctx(LJP005_GCTX)
    write_gctx(tmp_path / "half.gctx", original, dtype=np.float16)
    half = read_gctx(tmp_path / "half.gctx")
    assert half.values.dtype == np.float16
    np.testing.assert_allclose(half.values, original.values, rtol=2**-11, atol=2**-25)
    assert not np.array_equal(half.values.astype(np.float32), original.values)
    pd.testing.assert_frame_equal(half.col_meta, original.col_meta)


def test_iterating_columns_reassembles_the_full_matrix() -> None:
    full = read_gctx(LJP005_GCTX)
    chunks = list(iter_gctx_columns(LJP005_GCTX, chunk_size=64))
    assert [chunk.shape[1] for chunk in chunks] == [64] * 5 + [57]
    np.testing.assert_array_equal(np.concatenate([c.values for c in chunks], axis=1), full.values)
    pd.testing.assert_frame_equal(pd.concat([c.col_meta for c in chunks]), full.col_meta)
    assert all(chunk.row_meta.equals(full.row_meta) for chunk in chunks)


def test_iterating_a_subset_of_rows_keeps_the_callers_order() -> None:
    full = read_gctx(LJP005_GCTX)
    rows = ["203897_at", "200814_at", "201614_s_at"]
    chunks = list(iter_gctx_columns(LJP005_GCTX, chunk_size=200, rows=rows))
    values = np.concatenate([chunk.values for chunk in chunks], axis=1)
    np.testing.assert_array_equal(values, full.values[full.row_ids.get_indexer(rows)])
    assert chunks[0].row_ids.tolist() == rows


def test_subset_reads_equal_slices_of_the_full_read_in_the_callers_order() -> None:
    full = read_gctx(LJP005_GCTX)
    rng = np.random.default_rng(5)
    row_at = rng.choice(978, size=40, replace=False)
    col_at = rng.choice(377, size=25, replace=False)
    row_ids, col_ids = full.row_ids[row_at].tolist(), full.col_ids[col_at].tolist()
    by_id = read_gctx(LJP005_GCTX, rows=row_ids, cols=col_ids)
    by_position = read_gctx(LJP005_GCTX, rows=row_at.tolist(), cols=col_at)
    for subset in (by_id, by_position):
        np.testing.assert_array_equal(subset.values, full.values[np.ix_(row_at, col_at)])
        pd.testing.assert_frame_equal(subset.row_meta, full.row_meta.iloc[row_at])
        pd.testing.assert_frame_equal(subset.col_meta, full.col_meta.iloc[col_at])


def test_unknown_ids_are_named() -> None:
    wanted = ["LJP005_A375_24H_X1_B19:A03", "LJP005_A375_24H_X1_B19:Z99", "nope"]
    named = r"2 of 3 requested column ids .*: 'LJP005_A375_24H_X1_B19:Z99', 'nope'"
    with pytest.raises(UnknownIdError, match=named):
        read_gctx(LJP005_GCTX, cols=wanted)
    with pytest.raises(UnknownIdError, match=r"row positions outside 0\.\.977: 978"):
        read_gctx(LJP005_GCTX, rows=[0, 978])


def test_a_selection_asking_twice_for_an_id_is_refused() -> None:
    with pytest.raises(ValueError, match="asks for '200814_at' more than once"):
        read_gctx(LJP005_GCTX, rows=["200814_at", "203897_at", "200814_at"])

"""GctxWriter and write_gctx: CMap's layout, streaming in chunks, refusals, atomic files, memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from tests.transform.io.real_files import LJP005_GCTX
from transform.io import (
    GctxWriter,
    GeneMatrix,
    iter_gctx_columns,
    read_gctx,
    write_gctx,
    write_gctx_columns,
)


def _small_matrix(values: np.ndarray, col_ids: list[str] | None = None) -> GeneMatrix:
    n_rows, n_cols = values.shape
    row_ids = pd.Index([f"r{i}" for i in range(n_rows)], name="rid")
    rows = pd.DataFrame({"pr_gene_symbol": [f"G{i}" for i in range(n_rows)]}, index=row_ids)
    col_ids = pd.Index(col_ids or [f"c{j}" for j in range(n_cols)], name="cid")
    cols = pd.DataFrame({"dose": np.arange(n_cols, dtype=float)}, index=col_ids)
    return GeneMatrix(values, rows, cols)


def test_values_beyond_the_float16_range_are_refused(tmp_path: Path) -> None:
    matrix = _small_matrix(np.array([[1.0, 7e4]]))
    with pytest.raises(ValueError, match="do not fit float16"):
        write_gctx(tmp_path / "x.gctx", matrix, dtype=np.float16)
    assert not (tmp_path / "x.gctx").exists()


def test_the_streaming_writer_in_chunks_equals_write_gctx_in_one_go(tmp_path: Path) -> None:
    original = read_gctx(LJP005_GCTX)
    write_gctx(tmp_path / "whole.gctx", original)
    with GctxWriter(tmp_path / "chunked.gctx", original.row_meta) as writer:
        for start in range(0, 377, 100):
            part = slice(start, start + 100)
            writer.append(original.values[:, part], original.col_meta[part])
    whole, chunked = read_gctx(tmp_path / "whole.gctx"), read_gctx(tmp_path / "chunked.gctx")
    np.testing.assert_array_equal(chunked.values, whole.values)
    pd.testing.assert_frame_equal(chunked.col_meta, whole.col_meta)
    pd.testing.assert_frame_equal(chunked.row_meta, whole.row_meta)
    with h5py.File(tmp_path / "whole.gctx") as a, h5py.File(tmp_path / "chunked.gctx") as b:
        assert list(a["0/META/COL"]) == list(b["0/META/COL"])
        assert a["0/DATA/0/matrix"][()].tobytes() == b["0/DATA/0/matrix"][()].tobytes()


def test_written_files_follow_cmaps_layout(tmp_path: Path) -> None:
    write_gctx(tmp_path / "x.gctx", read_gctx(LJP005_GCTX))
    with h5py.File(tmp_path / "x.gctx") as file:
        assert file.attrs["version"] == b"GCTX1.0"
        assert file.attrs["src"] == b"x.gctx"
        matrix = file["0/DATA/0/matrix"]
        assert matrix.shape == (377, 978)
        assert matrix.dtype == np.float32
        assert matrix.chunks == (268, 978)  # whole samples, 1 MiB, as in cmapR's file
        assert file["0/META/COL/id"][0] == b"LJP005_A375_24H_X1_B19:A03"
        assert file["0/META/COL/pert_dose"][0] == -666.0  # missing, the CMap way
        assert file["0/META/COL/pert_iname"].compression == "gzip"


def test_the_writer_refuses_a_column_id_seen_in_an_earlier_chunk(tmp_path: Path) -> None:
    first = _small_matrix(np.zeros((3, 2)), ["a", "b"])
    second = _small_matrix(np.ones((3, 2)), ["c", "a"])
    with GctxWriter(tmp_path / "x.gctx", first.row_meta) as writer:
        writer.append(first.values, first.col_meta)
        with pytest.raises(ValueError, match="duplicate column ids 'a'"):
            writer.append(second.values, second.col_meta)
        twice = _small_matrix(np.ones((3, 2)), ["d", "d"])
        with pytest.raises(ValueError, match="duplicate column ids 'd'"):
            writer.append(twice.values, twice.col_meta)
        writer.abort()
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary copy


def test_the_writer_refuses_chunks_whose_metadata_fields_differ(tmp_path: Path) -> None:
    first = _small_matrix(np.zeros((3, 2)), ["a", "b"])
    second = _small_matrix(np.ones((3, 1)), ["c"])
    with GctxWriter(tmp_path / "x.gctx", first.row_meta) as writer:
        writer.append(first.values, first.col_meta)
        with pytest.raises(ValueError, match=r"fields \['dose', 'extra'\] differ .* \['dose'\]"):
            writer.append(second.values, second.col_meta.assign(extra=1))
        writer.append(second.values, second.col_meta)
    assert read_gctx(tmp_path / "x.gctx").col_ids.tolist() == ["a", "b", "c"]


def test_a_chunk_that_fails_while_written_aborts_the_file(tmp_path: Path) -> None:
    doses = _small_matrix(np.zeros((3, 2)))
    words = GeneMatrix(doses.values, doses.row_meta, doses.col_meta.assign(dose=["high", "low"]))
    words.col_meta.index = pd.Index(["c2", "c3"], name="cid")
    with GctxWriter(tmp_path / "x.gctx", doses.row_meta) as writer:
        writer.append(doses.values, doses.col_meta)
        with pytest.raises(ValueError, match="'dose': text in a field stored as numbers"):
            writer.append(words.values, words.col_meta)
        with pytest.raises(ValueError, match="the writer is closed"):
            writer.append(doses.values, doses.col_meta)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_earlier_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "x.gctx"
    write_gctx(path, _small_matrix(np.zeros((3, 2))))
    with pytest.raises(RuntimeError), GctxWriter(path, _small_matrix(np.ones((4, 1))).row_meta):
        raise RuntimeError("conversion crashed")
    assert read_gctx(path).shape == (3, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.gctx"]


def test_longer_text_in_a_later_chunk_widens_the_field_and_keeps_field_order(
    tmp_path: Path,
) -> None:
    rows = _small_matrix(np.zeros((2, 1))).row_meta
    short = pd.DataFrame({"zeta": ["ab"], "alpha": [1]}, index=pd.Index(["c0"], name="cid"))
    long = pd.DataFrame(
        {"zeta": ["a longer text"], "alpha": [2]}, index=pd.Index(["c1"], name="cid")
    )
    with GctxWriter(tmp_path / "x.gctx", rows) as writer:
        writer.append(np.zeros((2, 1)), short)
        writer.append(np.ones((2, 1)), long)
    cols = read_gctx(tmp_path / "x.gctx").col_meta
    assert cols.columns.tolist() == ["zeta", "alpha"]
    assert cols["zeta"].tolist() == ["ab", "a longer text"]


def test_missing_metadata_are_written_as_minus_666_and_read_back_as_missing(tmp_path: Path) -> None:
    matrix = _small_matrix(np.zeros((2, 3)))
    cols = matrix.col_meta.assign(
        dose=[1.5, np.nan, 3.0],
        unit=["uM", None, "uM"],
        count=pd.array([1, pd.NA, 3], dtype="Int64"),
    )
    write_gctx(tmp_path / "x.gctx", GeneMatrix(matrix.values, matrix.row_meta, cols))
    with h5py.File(tmp_path / "x.gctx") as raw:
        assert raw["0/META/COL/dose"][1] == -666.0
        assert raw["0/META/COL/unit"][1] == b"-666"
        assert raw["0/META/COL/count"][1] == -666
    back = read_gctx(tmp_path / "x.gctx").col_meta
    assert back["unit"].isna().tolist() == [False, True, False]
    assert back["dose"].isna().tolist() == back["count"].isna().tolist() == [False, True, False]
    assert back["count"].dtype == np.float64  # an integer field with a missing value


def test_a_field_missing_throughout_the_first_chunks_becomes_text_when_text_arrives(
    tmp_path: Path,
) -> None:
    """A text field with no value in the first chunks reads as float NaN there and was stored as
    numbers (-666); the first text then made the writer refuse the file (the audit's publish
    crash). The field becomes text, its earlier cells "-666", its place among the fields kept."""
    rows = _small_matrix(np.zeros((2, 1))).row_meta
    with GctxWriter(tmp_path / "x.gctx", rows) as writer:
        for at, unit in enumerate([np.nan, np.nan, "uM"]):
            cols = pd.DataFrame({"unit": [unit], "dose": [float(at)]}, index=[f"c{at}"])
            writer.append(np.full((2, 1), at), cols)
    with h5py.File(tmp_path / "x.gctx") as raw:
        assert list(raw["0/META/COL"]) == ["id", "unit", "dose"]
        assert raw["0/META/COL/unit"].dtype.kind == "S"
        assert raw["0/META/COL/unit"][()].tolist() == [b"-666", b"-666", b"uM"]
    back = read_gctx(tmp_path / "x.gctx").col_meta
    assert back["unit"].tolist()[2] == "uM"
    assert back["unit"].isna().tolist() == [True, True, False]


def test_text_into_a_numeric_field_holding_numbers_is_still_refused(tmp_path: Path) -> None:
    rows = _small_matrix(np.zeros((2, 1))).row_meta
    with GctxWriter(tmp_path / "x.gctx", rows) as writer:
        writer.append(np.zeros((2, 2)), pd.DataFrame({"dose": [np.nan, 1.0]}, index=["a", "b"]))
        with pytest.raises(ValueError, match="'dose': text in a field stored as numbers"):
            writer.append(np.zeros((2, 1)), pd.DataFrame({"dose": ["high"]}, index=["c"]))


def test_columns_copied_out_of_a_gctx_keep_every_field_as_stored(tmp_path: Path) -> None:
    """write_gctx_columns (publish's per-type files) against the source read with plain h5py:
    the selected columns in the order asked, each field's dtype and stored values (text that
    looks like a number stays that text, int32 stays int32), the root attributes but src."""
    source = tmp_path / "source.gctx"
    rows = pd.DataFrame({"pr_gene_id": np.arange(3, dtype=np.int32)}, index=["r0", "r1", "r2"])
    cols = pd.DataFrame(
        {
            "code": ["007", "1.50", "x", "-666", "12"],
            "n": np.array([1, 2, -666, 4, 5], dtype=np.int32),
            "dose": np.array([0.5, np.nan, 2.0, 3.0, 4.0], dtype=np.float32),
        },
        index=[f"c{i}" for i in range(5)],
    )
    values = np.arange(15, dtype=np.float64).reshape(3, 5)
    with GctxWriter(source, rows, dtype=np.float64) as writer:
        writer.append(values, cols)
    with h5py.File(source, "a") as raw:
        raw.attrs["note"] = "carried"
    write_gctx_columns(source, tmp_path / "part.gctx", cols=[4, 1, 3], block_columns=2)
    picked = [4, 1, 3]
    with h5py.File(source) as whole, h5py.File(tmp_path / "part.gctx") as part:
        assert part.attrs["src"] == b"part.gctx"
        assert part.attrs["note"] == "carried"
        assert part.attrs["version"] == b"GCTX1.0"
        assert part["0/DATA/0/matrix"].dtype == np.float64
        np.testing.assert_array_equal(part["0/DATA/0/matrix"][()], values[:, picked].T)
        for group in ("0/META/ROW", "0/META/COL"):
            assert list(part[group]) == list(whole[group])
            for name, stored in whole[group].items():
                assert part[group][name].dtype == stored.dtype, name
                expected = stored[()] if group.endswith("ROW") else stored[()][picked]
                np.testing.assert_array_equal(part[group][name][()], expected)
    assert not list(tmp_path.glob("*.tmp"))


def test_streaming_200000_columns_keeps_memory_far_below_the_matrix(tmp_path: Path) -> None:

    n_rows, n_cols, chunk = 978, 200_000, 5_000
    matrix_bytes = n_rows * n_cols * 4  # 782 MB as float32
    rows = pd.DataFrame(index=pd.Index([f"g{i}" for i in range(n_rows)], name="rid"))

    def block(start: int) -> tuple[np.ndarray, pd.DataFrame]:
        """Columns start.. of a matrix of exact float32 integers: (i, j) -> i + 1024 (j % 4096)."""
        columns = (np.arange(start, start + chunk) % 4096 * 1024).astype(np.float32)
        values = np.add.outer(np.arange(n_rows, dtype=np.float32), columns)
        ids = pd.Index([f"PLATE{start // chunk:03d}:{j:05d}" for j in range(chunk)], name="cid")
        meta = {"rna_plate": f"PLATE{start // chunk:03d}", "pert_dose": 10.0}
        return values, pd.DataFrame(meta, index=ids)

    tracemalloc.start()
    try:
        with GctxWriter(tmp_path / "big.gctx", rows) as writer:
            for start in range(0, n_cols, chunk):
                writer.append(*block(start))
        seen = 0
        for part in iter_gctx_columns(tmp_path / "big.gctx", chunk_size=chunk):
            expected, meta = block(seen)
            assert np.array_equal(part.values, expected)
            assert part.col_ids.equals(meta.index)
            seen += part.shape[1]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == n_cols
    print(f"peak traced memory {peak / 2**20:.1f} MiB for a {matrix_bytes / 2**20:.0f} MiB matrix")
    assert peak < matrix_bytes / 5

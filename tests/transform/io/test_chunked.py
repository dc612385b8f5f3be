"""read_rows_of_columns: rows start..stop of some columns, equal to numpy indexing, whatever the
chunk shape; chunks that hold none of the columns are never read."""

from __future__ import annotations

import itertools
from pathlib import Path

import h5py
import numpy as np
import pytest

from transform.io import chunked
from transform.io.chunked import ReadAhead, chunk_ranges, read_rows_of_columns

N_ROWS, N_COLS = 53, 37
CHUNKS = [None, (1, N_COLS), (4, N_COLS), (53, N_COLS), (5, 8), (7, 3), (1, 1), (16, 10)]
COLUMNS = {
    "sorted": [0, 3, 4, 9, 20, 21, 22, 36],
    "unsorted": [22, 3, 36, 0, 9, 21, 4, 20],
    "dense run": list(range(8, 19)),
    "dense run, reversed": list(range(18, 7, -1)),
    "one": [17],
    "all": list(range(N_COLS)),
    "all, shuffled": np.random.default_rng(3).permutation(N_COLS).tolist(),
}
RANGES = [(0, N_ROWS), (0, 1), (5, 6), (3, 50), (16, 32), (52, 53), (10, 10)]


def _file(path: Path, chunks: tuple[int, int] | None, **options: object) -> np.ndarray:
    values = np.random.default_rng(0).uniform(4, 15, (N_ROWS, N_COLS)).astype(np.float32)
    with h5py.File(path, "w") as file:
        file.create_dataset("matrix", data=values, chunks=chunks, **options)
    return values


@pytest.mark.parametrize("chunks", CHUNKS, ids=str)
def test_equals_numpy_indexing_for_every_chunk_shape(tmp_path: Path, chunks: object) -> None:
    values = _file(tmp_path / "m.h5", chunks)
    with h5py.File(tmp_path / "m.h5", "r") as file:
        for name, columns in COLUMNS.items():
            for start, stop in RANGES:
                got = read_rows_of_columns(file["matrix"], start, stop, columns)
                assert got.dtype == np.float32
                assert got.flags.c_contiguous
                np.testing.assert_array_equal(
                    got, values[start:stop][:, columns], err_msg=f"{name} {start}:{stop}"
                )


@pytest.mark.parametrize("chunks", [None, (3, N_COLS), (5, 8), (7, 3)], ids=str)
@pytest.mark.parametrize("limits", [(64, 2**20), (2**26, 1)], ids=["tiny block", "tiny span"])
def test_small_windows_and_given_outputs(
    tmp_path: Path, chunks: object, limits: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows of one chunk row (BLOCK_BYTES or SPAN_BYTES made tiny), into float64 and
    non-contiguous outputs."""
    monkeypatch.setattr(chunked, "BLOCK_BYTES", limits[0])
    monkeypatch.setattr(chunked, "SPAN_BYTES", limits[1])
    values = _file(tmp_path / "m.h5", chunks, compression="gzip")
    with h5py.File(tmp_path / "m.h5", "r") as file:
        for columns in COLUMNS.values():
            expected = values[2:51][:, columns]
            wide = np.full((49, len(columns) + 3), -1.0)
            out = wide[:, 1 : len(columns) + 1]  # a view with strides of its own
            assert read_rows_of_columns(file["matrix"], 2, 51, columns, out=out) is out
            np.testing.assert_array_equal(out, expected)
            assert (wide[:, 0] == -1).all()
            assert (wide[:, -2:] == -1).all()
            same = np.empty((49, len(columns)), dtype=np.float32)
            read_rows_of_columns(file["matrix"], 2, 51, np.array(columns), out=same)
            np.testing.assert_array_equal(same, expected)


@pytest.mark.parametrize(
    "columns",
    [[9, 3, 14], [30, 3, 5], [17, 36, 2], [20]],  # chunk columns of 8: 0-1, 0 and 3, 0-2 and 4, 2
    ids=str,
)
def test_chunks_without_the_columns_are_never_read(tmp_path: Path, columns: list[int]) -> None:
    """Garbage written over every chunk holding none of the columns: they read all the same."""
    path = tmp_path / "m.h5"
    values = _file(path, (4, 8), compression="gzip")
    held = {column // 8 for column in columns}
    with h5py.File(path, "r") as file:
        dataset = file["matrix"]
        spoiled = [
            dataset.id.get_chunk_info_by_coord((row, col))
            for row in range(0, N_ROWS, 4)
            for col in range(0, N_COLS, 8)
            if col // 8 not in held
        ]
    with open(path, "r+b") as raw:
        for info in spoiled:
            raw.seek(info.byte_offset)
            raw.write(b"\xff" * info.size)
    with h5py.File(path, "r") as file:
        got = read_rows_of_columns(file["matrix"], 0, N_ROWS, columns)
        np.testing.assert_array_equal(got, values[:, columns])
        with pytest.raises(OSError, match="filter returned failure"):
            file["matrix"][:, 8 * min(set(range(5)) - held)]


def test_refusals(tmp_path: Path) -> None:
    _file(tmp_path / "m.h5", (5, 8))
    with h5py.File(tmp_path / "m.h5", "r") as file:
        matrix = file["matrix"]
        with pytest.raises(ValueError, match="repeat"):
            read_rows_of_columns(matrix, 0, 4, [3, 5, 3])
        with pytest.raises(IndexError, match="below 37"):
            read_rows_of_columns(matrix, 0, 4, [3, 37])
        with pytest.raises(IndexError, match="below 37"):
            read_rows_of_columns(matrix, 0, 4, [-1])
        with pytest.raises(IndexError, match="out of range"):
            read_rows_of_columns(matrix, 50, 54, [1])
        with pytest.raises(IndexError, match="out of range"):
            read_rows_of_columns(matrix, 5, 4, [1])
        with pytest.raises(ValueError, match="shape"):
            read_rows_of_columns(matrix, 0, 4, [1, 2], out=np.empty((4, 3)))
        assert read_rows_of_columns(matrix, 0, 4, []).shape == (4, 0)


@pytest.mark.parametrize("chunks", [None, (1, N_COLS), (4, N_COLS), (5, 8), (7, 3), (16, 10)])
def test_chunk_ranges_name_the_chunks_read(tmp_path: Path, chunks: object) -> None:
    """Of a file written in one go, the ranges cover the chunks read, and little else."""
    _file(tmp_path / "m.h5", chunks)
    with h5py.File(tmp_path / "m.h5", "r") as file:
        matrix = file["matrix"]
        for columns in ([0, 3, 4, 9, 20, 21, 22, 36], [22, 3], [17], list(range(N_COLS))):
            for start, stop in [(0, N_ROWS), (5, 6), (3, 50), (10, 10)]:
                ranges = chunk_ranges(matrix, start, stop, columns)
                if start == stop:
                    assert ranges == []
                    continue
                assert ranges == sorted(ranges)
                assert all(a + n <= b for (a, n), (b, _) in itertools.pairwise(ranges))
                if chunks is None:
                    row = N_COLS * 4
                    expected = [(matrix.id.get_offset() + start * row, (stop - start) * row)]
                    assert ranges == expected
                    continue
                height, width = chunks
                wanted = {
                    matrix.id.get_chunk_info_by_coord((row * height, col * width))
                    for row in range(start // height, -(-stop // height))
                    for col in {column // width for column in columns}
                }
                # HDF5 may store index nodes between chunks: at most twice the chunks' bytes
                assert sum(info.size for info in wanted) <= sum(n for _, n in ranges)
                assert sum(n for _, n in ranges) <= 2 * sum(info.size for info in wanted)
                for info in wanted:
                    assert any(a <= info.byte_offset < a + n for a, n in ranges)


def test_chunk_ranges_give_up_beyond_max_lookups(tmp_path: Path) -> None:
    _file(tmp_path / "m.h5", (1, 3))
    with h5py.File(tmp_path / "m.h5", "r") as file:
        assert len(chunk_ranges(file["matrix"], 0, 20, [0, 9])) == 40  # 20 rows x 2 runs
        wide = [0, 3, 9, 12, 30, 33]  # 3 runs of 2 chunks a row: 53 x 3 x 2 lookups
        assert chunk_ranges(file["matrix"], 0, N_ROWS, wide) == []


def test_read_ahead_hints_then_reads(tmp_path: Path) -> None:
    values = _file(tmp_path / "m.h5", (5, 8))
    with h5py.File(tmp_path / "m.h5", "r") as file:
        ahead = ReadAhead(file["matrix"])
        for start in range(0, N_ROWS, 10):
            ahead.hint(start, min(start + 10, N_ROWS), [30, 2])
            got = read_rows_of_columns(file["matrix"], start, min(start + 10, N_ROWS), [30, 2])
            np.testing.assert_array_equal(got, values[start : start + 10][:, [30, 2]])
        ahead.close()

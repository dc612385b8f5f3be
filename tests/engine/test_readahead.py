"""Read-ahead of a query's rows when they are out of memory (search/engine/readahead.py)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from search.engine.readahead import RowReader
from tests.engine.conftest import Indexed
from tests.engine.test_search import COLUMNS, query, rows_of

ROW_COLUMNS = 1 << 21
MIDDLE = ROW_COLUMNS // 2
pytestmark = pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="Linux page cache only")


@pytest.fixture
def reader(tmp_path) -> RowReader:
    path = tmp_path / "ranks.npy"
    rng = np.random.default_rng(0)
    # rows of 4 MB: the page cache drops only whole folios, up to 2 MB each
    np.save(path, rng.integers(1, 1000, (8, ROW_COLUMNS), dtype=np.uint16))
    path.read_bytes()  # in the page cache, not mapped (a page mapped elsewhere cannot be dropped)
    return RowReader(path, np.asarray(np.load(path, mmap_mode="r")))


def dropped(reader: RowReader, rows: np.ndarray) -> bool:
    reader.drop(rows)
    return not any(reader.in_memory(int(row), MIDDLE) for row in rows)


def test_rows_in_memory_are_not_asked_for(reader: RowReader) -> None:
    rows = np.arange(8)
    assert all(reader.in_memory(int(row), MIDDLE) for row in rows)
    assert not reader.ahead(rows, 0, ROW_COLUMNS)


def test_dropped_rows_are_asked_for_and_arrive(reader: RowReader) -> None:
    rows = np.array([6, 1, 3])
    if not dropped(reader, rows):
        pytest.skip("this file system keeps its pages (tmpfs?)")
    assert reader.in_memory(4, MIDDLE)  # a row not dropped stays
    assert reader.ahead(rows, 1000, ROW_COLUMNS - 1000)
    deadline = time.monotonic() + 5
    while not all(reader.in_memory(int(row), MIDDLE) for row in rows):
        assert time.monotonic() < deadline, "the rows asked for never arrived"
        time.sleep(0.01)
    assert not reader.ahead(rows, 1000, ROW_COLUMNS - 1000)


def test_a_search_that_reads_ahead_finds_the_same_answer(indexed: Indexed, monkeypatch) -> None:
    index = indexed.index
    up, down = query(indexed, seed=31)
    warm = index.search(up, down, k=25, path="exact").table
    asked = []
    reader = index.readers["ranks"]
    original = reader.ahead

    def ahead(rows: np.ndarray, start: int, stop: int) -> bool:
        asked.append(sorted(rows.tolist()))
        return original(rows, start, stop)

    monkeypatch.setattr(reader, "in_memory", lambda row, column: False)  # as if out of memory
    monkeypatch.setattr(reader, "ahead", ahead)
    cold = index.search(up, down, k=25, path="exact").table
    assert asked == [sorted(rows_of(indexed, up) + rows_of(indexed, down))]
    assert cold["sig_id"].tolist() == warm["sig_id"].tolist()
    assert np.array_equal(cold[COLUMNS].to_numpy(), warm[COLUMNS].to_numpy())

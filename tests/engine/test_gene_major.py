"""A range of a gene-major .npy copied as a file of its own: every row's run, by the kernel, by a
buffer where the file system cannot, and when either takes less than it was asked."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from search.engine.gene_major import copy_columns


@pytest.fixture
def matrix(tmp_path: Path) -> np.ndarray:
    values = np.random.default_rng(3).integers(0, 60_000, (37, 501), dtype=np.uint16)
    np.save(tmp_path / "whole.npy", values)
    return values


@pytest.mark.parametrize(("start", "stop"), [(0, 501), (0, 1), (250, 251), (100, 347), (400, 501)])
def test_a_copied_range_holds_the_columns(
    matrix: np.ndarray, tmp_path: Path, start: int, stop: int
) -> None:
    copy_columns(tmp_path / "whole.npy", start, stop, tmp_path / "part.npy")
    part = np.load(tmp_path / "part.npy")
    assert part.dtype == matrix.dtype
    assert np.array_equal(part, matrix[:, start:stop])


def test_a_file_system_without_the_kernel_copy_is_copied_through_a_buffer(
    matrix: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def refused(*args: int) -> int:
        calls.append(args)
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refused)
    copy_columns(tmp_path / "whole.npy", 120, 480, tmp_path / "part.npy")
    assert np.array_equal(np.load(tmp_path / "part.npy"), matrix[:, 120:480])
    assert len(calls) == 1  # turned down once, then every row through the buffer


def test_short_copies_and_writes_are_carried_on(
    matrix: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both calls may move fewer bytes than asked: 7 at a time by the kernel, then 5 at a time
    through the buffer."""
    copy_file_range, pwrite = os.copy_file_range, os.pwrite
    monkeypatch.setattr(
        os, "copy_file_range", lambda i, o, n, a, t: copy_file_range(i, o, min(n, 7), a, t)
    )
    copy_columns(tmp_path / "whole.npy", 3, 200, tmp_path / "kernel.npy")
    assert np.array_equal(np.load(tmp_path / "kernel.npy"), matrix[:, 3:200])
    monkeypatch.setattr(os, "pwrite", lambda fd, data, at: pwrite(fd, data[:5], at))
    monkeypatch.setattr(os, "copy_file_range", _refuse)
    copy_columns(tmp_path / "whole.npy", 3, 200, tmp_path / "buffer.npy")
    assert np.array_equal(np.load(tmp_path / "buffer.npy"), matrix[:, 3:200])


def _refuse(*args: int) -> int:
    raise OSError(errno.ENOSYS, "Function not implemented")


def test_a_source_shorter_than_its_header_says_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "whole.npy", np.ones((4, 100), dtype=np.uint16))
    with open(tmp_path / "whole.npy", "r+b") as cut:
        cut.truncate(os.path.getsize(tmp_path / "whole.npy") - 50)
    with pytest.raises(ValueError, match="greater than file size"):
        copy_columns(tmp_path / "whole.npy", 0, 100, tmp_path / "part.npy")
    assert not (tmp_path / "part.npy").exists()  # refused before anything is written


def test_a_source_not_a_c_order_matrix_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "fortran.npy", np.asfortranarray(np.ones((4, 100), dtype=np.uint16)))
    with pytest.raises(ValueError, match="C order"):
        copy_columns(tmp_path / "fortran.npy", 0, 10, tmp_path / "part.npy")


def test_a_platform_without_the_kernel_copy_uses_the_buffer(
    matrix: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "copy_file_range")  # as on macOS
    copy_columns(tmp_path / "whole.npy", 0, 250, tmp_path / "part.npy")
    assert np.array_equal(np.load(tmp_path / "part.npy"), matrix[:, :250])

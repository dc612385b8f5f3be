"""Reading a query's rows of a memory-mapped matrix ahead, when they are not in memory.

A gather over rows that are out of the page cache faults them in one read-around at a time, so an
index larger than memory (1,000,000 signatures: a 47 GB rank matrix) spends most of a cold query
waiting for the disk one request after another. Asking the kernel for every row first
(posix_fadvise WILLNEED) puts all the reads in flight at once; the gather then finds them
arriving. The hint costs a system call a row (about 3 us even when the row is cached), so a few
rows are checked first (mincore) and nothing is asked when they are all in memory.

Linux only: elsewhere (no posix_fadvise) `ahead` does nothing and the gather faults as before.
"""

from __future__ import annotations

import ctypes
import mmap
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from _ctypes import CFuncPtr

SAMPLE = 8  # rows checked for residency before the whole set is asked for


class RowReader:
    """Read-ahead for the rows of matrix, the memory-mapped .npy at path."""

    def __init__(self, path: Path, matrix: np.ndarray) -> None:
        self.path = Path(path)
        self.matrix = matrix
        self.row_bytes = matrix.shape[1] * matrix.itemsize
        self.offset = np.load(path, mmap_mode="r").offset  # of the data in the file
        self.enabled = hasattr(os, "posix_fadvise") and None not in (_mincore, _madvise)

    def ahead(self, rows: np.ndarray, start: int, stop: int) -> bool:
        """Ask for columns [start, stop) of the rows when a sample of them is not in memory;
        True when it asked."""
        if not self.enabled or rows.size == 0 or stop <= start:
            return False
        sample = rows[np.linspace(0, rows.size - 1, min(SAMPLE, rows.size)).astype(np.int64)]
        middle = (start + stop) // 2  # not an end: a page there may hold a neighbour's data
        if all(self.in_memory(int(row), middle) for row in sample):
            return False
        first, length = start * self.matrix.itemsize, (stop - start) * self.matrix.itemsize
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            for row in np.sort(rows).tolist():
                where = self.offset + row * self.row_bytes + first
                os.posix_fadvise(descriptor, where, length, os.POSIX_FADV_WILLNEED)
        finally:
            os.close(descriptor)
        return True

    def drop(self, rows: np.ndarray) -> None:
        """Unmap the rows from this process and drop them from the page cache, so that the next
        read comes from the disk (benchmarks and tests measure cold queries with it)."""
        if not self.enabled:
            return
        assert _madvise is not None  # enabled: libc has it
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(descriptor)  # dirty pages (a file just written) would stay
            for row in np.asarray(rows).tolist():
                address = self.matrix.ctypes.data + row * self.row_bytes
                start = address - address % mmap.PAGESIZE
                _madvise(
                    ctypes.c_void_p(start),
                    ctypes.c_size_t(address + self.row_bytes - start),
                    mmap.MADV_DONTNEED,
                )
                os.posix_fadvise(
                    descriptor,
                    self.offset + row * self.row_bytes,
                    self.row_bytes,
                    os.POSIX_FADV_DONTNEED,
                )
        finally:
            os.close(descriptor)

    def in_memory(self, row: int, column: int) -> bool:
        """Whether the page holding matrix[row, column] is in the page cache."""
        address = self.matrix.ctypes.data + row * self.row_bytes + column * self.matrix.itemsize
        page = address - address % mmap.PAGESIZE
        resident = (ctypes.c_ubyte * 1)()  # its own: searches of one index run in threads
        assert _mincore is not None  # libc has it wherever read-ahead runs (Linux)
        if _mincore(ctypes.c_void_p(page), ctypes.c_size_t(1), resident) != 0:
            return True  # unknown: assume it is, and ask for nothing
        return bool(resident[0] & 1)


def _libc(name: str, *argtypes: type[ctypes._SimpleCData[Any]]) -> CFuncPtr | None:
    try:
        function: CFuncPtr = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = list(argtypes)
    function.restype = ctypes.c_int
    return function


_mincore = _libc("mincore", ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
_madvise = _libc("madvise", ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)

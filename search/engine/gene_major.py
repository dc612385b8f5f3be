"""Gene-major matrices written to disk: an index's ranks.npy and values.npy, (G, N) .npy files
whose signatures arrive column block by column block (the build's blocks).

`GeneMajorWriter` gathers the columns in a buffer of FLUSH_BYTES and writes each row's run at its
place in the file with positioned writes (os.pwrite). Through a memory map the same writes cost a
page fault for every page, and a page evicted between two partial writes had to be read from disk
again: at a million signatures the kernel's share of the build was 1,610 s against 457 s of the
build's own work, and a 28.3 GB matrix took 760 s to write against 26.1 s
(docs/benchmarks/build.md).

`copy_columns` copies a range of signatures out of such a file, as write_shards splits an index:
file to file, each row's run in one call, the page cache never holding a written page twice.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from transform.io.files import write_at

FLUSH_BYTES = 512 << 20  # the write buffer of a gene-major matrix


class GeneMajorWriter:
    """A (G, N) .npy of `dtype` created at `path` and written through a buffer of whole blocks of
    `block` columns (at least one): `put` its columns in order, then `flush`; `close` after a
    failure (the file then holds whatever was written)."""

    def __init__(self, path: Path, dtype: DTypeLike, shape: tuple[int, int], block: int) -> None:
        self.offset = _created(path, dtype, shape)
        self.fd = os.open(path, os.O_WRONLY)
        columns = min(shape[1], buffer_columns(shape, dtype, block))
        self.buffer = np.empty((shape[0], columns), dtype=dtype)
        self.row_bytes = shape[1] * self.buffer.itemsize
        self.start = self.filled = 0

    def put(self, first: int, block: np.ndarray) -> None:
        """Columns first.. of the matrix, in order: block (G, c), c no wider than the buffer."""
        assert first == self.start + self.filled, "blocks come in column order"
        if self.filled + block.shape[1] > self.buffer.shape[1]:
            self._write()
        self.buffer[:, self.filled : self.filled + block.shape[1]] = block
        self.filled += block.shape[1]

    def _write(self) -> None:
        first = self.offset + self.start * self.buffer.itemsize
        for row in range(self.buffer.shape[0]):
            write_at(
                self.fd,
                self.buffer[row, : self.filled].data.cast("B"),
                first + row * self.row_bytes,
            )
        self.start += self.filled
        self.filled = 0

    def flush(self) -> None:
        """Write what the buffer holds, then the file to disk, and close it."""
        self._write()
        os.fsync(self.fd)
        self.close()

    def close(self) -> None:
        """Close the file (again: nothing), written or not."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def buffer_columns(shape: tuple[int, int], dtype: DTypeLike, block: int) -> int:
    """Columns of a gene-major matrix's write buffer: whole blocks filling FLUSH_BYTES, one at
    least."""
    return max(block, FLUSH_BYTES // (shape[0] * np.dtype(dtype).itemsize) // block * block)


def copy_columns(source: Path, start: int, stop: int, path: Path) -> None:
    """Columns start:stop of the gene-major .npy at `source` as a .npy of their own at `path`:
    each row's run is contiguous in both files, so it is copied file to file, one run a row
    (os.copy_file_range, done by the kernel; read and written through a buffer where the file
    system cannot)."""
    mapped = np.load(source, mmap_mode="r")
    if mapped.ndim != 2 or not mapped.flags.c_contiguous:
        raise ValueError(f"{source}: a 2-d matrix in C order is needed, not {mapped.shape}")
    (rows, columns), dtype, header = mapped.shape, mapped.dtype, mapped.offset
    del mapped
    offset = _created(path, dtype, (rows, stop - start))
    run = (stop - start) * dtype.itemsize
    kernel = hasattr(os, "copy_file_range")  # Linux only
    with open(source, "rb") as read, open(path, "r+b") as out:
        for row in range(rows):
            at = header + (row * columns + start) * dtype.itemsize
            kernel = _copy_run(read.fileno(), out.fileno(), run, at, offset + row * run, kernel)
        os.fsync(out.fileno())


def _copy_run(source: int, out: int, count: int, at: int, to: int, kernel: bool) -> bool:
    """count bytes of `source` from `at` to `out` at `to`: by the kernel if `kernel`, else (or
    where the file system turns it down) through a buffer of 64 MB at most. Returns whether the
    kernel copies the next run."""
    while count and kernel:
        try:
            copied = os.copy_file_range(source, out, count, at, to)
        except OSError as error:
            if error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            kernel = False
            break
        if copied == 0:
            raise EOFError(f"{count:,} bytes short at byte {at:,} of the source")
        count, at, to = count - copied, at + copied, to + copied
    while count:
        chunk = memoryview(os.pread(source, min(count, 64 << 20), at))
        if not chunk:
            raise EOFError(f"{count:,} bytes short at byte {at:,} of the source")
        write_at(out, chunk, to)
        count, at, to = count - len(chunk), at + len(chunk), to + len(chunk)
    return kernel


def _created(path: Path, dtype: DTypeLike, shape: tuple[int, int]) -> int:
    """A .npy of `dtype` and `shape` created at `path`, sized, its header written by numpy;
    returns the header's size (where row 0 starts)."""
    created = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    offset: int = created.offset
    del created
    return offset

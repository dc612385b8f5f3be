"""Reading a range of rows restricted to some columns, by the dataset's chunks (h5py).

A Level 3 GCTX stores (profiles, genes); the conversion wants every profile's landmark genes.
`read_rows_of_columns` reads rows start..stop of the columns asked for, touching only the stored
chunks that hold them (CMap's files chunk 1,000 genes x 262 profiles: with the landmarks in few
gene chunks, most of the file is never read). `chunk_ranges` tells where those chunks lie in the
file, and `ReadAhead` asks the kernel for them ahead of time from a thread of its own.
docs/benchmarks/level3-read.md has the figures.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np

BLOCK_BYTES = 64 * 2**20  # most bytes read at once
SPAN_BYTES = 2**20  # least bytes read per window when columns fall in separate runs of chunks
MAX_LOOKUPS = 256  # chunk lookups (~50 us each) one read-ahead hint may take
HINT_BYTES = 8 * 2**20  # bytes per posix_fadvise call of a read-ahead hint


def read_rows_of_columns(
    dataset: h5py.Dataset,
    start: int,
    stop: int,
    columns: np.ndarray | Sequence[int],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """dataset[start:stop][:, columns] of a 2-D dataset, reading only the chunks that hold columns.

    columns: unique positions along axis 1, in any order; the result keeps that order.
    out: an array of shape (stop - start, len(columns)) to fill (values cast to its dtype);
    None allocates one of the dataset's dtype.

    The columns are grouped by runs of adjacent chunks along axis 1 that hold some of them (a
    single group for chunks of whole rows or a contiguous dataset) and each group's span, its
    first to its last column, is read as one hyperslab: chunks holding none of the columns are
    never read. Rows go by windows that end on chunk boundaries, through a buffer of at most
    BLOCK_BYTES (or one chunk row of the widest span) whatever stop - start is: for one group,
    windows as tall as that allows; for several, one chunk row (or enough to read SPAN_BYTES),
    its groups in order, so that the reads move forward through a file that stores its chunks
    row by row. A group whose span is all wanted, in order, is read straight into `out`.
    """
    columns = np.asarray(columns, dtype=np.int64)
    n_rows, n_cols = dataset.shape
    if not 0 <= start <= stop <= n_rows:
        raise IndexError(f"rows {start}:{stop} out of range for {n_rows} rows")
    if columns.ndim != 1 or (columns.size and not 0 <= columns.min() <= columns.max() < n_cols):
        raise IndexError(f"columns must be a 1-D list of positions below {n_cols}")
    if out is None:
        out = np.empty((stop - start, len(columns)), dtype=dataset.dtype)
    elif out.shape != (stop - start, len(columns)):
        raise ValueError(f"out has shape {out.shape}, not {(stop - start, len(columns))}")
    if start == stop or not len(columns):
        return out
    order = np.argsort(columns, kind="stable")
    ordered = columns[order]
    if np.any(ordered[1:] == ordered[:-1]):
        raise ValueError("columns repeat a position")
    height, width = dataset.chunks or (1, n_cols)
    groups = _chunk_groups(ordered, width)
    spans = [int(ordered[b - 1] - ordered[a]) + 1 for a, b in groups]
    itemsize = dataset.dtype.itemsize
    rows = max(1, BLOCK_BYTES // (max(spans) * itemsize) // height) * height
    if len(groups) > 1:
        rows = min(rows, height * max(1, -(-SPAN_BYTES // (height * sum(spans) * itemsize))))
    scratch = np.empty(min(rows, stop - start) * max(spans), dtype=dataset.dtype)
    rank = np.argsort(order)  # out[:, j] is the rank[j]-th column in increasing order
    in_order = bool(np.all(order == np.arange(len(order))))
    # in increasing order the groups go straight to `out`, else through `gathered`, then permuted
    gathered = None if in_order else np.empty((min(rows, stop - start), len(columns)), out.dtype)
    low = start
    while low < stop:
        high = min(stop, low // height * height + rows)  # ends on a chunk boundary or at stop
        target = slice(low - start, high - start)
        into = out[target] if gathered is None else gathered[: high - low]
        for a, b in groups:
            first, last = int(ordered[a]), int(ordered[b - 1]) + 1
            if last - first == b - a and _direct(into, dataset.dtype):  # dense: no scratch
                dataset.read_direct(into, np.s_[low:high, first:last], np.s_[:, a:b])
                continue
            block = scratch[: (high - low) * (last - first)].reshape(high - low, last - first)
            dataset.read_direct(block, np.s_[low:high, first:last])
            if b - a == len(columns) and _direct(into, block.dtype):
                np.take(block, ordered - first, axis=1, out=into, mode="clip")
            else:
                into[:, a:b] = np.take(block, ordered[a:b] - first, axis=1, mode="clip")
        if gathered is not None:
            out[target] = np.take(into, rank, axis=1, mode="clip")
        low = high
    return out


def chunk_ranges(
    dataset: h5py.Dataset, start: int, stop: int, columns: np.ndarray | Sequence[int]
) -> list[tuple[int, int]]:
    """File byte ranges (offset, length) of what `read_rows_of_columns` reads for these rows and
    columns, for read-ahead hints; [] where that is not cheap to tell.

    Runs of chunks are looked up by their first and last chunk: all the rows' chunk rows as one
    run when the columns' chunks span the whole width, else each chunk row of each group. A run
    counts as one range only if it lies in order and takes at most twice its chunks' bytes (as
    HDF5 stores the chunks of a file written row by row); other runs, unwritten chunks, and calls
    that would take more than MAX_LOOKUPS lookups are left out.
    """
    columns = np.sort(np.asarray(columns, dtype=np.int64))
    n_cols = dataset.shape[1]
    if start >= stop or not len(columns):
        return []
    if dataset.chunks is None:
        offset = dataset.id.get_offset()
        row_bytes = n_cols * dataset.dtype.itemsize
        return [] if offset is None else [(offset + start * row_bytes, (stop - start) * row_bytes)]
    height, width = dataset.chunks
    chunk_bytes = height * width * dataset.dtype.itemsize
    per_row = -(-n_cols // width)  # chunks across
    spans = [
        (int(columns[a]) // width, int(columns[b - 1]) // width)
        for a, b in _chunk_groups(columns, width)
    ]
    first_row, last_row = start // height, (stop - 1) // height
    if spans == [(0, per_row - 1)]:
        runs = [((first_row, 0), (last_row, spans[0][1]))]
    else:
        runs = [
            ((row, low), (row, high))
            for row in range(first_row, last_row + 1)
            for low, high in spans
        ]
    if sum(1 + (first != last) for first, last in runs) > MAX_LOOKUPS:
        return []
    ranges = []
    for (row_a, col_a), (row_b, col_b) in runs:
        a = dataset.id.get_chunk_info_by_coord((row_a * height, col_a * width))
        b = a
        if (row_b, col_b) != (row_a, col_a):
            b = dataset.id.get_chunk_info_by_coord((row_b * height, col_b * width))
        if a.byte_offset is None or b.byte_offset is None:
            continue
        length = b.byte_offset + b.size - a.byte_offset
        count = (row_b - row_a) * per_row + col_b - col_a + 1
        if 0 < length <= 2 * count * chunk_bytes:
            ranges.append((a.byte_offset, length))
    return ranges


class ReadAhead:
    """Read-ahead hints (posix_fadvise WILLNEED) for rows of a dataset, sent from a thread of
    their own: the kernel fetches them with several requests in flight while the caller reads
    earlier rows, where HDF5 alone keeps one (network disks serve one stream far slower than
    several: docs/benchmarks/level3-read.md). Only the page cache holds what it fetches; where
    posix_fadvise does not exist (not Linux), hints do nothing."""

    def __init__(self, dataset: h5py.Dataset) -> None:
        self.dataset = dataset
        self.enabled = hasattr(os, "posix_fadvise")
        self.fd = os.open(dataset.file.filename, os.O_RDONLY) if self.enabled else -1
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="read-ahead")

    def hint(self, start: int, stop: int, columns: np.ndarray | Sequence[int]) -> None:
        """Ask for what read_rows_of_columns(dataset, start, stop, columns) will read."""
        if self.enabled:
            ranges = chunk_ranges(self.dataset, start, stop, columns)  # h5py: in this thread
            self.pool.submit(_advise, self.fd, ranges)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        if self.enabled:
            os.close(self.fd)


def _advise(fd: int, ranges: list[tuple[int, int]]) -> None:
    for offset, length in ranges:
        for at in range(offset, offset + length, HINT_BYTES):
            os.posix_fadvise(fd, at, min(HINT_BYTES, offset + length - at), os.POSIX_FADV_WILLNEED)


def _direct(into: np.ndarray, dtype: np.dtype) -> bool:
    """Whether values of `dtype` can be written into `into` in place (read_direct, take's out)."""
    return into.flags.c_contiguous and into.dtype == dtype


def _chunk_groups(ordered: np.ndarray, width: int) -> list[tuple[int, int]]:
    """(a, b) bounds in `ordered` (increasing positions) of the runs of positions in adjacent
    chunks of `width` columns: a chunk column holding none of them separates two runs."""
    edges = np.flatnonzero(np.diff(ordered // width) > 1) + 1
    bounds = [0, *edges.tolist(), len(ordered)]
    return list(itertools.pairwise(bounds))

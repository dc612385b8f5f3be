"""HDF5 plumbing shared by the GCTX and ARCHS4 readers and writers (h5py).

Reading: `open_hdf5` turns a missing, foreign or truncated file into a clear error; `read_rows`
reads the rows (first axis) of a dataset at sorted positions in bounded memory (a range of rows
restricted to some columns, by the chunks that hold them: `transform.io.chunked`).
Writing: `StreamWriter` writes to `<path>.tmp` (or a temporary path given) and renames it onto
`path` only when closed without an error, checks that every appended chunk of columns carries the
same metadata fields and no column id seen before, and grows 1-D metadata datasets chunk by chunk
(`append_field`).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

import h5py
import numpy as np
import pandas as pd

from transform.io.errors import FileFormatError, name_some
from transform.io.meta import (
    MISSING_NUMBER,
    MISSING_TEXT,
    decode_text,
    encode_text,
    hdf5_values,
    id_index,
    text_values,
    typed_column,
    typed_frame,
)
from transform.io.select import take_in_order

BLOCK_BYTES = 64 * 2**20  # most bytes read at once when gathering scattered rows
SPARSE = 8  # read positions one by one when they cover less than 1/SPARSE of their span
META_CHUNK = 16384  # elements per chunk of a 1-D metadata dataset
META_GZIP = 6  # gzip level of metadata datasets, as CMap writes them
CHUNK_BYTES = 2**20  # target size of one matrix chunk (CMap's tools use 1 MiB too)


def open_hdf5(path: str | Path, error: type[FileFormatError]) -> h5py.File:
    """Open an HDF5 file for reading, or raise `error` saying why it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if not h5py.is_hdf5(path):
        raise error(f"{path}: not an HDF5 file (no HDF5 signature)")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise error(f"{path}: damaged or truncated HDF5 file ({exc})") from exc


def require_dataset(file: h5py.File, name: str, error: type[FileFormatError]) -> h5py.Dataset:
    item = file.get(name)
    if not isinstance(item, h5py.Dataset):
        raise error(f"{file.filename}: missing dataset /{name}")
    return item


def require_group(file: h5py.File, name: str, error: type[FileFormatError]) -> h5py.Group:
    item = file.get(name)
    if not isinstance(item, h5py.Group):
        raise error(f"{file.filename}: missing group /{name}")
    return item


def read_rows(dataset: h5py.Dataset, positions: np.ndarray | None, axis: int = 0) -> np.ndarray:
    """Slices of `dataset` along `axis` (rows for 0, columns for 1) at increasing unique positions.

    None reads everything. Reads windows of at most BLOCK_BYTES: dense stretches as one slice,
    sparse ones by h5py's point selection, so memory stays bounded whatever the positions' span.
    """
    if positions is None:
        whole: np.ndarray = dataset[()]
        return whole
    shape = list(dataset.shape)
    slice_size = int(np.prod(shape[:axis] + shape[axis + 1 :], dtype=np.int64))
    block = max(1, BLOCK_BYTES // max(1, slice_size * dataset.dtype.itemsize))
    shape[axis] = len(positions)
    out = np.empty(shape, dtype=dataset.dtype)
    start = 0
    while start < len(positions):
        low = int(positions[start])
        stop = int(np.searchsorted(positions, low + block))
        window = positions[start:stop]
        span = int(window[-1]) - low + 1
        target = _along(axis, slice(start, stop))
        if span == len(window):
            dataset.read_direct(out, _along(axis, slice(low, low + span)), target)
        elif len(window) * SPARSE < span:
            out[target] = dataset[_along(axis, window)]
        else:
            out[target] = dataset[_along(axis, slice(low, low + span))][_along(axis, window - low)]
        start = stop
    return out


def _along(axis: int, index: slice | np.ndarray) -> tuple[slice | np.ndarray, ...]:
    return (index,) if axis == 0 else (slice(None), index)


def read_field(dataset: h5py.Dataset, positions: np.ndarray | None = None) -> np.ndarray:
    """A 1-D metadata dataset as stored: numbers, or decoded str objects."""
    raw = read_rows(dataset, positions)
    return raw if raw.dtype.kind in "iufb" else decode_text(raw)


def read_fields(group: h5py.Group, at: np.ndarray | None, skip: str = "") -> dict[str, np.ndarray]:
    """Every metadata field of `group` but `skip`, at positions `at` in their order, as stored."""
    return {
        name: take_in_order(functools.partial(read_field, dataset), at)
        for name, dataset in group.items()
        if name != skip
    }


def read_meta(
    group: h5py.Group, at: np.ndarray | None, index: pd.Index | None = None, skip: str = ""
) -> pd.DataFrame:
    """Every metadata field of `group` but `skip`, at positions `at` in their order, typed."""
    return typed_frame(read_fields(group, at, skip), index)


def read_ids(dataset: h5py.Dataset, error: type[FileFormatError], what: str) -> pd.Index:
    """Row or column ids as str, refusing duplicates."""
    ids = id_index(read_field(dataset))
    if not ids.is_unique:
        repeated = ids[ids.duplicated()].unique().tolist()
        raise error(f"{dataset.file.filename}: duplicate {what} ids {name_some(repeated)}")
    return ids


def append_field(
    group: h5py.Group, name: str, column: pd.Series, dtype: np.dtype | None = None
) -> None:
    """Append a metadata column to the resizable dataset `name`, creating it on first use.

    dtype: the field's stored type, decided for the whole file (e.g. a source file's); without
    it the first chunk decides whether the field is numeric or text. Text widens when a longer
    value arrives; numbers into a text field are written as text; text into a numeric field must
    read as numbers, unless the field holds only CMap's missing marker so far (a field missing
    throughout the first chunks), which then becomes text; non-integer values into an integer
    field are refused.
    """
    values = hdf5_values(column)
    if name not in group:
        group.create_dataset(
            name,
            shape=(0,),
            maxshape=(None,),
            dtype=values.dtype if dtype is None else dtype,
            chunks=(META_CHUNK,),
            compression="gzip",
            compression_opts=META_GZIP,
        )
    dataset = group[name]
    if _text_after_only_missing(dataset, values):
        dataset = _replace_dataset(group, name, f"S{len(MISSING_TEXT)}", _missing_text)
    values = _fit(dataset, values, column)
    if values.dtype.kind == "S" and values.dtype.itemsize > dataset.dtype.itemsize:
        itemsize = max(values.dtype.itemsize, 2 * dataset.dtype.itemsize)
        dataset = _replace_dataset(group, name, f"S{itemsize}", lambda chunk: chunk)
    start = dataset.shape[0]
    dataset.resize((start + len(values),))
    dataset[start:] = values


def _text_after_only_missing(dataset: h5py.Dataset, values: np.ndarray) -> bool:
    """Whether text that is not numbers comes to a numeric field holding only -666 so far."""
    if values.dtype.kind != "S" or dataset.dtype.kind not in "iuf":
        return False
    if typed_column(decode_text(values)).dtype.kind in "iuf":
        return False
    return bool(np.all(dataset[()] == MISSING_NUMBER))


def _missing_text(chunk: np.ndarray) -> np.ndarray:
    """A chunk of a numeric field holding only -666, as text: "-666" each."""
    return np.full(len(chunk), MISSING_TEXT.encode(), dtype=f"S{len(MISSING_TEXT)}")


def _fit(dataset: h5py.Dataset, values: np.ndarray, column: pd.Series) -> np.ndarray:
    stored = dataset.dtype.kind
    if stored == "S":
        return values if values.dtype.kind == "S" else encode_text(text_values(column, name=""))
    if values.dtype.kind == "S":
        values = typed_column(decode_text(values))
        if values.dtype.kind not in "iuf":
            raise ValueError(f"metadata field {column.name!r}: text in a field stored as numbers")
        values = hdf5_values(pd.Series(values))
    if stored in "iu" and values.dtype.kind == "f" and not np.array_equal(values, np.round(values)):
        raise ValueError(f"metadata field {column.name!r}: fractions in a field stored as integers")
    return values.astype(dataset.dtype)


def _replace_dataset(
    group: h5py.Group, name: str, dtype: str, convert: Callable[[np.ndarray], np.ndarray]
) -> h5py.Dataset:
    """The dataset `name` re-created with another dtype (wider text, or text for numbers), its
    values converted chunk by chunk."""
    old = group[name]
    new = group.create_dataset(
        name + ".retyped",
        shape=old.shape,
        maxshape=(None,),
        dtype=dtype,
        chunks=old.chunks,
        compression=old.compression,
        compression_opts=old.compression_opts,
    )
    for start in range(0, old.shape[0], META_CHUNK):
        new[start : start + META_CHUNK] = convert(old[start : start + META_CHUNK])
    del group[name]
    group.move(name + ".retyped", name)
    return group[name]


def relink_in_order(group: h5py.Group, names: list[str]) -> None:
    """Make `group` (created with track_order) list `names` in that order.

    Widening or retyping a field re-creates its dataset, which moves it last; re-making each link in
    the wanted order restores the order without copying data.
    """
    present = [name for name in names if name in group]
    if list(group) == present:
        return
    for name in present:
        group.move(name, name + ".relink")
        group.move(name + ".relink", name)


def samples_per_chunk(n_genes: int, dtype: np.dtype) -> int:
    """Whole samples (all genes) per matrix chunk of about CHUNK_BYTES."""
    return max(1, CHUNK_BYTES // (n_genes * dtype.itemsize))


def checked_block(values: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """values as an array of shape (n_rows, n_cols), genes x samples, or a clear error."""
    values = np.asarray(values)
    if values.shape != (n_rows, n_cols):
        raise ValueError(f"values of shape {values.shape} for {n_rows} rows and {n_cols} columns")
    return values


def append_along(dataset: h5py.Dataset, block: np.ndarray, axis: int) -> None:
    """Grow a resizable 2-D dataset along `axis` by `block`."""
    start = dataset.shape[axis]
    dataset.resize(start + block.shape[axis], axis=axis)
    if axis == 0:
        dataset[start:, :] = block
    else:
        dataset[:, start:] = block


class StreamWriter:
    """An HDF5 file written column chunk by column chunk into `<path>.tmp` (or `temp_path`, e.g. a
    hidden name in a folder that offers its files), renamed on success.

    Use as a context manager: leaving the block normally renames the finished file onto `path`;
    an exception deletes the temporary file and leaves any earlier `path` untouched. A chunk
    refused by its checks leaves the writer usable; a failure while writing one aborts the file.
    Column ids seen so far are kept in a set (about 100 bytes each), all else streams.
    """

    def __init__(self, path: str | Path, temp_path: str | Path | None = None) -> None:
        self.path = Path(path)
        self.temp_path = Path(temp_path or self.path.with_name(self.path.name + ".tmp"))
        self.file = h5py.File(self.temp_path, "w")
        self.n_cols = 0
        self._fields: list[str] | None = None  # column metadata fields, fixed by the first chunk
        self._seen: set[str] = set()
        self._open = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def close(self) -> None:
        """Finish the file and move it onto `path`."""
        if not self._open:
            return
        self._open = False
        self.file.close()
        os.replace(self.temp_path, self.path)

    def abort(self) -> None:
        """Drop the temporary file; `path` is left as it was."""
        if self._open:
            self._open = False
            self.file.close()
            self.temp_path.unlink(missing_ok=True)

    @contextmanager
    def aborting(self) -> Iterator[None]:
        """Abort the file if the block raises (a half-written chunk or setup cannot be kept)."""
        try:
            yield
        except BaseException:
            self.abort()
            raise

    @property
    def fields(self) -> list[str]:
        """The column metadata fields of the chunks appended so far, "id" left out."""
        return [field for field in self._fields or [] if field != "id"]

    @contextmanager
    def chunk(self, fields: Iterable[str], ids: Iterable[object]) -> Iterator[list[str]]:
        """Check a chunk of columns, yield its ids as text for writing, then record it.

        Refuses other metadata fields than the first chunk's and ids seen before; an error
        while the chunk is written aborts the file.
        """
        if not self._open:
            raise ValueError(f"{self.path}: the writer is closed")
        fields = [str(field) for field in fields]
        if self._fields is not None and fields != self._fields:
            raise ValueError(
                f"column metadata fields {fields} differ from the first chunk's {self._fields}"
            )
        texts = [str(value) for value in ids]
        fresh = set(texts)
        repeated = (
            sorted(fresh & self._seen) or pd.Index(texts)[pd.Index(texts).duplicated()].tolist()
        )
        if repeated:
            raise ValueError(f"duplicate column ids {name_some(repeated)}")
        with self.aborting():
            yield texts
        self._fields = fields
        self._seen |= fresh
        self.n_cols += len(texts)


SYNTHETIC = "synthetic_world"  # root attribute of the files `transform world` writes


def mark_synthetic(path: str | Path, origin: dict[str, object]) -> None:
    """Mark an HDF5 file (GCTX, ARCHS4) as made by `transform world`: its root attribute
    `synthetic_world` holds the world's size, seed and setting as JSON. Real files have none."""
    with h5py.File(path, "a") as file:
        file.attrs[SYNTHETIC] = json.dumps(origin, sort_keys=True)


def synthetic_origin(path: str | Path) -> dict[str, object] | None:
    """The generated world a file comes from (`mark_synthetic`), or None: a real file, a file
    that is not HDF5 (GCT text) or none at that path."""
    try:
        with h5py.File(path, "r") as file:
            raw = file.attrs.get(SYNTHETIC)
    except OSError:
        return None
    if raw is None:
        return None
    origin: dict[str, object] = json.loads(raw if isinstance(raw, str) else bytes(raw).decode())
    return origin

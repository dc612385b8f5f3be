"""GCTX, CMap's HDF5 matrix format: read by slices, streamed by column chunks, written atomically.

The layout, as CMap's tools write it and as the real files in tests/data/l1000 hold it:

    /0/DATA/0/matrix      (n_cols, n_rows) samples x genes; float32 (float16 and float64 read too)
    /0/META/ROW/id        (n_rows,) row ids (genes or probes), byte strings
    /0/META/ROW/<field>   (n_rows,) one dataset per row metadata field: numbers or byte strings
    /0/META/COL/id        (n_cols,) column ids (samples, signatures)
    /0/META/COL/<field>   (n_cols,)
    attributes of /       version = b"GCTX1.0", src = the file's name

In memory a GCTX is a GeneMatrix, genes x samples (n_rows, n_cols): the transpose of the stored
block. Metadata types and CMap's "-666" for missing values follow `transform.io.meta`; a metadata
field named "id" (some GCT files carry one) must equal the ids, and is then not stored twice.

Written files keep CMap's conventions: fixed-width UTF-8 byte strings for text, gzip level 6
metadata, an uncompressed float32 matrix (gzip on request) in chunks of whole samples of about
1 MiB, so that reading a range of columns touches only their chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from transform.io.errors import GctxFormatError, name_some
from transform.io.hdf5 import (
    StreamWriter,
    append_along,
    append_field,
    checked_block,
    open_hdf5,
    read_field,
    read_fields,
    read_ids,
    read_meta,
    read_rows,
    relink_in_order,
    require_dataset,
    require_group,
    samples_per_chunk,
)
from transform.io.matrix import GeneMatrix
from transform.io.meta import id_index
from transform.io.select import Selection, chunk_positions, resolve_positions, take_in_order

MATRIX = "0/DATA/0/matrix"
ROW_META = "0/META/ROW"
COL_META = "0/META/COL"
VERSION = b"GCTX1.0"
FLOAT_TYPES = (np.float16, np.float32, np.float64)


@dataclass(frozen=True)
class _Gctx:
    path: Path
    matrix: h5py.Dataset  # (n_cols, n_rows)
    rows: h5py.Group
    cols: h5py.Group

    @property
    def n_rows(self) -> int:
        n_rows: int = self.matrix.shape[1]
        return n_rows

    @property
    def n_cols(self) -> int:
        n_cols: int = self.matrix.shape[0]
        return n_cols


@contextmanager
def _opened(path: str | Path) -> Iterator[_Gctx]:
    """The file's datasets after checking the layout: datasets present, lengths and shape agree."""
    with open_hdf5(path, GctxFormatError) as file:
        matrix = require_dataset(file, MATRIX, GctxFormatError)
        rows = require_group(file, ROW_META, GctxFormatError)
        cols = require_group(file, COL_META, GctxFormatError)
        n_rows = _field_length(rows, "row")
        n_cols = _field_length(cols, "column")
        if matrix.shape != (n_cols, n_rows):
            raise GctxFormatError(
                f"{path}: /{MATRIX} has shape {matrix.shape} but the file holds {n_cols} column "
                f"ids and {n_rows} row ids; GCTX stores (n_cols, n_rows), samples x genes"
            )
        yield _Gctx(Path(path), matrix, rows, cols)


def _field_length(group: h5py.Group, what: str) -> int:
    ids = require_dataset(group.file, f"{group.name.lstrip('/')}/id", GctxFormatError)
    n = ids.shape[0] if ids.ndim == 1 else -1
    for name, item in group.items():
        if not isinstance(item, h5py.Dataset) or item.shape != (n,):
            shape = item.shape if isinstance(item, h5py.Dataset) else "a group"
            raise GctxFormatError(
                f"{group.file.filename}: metadata field {group.name}/{name} has shape {shape} "
                f"for {n} {what} ids"
            )
    return n


def gctx_shape(path: str | Path) -> tuple[int, int]:
    """(n_rows, n_cols) of a GCTX file, genes x samples, without reading the matrix."""
    with _opened(path) as gctx:
        return gctx.n_rows, gctx.n_cols


def read_gctx_meta(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(row_meta, col_meta) indexed by `rid` and `cid`, without reading the matrix."""
    with _opened(path) as gctx:
        row_ids = read_ids(gctx.rows["id"], GctxFormatError, "row")
        col_ids = read_ids(gctx.cols["id"], GctxFormatError, "column")
        return _meta(gctx.rows, row_ids, None, "rid"), _meta(gctx.cols, col_ids, None, "cid")


def read_gctx(
    path: str | Path, *, rows: Selection | None = None, cols: Selection | None = None
) -> GeneMatrix:
    """A GCTX file, or the rows x cols of it asked for, as a genes x samples GeneMatrix.

    rows, cols: ids (str) or integer positions, returned in the order given; None for all.
    Only the selected columns' chunks are read. values: (n_rows, n_cols) in the stored dtype,
    a transposed view of the stored samples x genes block. Metadata are typed from the values
    read, so a subset may type a field differently from the whole file (e.g. int64 where the
    whole has a -666, or float NaN where the subset holds only missing text).
    """
    with _opened(path) as gctx:
        row_ids = read_ids(gctx.rows["id"], GctxFormatError, "row")
        col_ids = read_ids(gctx.cols["id"], GctxFormatError, "column")
        row_at = resolve_positions(rows, row_ids, what="row", source=path)
        col_at = resolve_positions(cols, col_ids, what="column", source=path)
        row_meta = _meta(gctx.rows, row_ids, row_at, "rid")
        col_meta = _meta(gctx.cols, col_ids, col_at, "cid")
        block = take_in_order(lambda at: read_rows(gctx.matrix, at), col_at)  # (n_cols, n_rows)
    if row_at is not None:
        block = block[:, row_at]
    return GeneMatrix(block.T, row_meta, col_meta)


def iter_gctx_columns(
    path: str | Path, *, chunk_size: int, rows: Selection | None = None
) -> Iterator[GeneMatrix]:
    """Consecutive blocks of at most `chunk_size` columns (all rows, or `rows` in their order).

    Memory is bounded by one block whatever the number of columns: column ids are checked for
    repeats within a block only, and each block's metadata is typed on its own (a field missing
    throughout one block comes back as float NaN there).
    """
    with _opened(path) as gctx:
        row_ids = read_ids(gctx.rows["id"], GctxFormatError, "row")
        row_at = resolve_positions(rows, row_ids, what="row", source=path)
        row_meta = _meta(gctx.rows, row_ids, row_at, "rid")
        for at in chunk_positions(gctx.n_cols, chunk_size):
            col_ids = id_index(read_field(gctx.cols["id"], at), "cid")
            if not col_ids.is_unique:
                repeated = col_ids[col_ids.duplicated()].tolist()
                raise GctxFormatError(f"{path}: duplicate column ids {name_some(repeated)}")
            col_meta = read_meta(gctx.cols, at, col_ids, skip="id")
            block = read_rows(gctx.matrix, at)
            yield GeneMatrix((block if row_at is None else block[:, row_at]).T, row_meta, col_meta)


def _meta(group: h5py.Group, ids: pd.Index, at: np.ndarray | None, name: str) -> pd.DataFrame:
    """Typed metadata of the ids at positions `at` (all for None), in the order of `at`."""
    return read_meta(group, at, pd.Index(ids if at is None else ids[at], name=name), skip="id")


class GctxWriter(StreamWriter):
    """A GCTX file written column chunk by column chunk, in constant memory.

    with GctxWriter(path, row_meta) as writer:
        writer.append(values, col_meta)  # values (n_rows, k), col_meta k rows indexed by id
    The file appears at `path` only when the block ends without an error (written until then at
    `temp_path`, default `<path>.tmp`; its `src` attribute names `path`). Chunks must carry the
    same metadata fields, and no column id twice. dtype: float32 (default), float16 or float64;
    compression: None (CMap's default) or "gzip"; chunk_cols: samples per HDF5 chunk.
    template: a GCTX the file is made from: each row and column metadata field it holds is
    stored as there (its dtype, decided once for the whole file rather than by the first chunk),
    and its root attributes but version and src are carried (a `synthetic_world` marker).
    """

    def __init__(
        self,
        path: str | Path,
        row_meta: pd.DataFrame,
        *,
        dtype: np.dtype | type = np.float32,
        compression: str | None = None,
        chunk_cols: int | None = None,
        template: str | Path | None = None,
        temp_path: str | Path | None = None,
    ) -> None:
        self.dtype = np.dtype(dtype)
        if self.dtype.type not in FLOAT_TYPES:
            raise ValueError(f"GCTX values are stored as float16, float32 or float64, not {dtype}")
        if len(row_meta) == 0:
            raise ValueError("a GCTX file needs at least one row")
        _refuse_other_ids(row_meta, "row")
        if not row_meta.index.is_unique:
            repeated = row_meta.index[row_meta.index.duplicated()].unique().tolist()
            raise ValueError(f"duplicate row ids {name_some(repeated)}")
        self._types, attrs = _template(template)
        super().__init__(path, temp_path)
        self.n_rows = len(row_meta)
        with self.aborting():
            self.file.attrs.update(attrs)
            self._start(row_meta, compression, chunk_cols)

    def _start(
        self, row_meta: pd.DataFrame, compression: str | None, chunk_cols: int | None
    ) -> None:
        self.file.attrs["version"] = np.bytes_(VERSION)
        self.file.attrs["src"] = np.bytes_(self.path.name.encode("utf-8"))
        self.rows = self.file.create_group(ROW_META, track_order=True)
        self.cols = self.file.create_group(COL_META, track_order=True)
        _append_meta(self.rows, [str(rid) for rid in row_meta.index], row_meta, self._types)
        self._row_fields = [name for name in row_meta.columns if name != "id"]
        per_chunk = chunk_cols or samples_per_chunk(self.n_rows, self.dtype)
        self.matrix = self.file.create_dataset(
            MATRIX,
            shape=(0, self.n_rows),
            maxshape=(None, self.n_rows),
            dtype=self.dtype,
            chunks=(per_chunk, self.n_rows),
            compression=compression,
        )
        append_field(
            self.cols, "id", pd.Series([], dtype=object), self._types.get(f"{COL_META}/id")
        )

    def append(self, values: np.ndarray, col_meta: pd.DataFrame) -> None:
        """Add columns: values (n_rows, k) genes x samples, col_meta k rows indexed by column id."""
        stored = _stored(checked_block(values, self.n_rows, len(col_meta)), self.dtype)
        _refuse_other_ids(col_meta, "column")
        with self.chunk(col_meta.columns, col_meta.index) as ids:
            append_along(self.matrix, stored.T, axis=0)
            _append_meta(self.cols, ids, col_meta, self._types)

    def close(self) -> None:
        """Finish the file (metadata fields in their given order) and move it onto `path`."""
        if self._open:
            relink_in_order(self.rows, ["id", *map(str, self._row_fields)])
            relink_in_order(self.cols, ["id", *self.fields])
        super().close()


def _refuse_other_ids(frame: pd.DataFrame, what: str) -> None:
    """A metadata field named "id" (GCT files may carry one) must repeat the ids."""
    if (
        "id" in frame.columns
        and frame["id"].astype(str).tolist() != frame.index.astype(str).tolist()
    ):
        raise ValueError(f"the {what} metadata field 'id' differs from the {what} ids")


def _template(template: str | Path | None) -> tuple[dict[str, np.dtype], dict[str, object]]:
    """The stored types of a template GCTX's metadata fields ("0/META/COL/pert_dose": dtype) and
    its root attributes but version and src; none without a template."""
    if template is None:
        return {}, {}
    with _opened(template) as gctx:
        types = {
            f"{group.name.lstrip('/')}/{name}": dataset.dtype
            for group in (gctx.rows, gctx.cols)
            for name, dataset in group.items()
        }
        attrs = {k: v for k, v in gctx.matrix.file.attrs.items() if k not in ("version", "src")}
    return types, attrs


def _append_meta(
    group: h5py.Group, ids: list[str], frame: pd.DataFrame, types: dict[str, np.dtype]
) -> None:
    at = group.name.lstrip("/")
    append_field(group, "id", pd.Series(ids, dtype=object), types.get(f"{at}/id"))
    for name in frame.columns:
        if name != "id":
            append_field(group, str(name), frame[name], types.get(f"{at}/{name}"))


def _stored(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """values cast to the stored float type, refusing finite values beyond its range."""
    if values.dtype.kind not in "iuf":
        raise TypeError(f"GCTX values must be numbers, got {values.dtype}")
    limit = np.finfo(dtype).max
    if values.dtype.kind != "f" or np.finfo(values.dtype).max > limit:
        peak = np.max(np.abs(values), initial=0, where=np.isfinite(values))
        if peak > limit:
            raise ValueError(f"values up to {peak} do not fit {dtype} (largest {limit})")
    return values.astype(dtype, copy=False)


def write_gctx_columns(
    source: str | Path,
    path: str | Path,
    *,
    cols: Selection,
    block_columns: int,
    temp_path: str | Path | None = None,
) -> None:
    """Some columns of a GCTX (ids or positions, in the order given) as a GCTX of their own,
    written `block_columns` at a time in bounded memory: values, ids and every row and column
    metadata field as the source stores them (its dtypes, -666 where it has -666), the source's
    root attributes but src, which names the new file (see GctxWriter's template)."""
    with _opened(source) as gctx:
        col_ids = read_ids(gctx.cols["id"], GctxFormatError, "column")
        at = resolve_positions(cols, col_ids, what="column", source=source)
        positions = np.arange(gctx.n_cols) if at is None else at
        rows = _meta_as_stored(gctx.rows, None)
        with GctxWriter(
            path, rows, dtype=gctx.matrix.dtype, template=source, temp_path=temp_path
        ) as writer:
            for start in range(0, len(positions), block_columns):
                block = positions[start : start + block_columns]
                values = take_in_order(lambda some: read_rows(gctx.matrix, some), block)
                writer.append(values.T, _meta_as_stored(gctx.cols, block))


def _meta_as_stored(group: h5py.Group, at: np.ndarray | None) -> pd.DataFrame:
    """Metadata of the ids at positions `at` (all for None) as stored, not typed: numbers in
    their dtype with -666 for missing, text as str; indexed by the ids."""
    fields = read_fields(group, at)
    ids = fields.pop("id")
    return pd.DataFrame(fields, index=pd.Index(ids.astype(str), dtype=object))


def write_gctx(
    path: str | Path,
    matrix: GeneMatrix,
    *,
    dtype: np.dtype | type = np.float32,
    compression: str | None = None,
    chunk_cols: int | None = None,
) -> None:
    """Write a GeneMatrix as GCTX (atomically; see GctxWriter for the options)."""
    with GctxWriter(
        path, matrix.row_meta, dtype=dtype, compression=compression, chunk_cols=chunk_cols
    ) as writer:
        writer.append(matrix.values, matrix.col_meta)

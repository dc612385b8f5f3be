"""GCT text matrices, versions 1.2 (GenePattern) and 1.3 (CMap), read (`gct_write` writes them).

1.3:
    #1.3
    n_rows <TAB> n_cols <TAB> n_row_fields <TAB> n_col_fields
    id <TAB> row field names... <TAB> column ids...
    n_col_fields lines: field name <TAB> one filler per row field ("na") <TAB> a value per column
    n_rows lines: row id <TAB> row field values <TAB> a number per column
1.2:
    #1.2
    n_rows <TAB> n_cols
    Name <TAB> Description <TAB> column ids...
    n_rows lines: row id <TAB> description <TAB> a number per column

Values are read as float32 (as cmapPy does); "NaN", "NA", "#N/A", "NULL" and empty cells read as
NaN and are written as "NaN". Numbers are written in the shortest form that reads back to the same
value. Metadata follow `transform.io.meta` (types, "-666" for missing). Writing 1.2 keeps only a
`Description` row field ("na" where there is none) and no column metadata.
Every format error names the file and the line.

`read_gct_columns` reads some columns of a large GCT (plain or gzip), streaming: GTEx v8's gene
read counts (GCT 1.2, 56,200 genes x 17,382 samples, ~3 GB gzip-compressed) for a few thousand
paired samples.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from transform.io.errors import GctFormatError, name_some
from transform.io.files import is_gzip
from transform.io.matrix import GeneMatrix
from transform.io.meta import decode_text, id_index, typed_frame
from transform.io.select import Selection, resolve_positions

VERSIONS = ("1.2", "1.3")
FILLER = "na"
MISSING_NUMBERS = frozenset({"", "NA", "na", "N/A", "#N/A", "NULL", "null", "None"})


@dataclass(frozen=True)
class _Header:
    version: str
    n_rows: int
    row_fields: list[str]
    col_ids: list[str]
    n_col_fields: int

    @property
    def n_fields(self) -> int:
        """Tab-separated fields on every line after the dimension line."""
        return 1 + len(self.row_fields) + len(self.col_ids)


class _Lines:
    """The numbered, decoded, tab-split lines of a GCT file; errors name the file and line."""

    def __init__(self, handle: BinaryIO, path: str | Path) -> None:
        self.handle, self.path, self.number = handle, path, 0

    def next(self, expected: str) -> list[str]:
        fields: list[str] = (
            decode_text(np.array([self._line(expected)]))[0].rstrip("\r\n").split("\t")
        )
        return fields

    def next_raw(self, expected: str) -> list[bytes]:
        """The next line split into undecoded fields (numbers need no decoding)."""
        return self._line(expected).rstrip(b"\r\n").split(b"\t")

    def _line(self, expected: str) -> bytes:
        raw = self.handle.readline()
        if not raw:
            raise GctFormatError(
                f"{self.path}: truncated: the file ends after line {self.number}, before {expected}"
            )
        self.number += 1
        return raw

    def fail(self, problem: str) -> GctFormatError:
        return GctFormatError(f"{self.path} line {self.number}: {problem}")

    def expect(self, fields: list[str] | list[bytes], count: int) -> None:
        if len(fields) != count:
            raise self.fail(f"expected {count} tab-separated fields, found {len(fields)}")

    def refuse_more(self, n_rows: int) -> None:
        for raw in self.handle:
            self.number += 1
            if raw.strip():
                raise self.fail(f"more rows than the {n_rows} declared on line 2")


def read_gct(path: str | Path) -> GeneMatrix:
    """A GCT 1.2 or 1.3 file as a GeneMatrix: values (n_rows, n_cols) float32, typed metadata."""
    with open(path, "rb") as handle:
        lines = _Lines(handle, path)
        header = _read_header(lines)
        col_fields = [_read_col_field(lines, header, k) for k in range(header.n_col_fields)]
        row_ids, row_cells, values = _read_rows(lines, header)
        lines.refuse_more(header.n_rows)
    first_row_line = lines.number - header.n_rows + 1 if header.n_rows else lines.number
    _refuse_repeats(header.col_ids, f"{path} line 3: duplicate column ids", None)
    return _assembled(path, header, col_fields, (row_ids, row_cells, values), first_row_line)


def gct_col_ids(path: str | Path) -> pd.Index:
    """The column (sample) ids of a GCT 1.2 or 1.3 file, plain or gzip, from its first lines."""
    with _open_binary(path) as handle:
        return id_index(_read_header(_Lines(handle, path)).col_ids, "cid")


def read_gct_columns(path: str | Path, columns: Selection, *, block_rows: int = 256) -> GeneMatrix:
    """The requested columns of a GCT 1.2 or 1.3 file (plain or gzip-compressed), every row.

    columns: column ids (or positions), returned in the order given; ids the file lacks raise
    UnknownIdError naming them, repeats ValueError. values: (n_rows, len(columns)) int64 when
    every value read is written as a whole number, else float64 (missing cells NaN). row_meta:
    the row descriptor fields (1.2: `Description`), typed as `read_gct` types them; col_meta:
    the requested columns' metadata (1.3) or none (1.2).

    Memory: only the requested columns are ever held. Lines are read one at a time and split;
    the requested cells of `block_rows` lines are parsed into numbers together, and the result,
    (n_rows, len(columns)) with the row ids and descriptors, is all that grows with the file.
    """
    with _open_binary(path) as handle:
        lines = _Lines(handle, path)
        header = _read_header(lines)
        col_fields = [_read_col_field(lines, header, k) for k in range(header.n_col_fields)]
        _refuse_repeats(header.col_ids, f"{path} line 3: duplicate column ids", None)
        at = resolve_positions(columns, pd.Index(header.col_ids), what="column", source=path)
        at = np.arange(len(header.col_ids)) if at is None else at
        first_row_line = lines.number + 1
        rows = _read_columns(lines, header, at, max(1, block_rows))
        lines.refuse_more(header.n_rows)
    return _assembled(path, header, col_fields, rows, first_row_line, at)


def _open_binary(path: str | Path) -> BinaryIO:
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")  # type: ignore[return-value]


def _assembled(
    path: str | Path,
    header: _Header,
    col_fields: list[list[str]],
    rows: tuple[list[str], np.ndarray, np.ndarray],
    first_row_line: int,
    at: np.ndarray | None = None,
) -> GeneMatrix:
    """The matrix from its parts, after refusing repeated ids and field names; `at`: the
    positions of the columns read (all for None)."""
    row_ids, row_cells, values = rows
    _refuse_repeats(row_ids, f"{path}: duplicate row ids", first_row_line)
    names = [fields[0] for fields in col_fields]
    _refuse_repeats(header.row_fields, f"{path} line 3: duplicate row metadata fields", None)
    _refuse_repeats(names, f"{path}: duplicate column metadata fields", None)
    skip = 1 + len(header.row_fields)
    col_ids = np.array(header.col_ids, dtype=object)
    at = np.arange(len(col_ids)) if at is None else at
    col_meta = {fields[0]: np.array(fields[skip:], dtype=object)[at] for fields in col_fields}
    row_meta = {name: row_cells[:, j] for j, name in enumerate(header.row_fields)}
    return GeneMatrix(
        values,
        typed_frame(row_meta, id_index(row_ids, "rid")),
        typed_frame(col_meta, id_index(col_ids[at], "cid")),
    )


def _read_header(lines: _Lines) -> _Header:
    tag = _trim(lines.next("the version line"))
    version = tag[0][1:] if len(tag) == 1 and tag[0].startswith("#") else None
    if version not in VERSIONS:
        raise lines.fail(f"expected '#1.2' or '#1.3' as the version line, found {tag[0][:40]!r}")
    dims = _dimensions(lines, 4 if version == "1.3" else 2)
    names = lines.next("the header line")
    if version == "1.2":
        lines.expect(names, 2 + dims[1])
        return _Header(version, dims[0], names[1:2], names[2:], 0)
    lines.expect(names, 1 + dims[2] + dims[1])
    return _Header(version, dims[0], names[1 : 1 + dims[2]], names[1 + dims[2] :], dims[3])


def _whole(text: str) -> bool:
    """ASCII digits only: str.isdigit also takes "¹" and other digits int() refuses."""
    return text.isascii() and text.isdigit()


def _dimensions(lines: _Lines, count: int) -> list[int]:
    cells = _trim(lines.next("the dimension line"))
    if len(cells) != count or not all(_whole(cell.strip()) for cell in cells):
        what = "rows, columns, row fields and column fields" if count == 4 else "rows and columns"
        found = " ".join(cells)
        raise lines.fail(f"expected {count} whole numbers ({what}), found {found!r}")
    return [int(cell) for cell in cells]


def _trim(fields: list[str]) -> list[str]:
    """Fields without the empty ones some tools leave at the end of the first two lines."""
    while len(fields) > 1 and fields[-1].strip() == "":
        fields = fields[:-1]
    return fields


def _read_col_field(lines: _Lines, header: _Header, k: int) -> list[str]:
    fields = lines.next(f"column metadata line {k + 1} of {header.n_col_fields}")
    lines.expect(fields, header.n_fields)
    return fields


def _read_rows(lines: _Lines, header: _Header) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Row ids, row metadata cells (n_rows, n_row_fields) and values (n_rows, n_cols) float32."""
    skip = 1 + len(header.row_fields)
    values = np.empty((header.n_rows, len(header.col_ids)), dtype=np.float32)
    cells = np.empty((header.n_rows, len(header.row_fields)), dtype=object)
    row_ids = []
    for i in range(header.n_rows):
        fields = lines.next(f"row {i + 1} of the {header.n_rows} declared on line 2")
        lines.expect(fields, header.n_fields)
        row_ids.append(fields[0])
        cells[i] = fields[1:skip]
        values[i] = _numbers(fields[skip:], lines, header.col_ids)
    return row_ids, cells, values


def _read_columns(
    lines: _Lines, header: _Header, at: np.ndarray, block_rows: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Row ids, row metadata cells (n_rows, n_row_fields) and the values of the columns at
    positions `at` (n_rows, len(at)), int64 or float64 (see `_whole_or_real`)."""
    skip = 1 + len(header.row_fields)
    pick = _picker(skip + at)
    values = np.empty((header.n_rows, len(at)), dtype=np.int64)
    cells = np.empty((header.n_rows, len(header.row_fields)), dtype=object)
    row_ids: list[str] = []
    for start in range(0, header.n_rows, block_rows):
        block = []
        for i in range(start, min(start + block_rows, header.n_rows)):
            fields = lines.next_raw(f"row {i + 1} of the {header.n_rows} declared on line 2")
            lines.expect(fields, header.n_fields)
            named = decode_text(np.array(fields[:skip], dtype=object))
            row_ids.append(named[0])
            cells[i] = named[1:]
            block.append(pick(fields))
        numbers = _whole_or_real(block, len(at), lines, [header.col_ids[j] for j in at])
        if numbers.dtype != values.dtype:
            values = values.astype(np.float64)
        values[start : start + len(block)] = numbers
    return row_ids, cells, values


def _picker(positions: np.ndarray) -> Callable[[list[bytes]], tuple[bytes, ...]]:
    """A function that takes the fields at `positions` from a split line, as a tuple."""
    if len(positions) == 0:
        return lambda fields: ()
    if len(positions) == 1:
        only = int(positions[0])
        return lambda fields: (fields[only],)
    return itemgetter(*positions.tolist())


def _whole_or_real(
    block: list[tuple[bytes, ...]], width: int, lines: _Lines, col_ids: list[str]
) -> np.ndarray:
    """The cells of the last len(block) lines as (len(block), width) numbers: int64 when every
    cell is a whole number, else float64 with the missing cells (MISSING_NUMBERS) NaN."""
    text = np.array(block, dtype=bytes).reshape(len(block), width)
    try:
        return text.astype(np.int64)
    except (ValueError, OverflowError):
        pass
    missing = [cell.encode() for cell in MISSING_NUMBERS]
    text = np.where(np.isin(np.char.strip(text), missing), b"nan", text)
    try:
        return text.astype(np.float64)
    except ValueError:
        first = lines.number - len(block) + 1
        return np.array(
            [_reals(row, col_ids, lines, first + offset) for offset, row in enumerate(text)],
            dtype=np.float64,
        )


def _reals(cells: np.ndarray, col_ids: list[str], lines: _Lines, line: int) -> list[float]:
    """One line's cells as floats; the first that is not a number raises, naming line and column."""
    reals = []
    for cell, cid in zip(decode_text(cells), col_ids, strict=True):
        try:
            reals.append(float(cell))
        except ValueError:
            raise GctFormatError(
                f"{lines.path} line {line}: column {cid!r}: {cell!r} is not a number"
            ) from None
    return reals


def _numbers(cells: list[str], lines: _Lines, col_ids: list[str]) -> np.ndarray:
    try:
        return np.array(cells, dtype=np.float32)
    except ValueError:
        cells = ["nan" if cell.strip() in MISSING_NUMBERS else cell for cell in cells]
    for cell, cid in zip(cells, col_ids, strict=True):
        try:
            float(cell)
        except ValueError:
            raise lines.fail(f"column {cid!r}: {cell!r} is not a number") from None
    return np.array(cells, dtype=np.float32)


def _refuse_repeats(ids: list[str], problem: str, first_line: int | None) -> None:
    index = pd.Index(ids, dtype=object)
    if index.is_unique:
        return
    repeated = index[index.duplicated()].unique().tolist()
    where = ""
    if first_line is not None:
        at = np.flatnonzero(index.isin(repeated[:1])) + first_line
        where = f" ({repeated[0]!r} on lines {', '.join(map(str, at))})"
    raise GctFormatError(f"{problem} {name_some(repeated)}{where}")

"""GCT text matrices, versions 1.2 (GenePattern) and 1.3 (CMap), read and written.

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
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from transform.io.errors import GctFormatError, name_some
from transform.io.files import replaced_atomically
from transform.io.matrix import GeneMatrix
from transform.io.meta import decode_text, id_index, refuse_breaks, text_values, typed_frame

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
        raw = self.handle.readline()
        if not raw:
            raise GctFormatError(
                f"{self.path}: truncated: the file ends after line {self.number}, before {expected}"
            )
        self.number += 1
        return decode_text(np.array([raw]))[0].rstrip("\r\n").split("\t")

    def fail(self, problem: str) -> GctFormatError:
        return GctFormatError(f"{self.path} line {self.number}: {problem}")

    def expect(self, fields: list[str], count: int) -> None:
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
    _refuse_repeats(row_ids, f"{path}: duplicate row ids", first_row_line)
    _refuse_repeats(header.col_ids, f"{path} line 3: duplicate column ids", None)
    names = [fields[0] for fields in col_fields]
    _refuse_repeats(header.row_fields, f"{path} line 3: duplicate row metadata fields", None)
    _refuse_repeats(names, f"{path}: duplicate column metadata fields", None)
    skip = 1 + len(header.row_fields)
    col_meta = {fields[0]: np.array(fields[skip:], dtype=object) for fields in col_fields}
    row_meta = {name: row_cells[:, j] for j, name in enumerate(header.row_fields)}
    return GeneMatrix(
        values,
        typed_frame(row_meta, id_index(row_ids, "rid")),
        typed_frame(col_meta, id_index(header.col_ids, "cid")),
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


def _dimensions(lines: _Lines, count: int) -> list[int]:
    cells = _trim(lines.next("the dimension line"))
    if len(cells) != count or not all(cell.strip().isdigit() for cell in cells):
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


def write_gct(path: str | Path, matrix: GeneMatrix, *, version: str = "1.3") -> None:
    """Write a GeneMatrix as GCT 1.3 (all metadata) or 1.2 (Description only), atomically."""
    if version not in VERSIONS:
        raise ValueError(f"GCT version must be one of {VERSIONS}, not {version!r}")
    lines = _lines_13(matrix) if version == "1.3" else _lines_12(matrix)
    with replaced_atomically(path) as temp, open(temp, "w", encoding="utf-8", newline="\n") as out:
        for line in lines:
            out.write(line + "\n")


def _lines_13(matrix: GeneMatrix) -> Iterator[str]:
    row_fields = _names(matrix.row_meta.columns, "row metadata field names")
    col_fields = _names(matrix.col_meta.columns, "column metadata field names")
    col_ids = _names(matrix.col_ids, "column ids")
    yield "#1.3"
    yield "\t".join(map(str, (*matrix.shape, len(row_fields), len(col_fields))))
    yield "\t".join(["id", *row_fields, *col_ids])
    fillers = [FILLER] * len(row_fields)
    for field, column in zip(col_fields, matrix.col_meta.columns, strict=True):
        yield "\t".join([field, *fillers, *text_values(matrix.col_meta[column], name=field)])
    cells = [text_values(matrix.row_meta[column], name=str(column)) for column in matrix.row_meta]
    yield from _value_lines(matrix, cells)


def _lines_12(matrix: GeneMatrix) -> Iterator[str]:
    meta = matrix.row_meta
    described = "Description" in meta.columns
    descriptions = text_values(meta["Description"], name="Description") if described else None
    yield "#1.2"
    yield "\t".join(map(str, matrix.shape))
    yield "\t".join(["Name", "Description", *_names(matrix.col_ids, "column ids")])
    yield from _value_lines(matrix, [descriptions or [FILLER] * len(meta)])


def _value_lines(matrix: GeneMatrix, row_cells: list[list[str]]) -> Iterator[str]:
    for i, rid in enumerate(_names(matrix.row_ids, "row ids")):
        numbers = np.asarray(matrix.values[i]).astype(str)
        numbers[np.char.lower(numbers) == "nan"] = "NaN"
        yield "\t".join([rid, *(cells[i] for cells in row_cells), *numbers.tolist()])


def _names(labels: pd.Index, what: str) -> list[str]:
    names = [str(label) for label in labels]
    refuse_breaks(names, what)
    return names

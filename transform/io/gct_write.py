"""GCT text written: 1.3 with all metadata, or 1.2 with a Description (`transform.io.gct` reads
both and documents the layouts). Numbers are written in the shortest form that reads back to the
same value, NaN as "NaN"; metadata as `transform.io.meta` writes text ("-666" for missing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from transform.io.files import replaced_atomically
from transform.io.gct import FILLER, VERSIONS
from transform.io.matrix import GeneMatrix
from transform.io.meta import refuse_breaks, text_values


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

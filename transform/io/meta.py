"""Metadata columns as the field's files hold them: text or numbers, with CMap's "-666" for missing.

Reading (GCT, GCTX, ARCHS4 and LINCS tables share these rules):
- bytes decode as UTF-8, and as latin-1 where that fails: an old CMap GCTX stores `pert_idose` as
  `b'10 \\xb5M'`, which reads as "10 µM";
- a text column whose every present value is an integer becomes int64, one whose every present value
  is a number becomes float64, anything else stays text (pandas string column);
- CMap's missing marker -666 (stored as "-666", -666 or -666.0) becomes NaN, as cmapPy reads it,
  and so do the texts "NA", "na", "NaN" and an empty cell: an integer column with a missing value
  therefore comes back float64, and a column holding nothing but missing values as float64 NaN.
  ARCHS4 files never hold the marker; the same rules apply.

Writing: missing values (NaN, None, pd.NA) become -666 in numeric columns and "-666" in text
columns, booleans become 0/1 integers, and any other non-numeric column is written as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

MISSING_TEXT = "-666"
# Text read as missing, as cmapPy reads GCT metadata: CMap's -666, NA (any case), NaN, empty.
MISSING_READ = frozenset({MISSING_TEXT, "", "NA", "na", "Na", "NaN", "nan", "NAN"})
MISSING_NUMBER = -666
FORBIDDEN_IN_TEXT = ("\t", "\n", "\r")


def decode_text(raw: np.ndarray) -> np.ndarray:
    """Byte strings (fixed or variable length) -> object array of str; UTF-8, else latin-1."""
    if raw.dtype.kind == "S":
        try:
            return np.strings.decode(raw, "utf-8").astype(object)
        except UnicodeDecodeError:
            pass
    return np.array([_decode_one(item) for item in raw.tolist()], dtype=object)


def _decode_one(item: bytes | str) -> str:
    if isinstance(item, str):
        return item
    try:
        return item.decode("utf-8")
    except UnicodeDecodeError:
        return item.decode("latin-1")


def id_index(ids: np.ndarray | pd.Index | list[Any], name: str | None = None) -> pd.Index:
    """Row or column ids as a text index (pandas' string dtype), whatever they were stored as."""
    return pd.Index(np.asarray(ids).astype(str), name=name)


def typed_column(values: np.ndarray) -> np.ndarray:
    """One metadata column as stored (numbers, or str objects) -> its typed values (see module)."""
    if values.dtype.kind in "iuf":
        return _mark_missing_numbers(values)
    text = values.astype(object)
    missing = np.isin(text, list(MISSING_READ))
    if len(text) and missing.all():
        return np.full(len(text), np.nan)
    numbers = _as_numbers(text[~missing])
    if numbers is None:
        text[missing] = np.nan
        return text
    if not missing.any():
        return _mark_missing_numbers(numbers)
    typed = np.full(len(text), np.nan)
    typed[~missing] = numbers
    return _mark_missing_numbers(typed)


def _as_numbers(text: np.ndarray) -> np.ndarray | None:
    if len(text) == 0:
        return None
    try:
        return text.astype(np.int64)
    except (ValueError, OverflowError):
        pass
    try:
        return text.astype(np.float64)
    except ValueError:
        return None


def _mark_missing_numbers(values: np.ndarray) -> np.ndarray:
    """-666 -> NaN; integers with a missing value become float64, floats keep their width."""
    missing = values == MISSING_NUMBER
    if not missing.any():
        return values
    marked = values.astype(values.dtype if values.dtype.kind == "f" else np.float64)
    marked[missing] = np.nan
    return marked


def typed_frame(fields: Mapping[str, np.ndarray], index: pd.Index) -> pd.DataFrame:
    """A metadata table from its stored columns, typed by `typed_column`, in the given order."""
    return pd.DataFrame({name: typed_column(raw) for name, raw in fields.items()}, index=index)


def hdf5_values(column: pd.Series) -> np.ndarray:
    """A metadata column as an HDF5 dataset stores it: numbers with -666, or UTF-8 byte strings."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        flags: np.ndarray = column.to_numpy(dtype=np.int8)
        return flags
    if pd.api.types.is_integer_dtype(dtype):
        target = dtype if isinstance(dtype, np.dtype) else np.dtype(np.int64)
        integers: np.ndarray = column.to_numpy(dtype=target, na_value=MISSING_NUMBER)
        return integers
    if pd.api.types.is_float_dtype(dtype):
        return numbers_with_marker(_float_array(column))
    return encode_text(text_values(column, name=str(column.name), check=False))


def numbers_with_marker(values: np.ndarray) -> np.ndarray:
    """Float values with NaN replaced by -666, the CMap marker (a copy when NaN occur)."""
    missing = np.isnan(values)
    if not missing.any():
        return values
    marked = values.copy()
    marked[missing] = MISSING_NUMBER
    return marked


def _float_array(column: pd.Series) -> np.ndarray:
    dtype = column.dtype if isinstance(column.dtype, np.dtype) else np.dtype(np.float64)
    values: np.ndarray = column.to_numpy(dtype=dtype, na_value=np.nan)
    return values


def encode_text(text: list[str]) -> np.ndarray:
    """str values -> fixed-width UTF-8 byte strings, as CMap's GCTX files store text."""
    encoded = [value.encode("utf-8") for value in text]
    width = max((len(value) for value in encoded), default=1)
    return np.array(encoded, dtype=f"S{max(width, 1)}")


def text_values(column: pd.Series, *, name: str, check: bool = True) -> list[str]:
    """A metadata column as text cells: shortest exact numbers, "-666" for missing, 0/1 for bool.

    With `check`, text holding a tab or line break (which a TSV/GCT cell cannot) is refused.
    """
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        flags: list[str] = column.astype(np.int8).astype(str).tolist()
        return flags
    if pd.api.types.is_integer_dtype(dtype):
        integers: list[str] = (
            column.astype(object).where(column.notna(), MISSING_TEXT).astype(str).tolist()
        )
        return integers
    if pd.api.types.is_float_dtype(dtype):
        numbers = _float_array(column)
        texts = numbers.astype(str)
        texts[np.isnan(numbers)] = MISSING_TEXT
        floats: list[str] = texts.tolist()
        return floats
    cells = [MISSING_TEXT if _is_missing(value) else str(value) for value in column.tolist()]
    if check:
        refuse_breaks(cells, f"metadata field {name!r}")
    return cells


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def refuse_breaks(cells: list[str], what: str) -> None:
    """Refuse text cells holding a tab or line break (a TSV/GCT cell cannot), naming `what`."""
    for cell in cells:
        if any(mark in cell for mark in FORBIDDEN_IN_TEXT):
            raise ValueError(f"{what}: {cell!r} holds a tab or line break")

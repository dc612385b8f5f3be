"""Metadata typing shared by every reader: numbers, text, CMap's -666 and old latin-1 bytes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from transform.io.meta import decode_text, hdf5_values, text_values, typed_column


def _text(*cells: str) -> np.ndarray:
    return np.array(cells, dtype=object)


def test_text_of_integers_becomes_int64_and_of_numbers_float64() -> None:
    assert typed_column(_text("5720", "466")).dtype == np.int64
    floats = typed_column(_text("10.0", "0.04"))
    assert floats.dtype == np.float64
    assert floats.tolist() == [10.0, 0.04]
    assert typed_column(_text("A03", "24")).tolist() == ["A03", "24"]


def test_minus_666_reads_as_missing_however_it_is_stored() -> None:
    assert np.isnan(typed_column(_text("-666", "24"))).tolist() == [True, False]
    assert typed_column(_text("-666", "um")).tolist()[1] == "um"
    assert pd.isna(typed_column(_text("-666", "um"))[0])
    whole = typed_column(np.array([-666, 3]))
    assert whole.dtype == np.float64
    assert np.isnan(whole[0])
    narrow = typed_column(np.array([-666.0, 0.5], dtype=np.float32))
    assert narrow.dtype == np.float32
    assert np.isnan(narrow[0])


def test_a_field_of_nothing_but_missing_is_float_nan() -> None:
    column = typed_column(_text("-666", "-666"))
    assert column.dtype == np.float64
    assert np.isnan(column).all()


def test_bytes_decode_as_utf8_and_else_as_latin1() -> None:
    raw = np.array([b"10 \xc2\xb5M", b"10 \xb5M", b"500 nM"])
    assert decode_text(raw).tolist() == ["10 µM", "10 µM", "500 nM"]


def test_writing_marks_missing_values_and_keeps_numbers_exact() -> None:
    doses = pd.Series([0.1, np.nan, 1e-05], name="pert_dose")
    assert text_values(doses, name="pert_dose") == ["0.1", "-666", "1e-05"]
    assert hdf5_values(doses).tolist()[1] == -666.0
    flags = pd.Series([True, False], name="pr_is_lm")
    assert text_values(flags, name="pr_is_lm") == ["1", "0"]
    assert hdf5_values(flags).dtype == np.int8
    units = pd.Series(["µM", None], name="pert_dose_unit")
    assert hdf5_values(units).tolist() == ["µM".encode(), b"-666"]

"""Joining the real plates into one Level 3 file for the signature-level check."""

from __future__ import annotations

import numpy as np
import pytest

from transform.evaluate.command import REAL_DIR, REAL_PLATES
from transform.evaluate.real_signatures import FIELDS, joined_plates
from transform.io import GeneMatrix, read_gct


@pytest.fixture(scope="module")
def plates() -> list[GeneMatrix]:
    return [read_gct(REAL_DIR / name) for name in REAL_PLATES]


def test_the_plates_are_joined_on_the_first_plates_rows_whatever_the_seconds_order(
    plates: list[GeneMatrix],
) -> None:
    first, second = plates
    order = np.random.default_rng(0).permutation(len(second.row_ids))
    shuffled = GeneMatrix(second.values[order], second.row_meta.iloc[order], second.col_meta)
    joined = joined_plates([first, shuffled])
    assert list(joined.row_ids) == list(first.row_ids)
    assert list(joined.col_ids) == [*first.col_ids, *second.col_ids]
    assert list(joined.col_meta.columns) == list(FIELDS)
    np.testing.assert_array_equal(joined.values[:, len(first.col_ids) :], second.values)
    np.testing.assert_array_equal(joined.values[:, : len(first.col_ids)], first.values)


def test_a_plate_without_a_row_or_a_field_is_refused_with_what_it_lacks(
    plates: list[GeneMatrix],
) -> None:
    first, second = plates
    fewer = GeneMatrix(second.values[1:], second.row_meta.iloc[1:], second.col_meta)
    with pytest.raises(ValueError, match=r"plate 2 of 2 lacks 1 of the first plate's rows$"):
        joined_plates([first, fewer])
    bare = GeneMatrix(second.values, second.row_meta, second.col_meta.drop(columns="rna_plate"))
    with pytest.raises(ValueError, match=r"plate 2 of 2 lacks the field rna_plate$"):
        joined_plates([first, bare])

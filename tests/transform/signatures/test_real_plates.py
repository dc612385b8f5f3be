"""Signatures of the real LJP005 and LJP009 plates: shared compounds find themselves."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from transform.cli import main
from transform.io import GeneMatrix, read_gct, write_gct
from transform.signatures.command import REAL_DIR
from transform.signatures.real_plates import (
    REAL_PLATES,
    compound_signatures,
    cross_plate_ranks,
    nearest,
    real_plate_report,
)


@pytest.fixture(scope="module")
def plates():
    return [read_gct(REAL_DIR / name) for name in REAL_PLATES]


@pytest.mark.parametrize("rule", ["batch", "vehicle"])
def test_shared_compounds_are_closest_to_themselves_across_plates(plates, rule: str) -> None:
    first, second = (compound_signatures(p, rule) for p in plates)
    table = cross_plate_ranks(first, second)
    assert sorted(table["compound"]) == [
        "CGP-60474",
        "GSK-1059615",
        "PD-0325901",
        "dasatinib",
        "mitoxantrone",
    ]
    assert (table["cosine_self"] > table["cosine_others_median"]).all()
    assert table["rank_005_in_009"].median() <= 2  # of 63 compounds on LJP009
    assert table["rank_005_in_009"].max() <= 5


def test_with_vehicle_controls_vemurafenib_finds_the_mapk_inhibitors(plates) -> None:
    first, second = (compound_signatures(p, "vehicle") for p in plates)
    top = [entry.split(" ")[0] for entry in nearest(first, second, "vemurafenib", k=5)]
    assert {"PD-0325901", "dabrafenib", "GDC-0879"} <= set(top)


def test_the_real_check_refuses_a_plate_holding_nan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One cell of LJP005 made NaN: no table of NaN cosines, but the reason, naming the well."""
    first = read_gct(REAL_DIR / REAL_PLATES[0])
    values = first.values.copy()
    values[10, 20] = np.nan
    write_gct(tmp_path / REAL_PLATES[0], GeneMatrix(values, first.row_meta, first.col_meta))
    shutil.copyfile(REAL_DIR / REAL_PLATES[1], tmp_path / REAL_PLATES[1])
    assert main(["signatures", "--real-check", "--real", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    named = f"({first.col_ids[20]!r}) and 1 gene(s) ({first.row_ids[10]!r})"
    assert f"non-finite values (NaN 1, infinite 0) in 1 profile(s) {named}" in captured.err


def test_the_table_in_docs_signatures_md_is_what_the_real_check_prints() -> None:
    """The documented ranks and cosines are the code's, to the last digit."""
    doc = (REPO / "docs" / "signatures.md").read_text()
    assert real_plate_report(REAL_DIR).strip() in doc

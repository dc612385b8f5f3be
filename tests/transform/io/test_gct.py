"""GCT 1.2 / 1.3: the real plates read right, agree with their GCTX, round-trip, and bad lines
are named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from tests.transform.io.real_files import (
    LJP005_GCT,
    LJP005_GCTX,
    LJP009_GCT,
    LJP009_Z_GCT,
    MODZ_GCT,
    MODZ_GCTX,
)
from transform.io import GctFormatError, GeneMatrix, read_gct, read_gctx, write_gct

# (file, shape, row fields, column fields, first value, last value, (rid, cid, value), min, max),
# the values as the text holds them.
GOLDEN = [
    (
        LJP005_GCT,
        (978, 377),
        11,
        35,
        11.3819,
        5.1256,
        ("201614_s_at", "LJP005_A375_24H_X1_B19:A13", 11.4909),
        3.2301,
        15.0,
    ),
    (
        LJP009_GCT,
        (978, 371),
        8,
        34,
        11.006,
        4.8663,
        ("209615_s_at", "LJP009_A375_24H_X1_B20:A24", 6.9847),
        2.7863,
        15.0001,
    ),
    (
        LJP009_Z_GCT,
        (978, 371),
        8,
        34,
        1.019,
        -1.5075,
        ("209615_s_at", "LJP009_A375_24H_X1_B20:A24", 2.7274),
        -40.4111,
        43.6733,
    ),
    (
        MODZ_GCT,
        (978, 272),
        6,
        16,
        -0.5236,
        0.1714,
        ("208025_s_at", "CPC006_CORL23_6H:BRD-U88459701-000-01-8:10", 0.4352),
        -10.0,
        10.0,
    ),
]
REAL = [golden[0] for golden in GOLDEN]
# Column fields of the LJP005 plate that Level 3 (GCT) and Level 4 (GCTX) share value for value.
SHARED_FIELDS = [
    "bead_batch",
    "bead_set",
    "cell_id",
    "count_cv",
    "count_mean",
    "det_plate",
    "det_well",
    "mfc_plate_name",
    "mfc_plate_dim",
    "pert_dose",
    "pert_dose_unit",
    "pert_id",
    "pert_idose",
    "pert_iname",
    "pert_itime",
    "pert_mfc_id",
    "pert_time",
    "pert_type",
    "pert_vehicle",
    "rna_plate",
    "rna_well",
    "x_hmsl_id",
]


@pytest.mark.parametrize(
    ("path", "shape", "n_row_fields", "n_col_fields", "first", "last", "cell", "low", "high"),
    GOLDEN,
    ids=lambda v: v.name if isinstance(v, Path) else "",
)
def test_it_reads_every_real_gct_with_its_shape_and_known_cells(
    path, shape, n_row_fields, n_col_fields, first, last, cell, low, high
) -> None:
    matrix = read_gct(path)
    assert matrix.shape == shape
    assert (len(matrix.row_meta.columns), len(matrix.col_meta.columns)) == (
        n_row_fields,
        n_col_fields,
    )
    assert matrix.values.dtype == np.float32
    assert matrix.values[0, 0] == np.float32(first)
    assert matrix.values[-1, -1] == np.float32(last)
    rid, cid, value = cell
    assert matrix.values[matrix.row_ids.get_loc(rid), matrix.col_ids.get_loc(cid)] == np.float32(
        value
    )
    assert (matrix.values.min(), matrix.values.max()) == (np.float32(low), np.float32(high))


def test_the_plate_metadata_come_back_typed() -> None:
    ljp005, ljp009 = read_gct(LJP005_GCT), read_gct(LJP009_GCT)
    assert ljp005.row_meta.loc["201614_s_at", "pr_gene_symbol"] == "RUVBL1"
    assert ljp005.row_meta["pr_gene_id"].dtype == np.int64
    assert ljp005.row_meta["pr_is_lmark"].tolist() == [1] * 978
    cols = ljp005.col_meta
    assert cols["pert_type"].value_counts().to_dict() == {
        "trt_cp": 328,
        "ctl_vehicle": 26,
        "trt_poscon": 23,
    }
    assert cols["pert_dose"].dtype == np.float64
    assert cols.loc["LJP005_A375_24H_X1_B19:C13", ["pert_iname", "pert_dose"]].tolist() == [
        "vemurafenib",
        10.0,
    ]
    assert cols["pert_dose"].isna().sum() == 26
    assert cols["pert_iname"].nunique() == 60
    assert (ljp009.col_meta["pert_type"] == "ctl_vehicle").sum() == 22


def test_the_level3_gct_and_level4_gctx_of_plate_ljp005_share_ids_and_metadata() -> None:
    level3, level4 = read_gct(LJP005_GCT), read_gctx(LJP005_GCTX)
    assert level3.row_ids.equals(level4.row_ids)
    assert level3.col_ids.equals(level4.col_ids)
    pd.testing.assert_frame_equal(level3.row_meta, level4.row_meta[level3.row_meta.columns])
    pd.testing.assert_frame_equal(level3.col_meta[SHARED_FIELDS], level4.col_meta[SHARED_FIELDS])
    assert set(level3.col_meta["provenance_code"]) == {"KMV+F2D+INO+QNO"}
    assert set(level4.col_meta["provenance_code"]) == {"KMV+F2D+INO+QNO+ZSP"}
    assert level3.values.min() > 3  # log2 expression levels
    assert level4.values.min() < -60  # robust z-scores


def test_the_cmapr_gct_and_gctx_agree_to_the_gcts_four_decimals() -> None:
    text, hdf5 = read_gct(MODZ_GCT), read_gctx(MODZ_GCTX)
    assert text.row_ids.equals(hdf5.row_ids)
    assert text.col_ids.equals(hdf5.col_ids)
    rounded = np.round(hdf5.values.astype(np.float64), 4)
    np.testing.assert_allclose(text.values, rounded, rtol=0, atol=1e-6)  # float32 of 4 decimals
    assert np.abs(text.values - hdf5.values).max() <= 5.1e-5
    # The GCT repeats the ids in a field named "id" and spells the micro sign out as "<b5>".
    assert (text.col_meta["id"] == text.col_ids).all()
    assert (text.row_meta["id"] == text.row_ids).all()
    spelled = text.col_meta["pert_idose"].str.replace("<b5>", "µ")
    assert spelled.equals(hdf5.col_meta["pert_idose"])
    for field in ["cell_id", "pert_iname", "pert_itime", "brew_prefix"]:
        assert text.col_meta[field].equals(hdf5.col_meta[field])
    np.testing.assert_array_equal(text.col_meta["distil_nsample"], hdf5.col_meta["distil_nsample"])


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_a_real_gct_written_as_1_3_and_read_back_is_identical(path: Path, tmp_path: Path) -> None:
    original = read_gct(path)
    write_gct(tmp_path / "copy.gct", original)
    again = read_gct(tmp_path / "copy.gct")
    np.testing.assert_array_equal(again.values, original.values)
    pd.testing.assert_frame_equal(again.row_meta, original.row_meta)
    pd.testing.assert_frame_equal(again.col_meta, original.col_meta)


def test_version_1_2_keeps_values_ids_and_descriptions(tmp_path: Path) -> None:
    original = read_gct(LJP005_GCT)
    write_gct(tmp_path / "plate.gct", original, version="1.2")
    assert (tmp_path / "plate.gct").read_text().startswith("#1.2\n978\t377\nName\tDescription\t")
    v12 = read_gct(tmp_path / "plate.gct")
    np.testing.assert_array_equal(v12.values, original.values)
    assert v12.row_ids.equals(original.row_ids)
    assert v12.col_ids.equals(original.col_ids)
    assert v12.row_meta.columns.tolist() == ["Description"]
    assert v12.col_meta.columns.tolist() == []
    described = GeneMatrix(
        v12.values,
        v12.row_meta.assign(Description=original.row_meta["pr_gene_symbol"]),
        v12.col_meta,
    )
    write_gct(tmp_path / "again.gct", described, version="1.2")
    again = read_gct(tmp_path / "again.gct")
    np.testing.assert_array_equal(again.values, described.values)
    pd.testing.assert_frame_equal(again.row_meta, described.row_meta)
    assert again.row_meta.loc["201614_s_at", "Description"] == "RUVBL1"


def test_float32_values_of_a_gctx_survive_the_text_exactly(tmp_path: Path) -> None:
    hdf5 = read_gctx(MODZ_GCTX)
    write_gct(tmp_path / "modz.gct", hdf5)
    np.testing.assert_array_equal(read_gct(tmp_path / "modz.gct").values, hdf5.values)


def test_missing_values_are_written_as_nan_and_read_back(tmp_path: Path) -> None:
    rows = pd.DataFrame({"pr_gene_symbol": ["A", "B"]}, index=pd.Index(["r1", "r2"], name="rid"))
    cols = pd.DataFrame({"dose": [1.0, np.nan]}, index=pd.Index(["c1", "c2"], name="cid"))
    matrix = GeneMatrix(np.array([[1.5, np.nan], [np.nan, -2.0]], dtype=np.float32), rows, cols)
    write_gct(tmp_path / "x.gct", matrix)
    text = (tmp_path / "x.gct").read_text().splitlines()
    assert text[3:] == ["dose\tna\t1.0\t-666", "r1\tA\t1.5\tNaN", "r2\tB\tNaN\t-2.0"]
    back = read_gct(tmp_path / "x.gct")
    np.testing.assert_array_equal(back.values, matrix.values)
    pd.testing.assert_frame_equal(back.col_meta, cols)


def test_text_holding_a_tab_cannot_be_written(tmp_path: Path) -> None:
    matrix = read_gct(LJP005_GCT)
    names = matrix.col_meta["pert_iname"].str.replace("DMSO", "DM\tSO")
    broken = matrix.col_meta.assign(pert_iname=names)
    with pytest.raises(ValueError, match="'pert_iname': 'DM\\\\tSO' holds a tab"):
        write_gct(tmp_path / "x.gct", GeneMatrix(matrix.values, matrix.row_meta, broken))
    assert not (tmp_path / "x.gct").exists()


def _edited(
    tmp_path: Path, edit: Callable[[list[str]], list[str]], source: Path = LJP005_GCT
) -> Path:
    """A copy of a real GCT with its lines (1-based line n is lines[n - 1]) edited."""
    lines = source.read_text().splitlines(keepends=True)
    path = tmp_path / "edited.gct"
    path.write_text("".join(edit(lines)))
    return path


def _set_field(line: str, position: int, value: str) -> str:
    fields = line.rstrip("\n").split("\t")
    fields[position] = value
    return "\t".join(fields) + "\n"


def _at(number: int, change: Callable[[str], str]) -> Callable[[list[str]], list[str]]:
    return lambda lines: [change(line) if n == number else line for n, line in enumerate(lines, 1)]


# LJP005: line 3 is the header, lines 4-38 the column fields, 39-1016 the rows; a row has
# 1 + 11 + 377 = 389 fields.
MALFORMED = {
    "an unknown version": (_at(1, lambda _: "#1.4\n"), r"line 1: expected '#1.2' or '#1.3'"),
    "a short dimension line": (
        _at(2, lambda _: "978\t377\t11\n"),
        r"line 2: expected 4 whole numbers \(rows, columns, row fields and column fields\)",
    ),
    "a header of the wrong width": (
        _at(3, lambda line: line.rstrip("\n") + "\textra\n"),
        "line 3: expected 389 tab-separated fields, found 390",
    ),
    "a row missing a value": (
        _at(100, lambda line: line.rsplit("\t", 1)[0] + "\n"),
        "line 100: expected 389 tab-separated fields, found 388",
    ),
    "a column field line missing a value": (
        _at(20, lambda line: line.rsplit("\t", 1)[0] + "\n"),
        "line 20: expected 389 tab-separated fields, found 388",
    ),
    "a value that is not a number": (
        _at(200, lambda line: _set_field(line, 14, "abc")),
        r"line 200: column 'LJP005_A375_24H_X1_B19:A05': 'abc' is not a number",
    ),
    "rows cut off at a line end": (
        lambda lines: lines[:900],
        r"truncated: the file ends after line 900, before row 863 of the 978 declared on line 2",
    ),
    "rows cut off mid-line": (
        lambda lines: [*lines[:500], lines[500][:200]],
        "line 501: expected 389 tab-separated fields",
    ),
    "more rows than declared": (
        lambda lines: [*lines, lines[-1]],
        "line 1017: more rows than the 978 declared on line 2",
    ),
    "a repeated row id": (
        _at(50, lambda line: _set_field(line, 0, "200814_at")),
        r"duplicate row ids '200814_at' \('200814_at' on lines 39, 50\)",
    ),
    "a repeated column id": (
        _at(3, lambda line: _set_field(line, 13, "LJP005_A375_24H_X1_B19:A03")),
        "line 3: duplicate column ids 'LJP005_A375_24H_X1_B19:A03'",
    ),
    "a repeated column field": (
        _at(5, lambda line: _set_field(line, 0, "qc_slope")),
        "duplicate column metadata fields 'qc_slope'",
    ),
    "an empty file": (
        lambda lines: [],
        "truncated: the file ends after line 0, before the version",
    ),
}


@pytest.mark.parametrize(("edit", "problem"), MALFORMED.values(), ids=MALFORMED.keys())
def test_it_refuses_a_malformed_gct_naming_the_line(tmp_path: Path, edit, problem) -> None:
    path = _edited(tmp_path, edit)
    with pytest.raises(GctFormatError, match=problem):
        read_gct(path)


def test_missing_value_spellings_read_as_nan(tmp_path: Path) -> None:
    path = _edited(tmp_path, _at(39, lambda line: _set_field(_set_field(line, 12, "NA"), 13, "")))
    values = read_gct(path).values
    assert np.isnan(values[0, :2]).all()
    assert values[0, 2] == np.float32(11.4486)


MISSING_SPELLINGS = ["NA", "na", "NaN", "", "-666"]


def test_every_missing_spelling_reads_as_missing_and_numbers_stay_numeric(tmp_path: Path) -> None:
    """cmapPy reads NA, na, NaN, an empty cell and -666 in GCT metadata as missing; a number
    column holding them comes back as numbers, and the GCTX holding the same text reads alike."""
    n = len(MISSING_SPELLINGS) + 1
    ids = [f"S{i}" for i in range(n)]
    doses = ["10", *MISSING_SPELLINGS]
    names = ["drug", *MISSING_SPELLINGS]
    lines = [
        "#1.3",
        f"1\t{n}\t1\t2",
        "\t".join(["id", "pr_gene_symbol", *ids]),
        "\t".join(["pert_dose", "na", *doses]),
        "\t".join(["pert_iname", "na", *names]),
        "\t".join(["G1", "TP53", *["1.5"] * n]),
    ]
    gct = tmp_path / "missing.gct"
    gct.write_text("\n".join(lines) + "\n")
    cols = read_gct(gct).col_meta
    assert cols["pert_dose"].dtype == np.float64
    assert cols["pert_dose"].iloc[0] == 10.0
    assert cols["pert_dose"].iloc[1:].isna().all()
    assert cols["pert_iname"].iloc[0] == "drug"
    assert cols["pert_iname"].iloc[1:].isna().all()
    gctx = tmp_path / "missing.gctx"
    with h5py.File(gctx, "w") as file:
        file.create_dataset("0/DATA/0/matrix", data=np.full((n, 1), 1.5, dtype=np.float32))
        file.create_dataset("0/META/ROW/id", data=np.array([b"G1"]))
        file.create_dataset("0/META/COL/id", data=np.array(ids, dtype="S"))
        file.create_dataset("0/META/COL/pert_dose", data=np.array(doses, dtype="S"))
        file.create_dataset("0/META/COL/pert_iname", data=np.array(names, dtype="S"))
    from_gctx = read_gctx(gctx).col_meta
    pd.testing.assert_frame_equal(from_gctx, cols, check_names=False)

"""LINCS metadata tables: required columns, ids, -666, gzip, and inst_info from a real plate."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.transform.io.real_files import LJP005_GCT
from tests.transform.layouts import Layout
from transform.io import (
    LincsTableError,
    inst_info_from_gctx_cols,
    read_cell_info,
    read_gct,
    read_gene_info,
    read_inst_info,
    read_pert_info,
    read_sig_info,
    write_lincs_table,
)

INST_COLUMNS = [
    "rna_plate",
    "rna_well",
    "pert_id",
    "pert_iname",
    "pert_type",
    "pert_dose",
    "pert_dose_unit",
    "pert_time",
    "pert_time_unit",
    "cell_id",
]


@pytest.fixture(scope="module")
def ljp005() -> pd.DataFrame:
    return read_gct(LJP005_GCT).col_meta


def test_inst_info_comes_from_the_column_metadata_of_a_real_plate(ljp005: pd.DataFrame) -> None:
    inst = inst_info_from_gctx_cols(ljp005)
    assert inst.shape == (377, 10)
    assert inst.index.name == "inst_id"
    assert inst.columns.tolist() == INST_COLUMNS
    vehicle = inst[inst["pert_type"] == "ctl_vehicle"]
    assert len(vehicle) == 26
    assert set(vehicle["pert_iname"]) == {"DMSO"}
    assert vehicle["pert_dose"].isna().all()
    well = inst.loc["LJP005_A375_24H_X1_B19:C13"]
    assert well[["pert_iname", "pert_dose", "pert_dose_unit", "rna_well"]].tolist() == [
        "vemurafenib",
        10.0,
        "um",
        "C13",
    ]
    assert set(inst["rna_plate"]) == {"LJP005_A375_24H_X1"}
    assert set(inst["pert_time"]) == {24}


def test_plate_and_well_come_from_the_well_ids_when_the_metadata_lack_them(
    ljp005: pd.DataFrame,
) -> None:
    derived = inst_info_from_gctx_cols(ljp005.drop(columns=["rna_plate", "rna_well"]))
    pd.testing.assert_frame_equal(derived, inst_info_from_gctx_cols(ljp005))


def test_metadata_without_the_perturbation_fields_are_refused(ljp005: pd.DataFrame) -> None:
    with pytest.raises(LincsTableError, match=r"lack the inst_info fields \['pert_dose'\]"):
        inst_info_from_gctx_cols(ljp005.drop(columns="pert_dose"))


@pytest.mark.parametrize("name", ["inst_info.txt", "inst_info.txt.gz"])
def test_inst_info_written_and_read_back_is_identical(
    ljp005: pd.DataFrame, tmp_path: Path, name: str
) -> None:
    inst = inst_info_from_gctx_cols(ljp005)
    write_lincs_table(tmp_path / name, inst)
    pd.testing.assert_frame_equal(read_inst_info(tmp_path / name), inst)
    assert (tmp_path / name).read_bytes()[:2] == (b"\x1f\x8b" if name.endswith(".gz") else b"in")


def test_missing_values_are_written_and_read_as_minus_666(
    ljp005: pd.DataFrame, tmp_path: Path
) -> None:
    write_lincs_table(tmp_path / "inst_info.txt", inst_info_from_gctx_cols(ljp005))
    dmso = (tmp_path / "inst_info.txt").read_text().splitlines()[1].split("\t")
    assert dmso == [
        "LJP005_A375_24H_X1_B19:A03",
        "LJP005_A375_24H_X1",
        "A03",
        "DMSO",
        "DMSO",
        "ctl_vehicle",
        "-666",
        "-666",
        "24",
        "h",
        "A375",
    ]


def test_a_gzip_file_is_read_whatever_its_name(ljp005: pd.DataFrame, tmp_path: Path) -> None:
    inst = inst_info_from_gctx_cols(ljp005)
    write_lincs_table(tmp_path / "inst.txt.gz", inst)
    shutil.copyfile(tmp_path / "inst.txt.gz", tmp_path / "GSE92742_inst_info.txt")
    pd.testing.assert_frame_equal(read_inst_info(tmp_path / "GSE92742_inst_info.txt"), inst)


@pytest.mark.parametrize("compressed", [False, True])
def test_a_table_cut_short_mid_row_is_refused_naming_the_line(
    layouts: dict[str, Layout], tmp_path: Path, compressed: bool
) -> None:
    """instinfo_beta.txt (30 columns) whose download stopped in the middle of its last row: the
    row's missing cells must not be read as missing values."""
    whole = layouts["beta"].inst_info.read_bytes()
    lines = whole.splitlines(keepends=True)
    cut = b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2]
    path = tmp_path / "instinfo_beta.txt"
    path.write_bytes(gzip.compress(cut) if compressed else cut)
    with pytest.raises(LincsTableError) as refused:
        read_inst_info(path)
    assert str(refused.value) == (
        f"{path}: 1 rows of fewer than the header's 30 cells (line {len(lines)}): the table is "
        "cut short or damaged; download it again"
    )
    path.write_bytes(whole)  # whole, and without its last line break: read
    assert len(read_inst_info(path)) == len(lines) - 1


# Two signatures in GEO's sig_info layout, typed by hand (ids in the CMap format).
SIG_INFO = (
    "sig_id\tpert_id\tpert_iname\tpert_type\tcell_id\tpert_dose\tpert_dose_unit\tpert_idose"
    "\tpert_time\tpert_time_unit\tpert_itime\tdistil_id\n"
    "CPC006_A549_6H:BRD-U88459701-000-01-8:10\tBRD-U88459701\tatorvastatin\ttrt_cp\tA549\t10.0"
    "\tµM\t10 µM\t6\th\t6 h"
    "\tCPC006_A549_6H_X1_B3_DUO52HI53LO:K06|CPC006_A549_6H_X2_B3_DUO52HI53LO:K06\n"
    "CPC020_A375_6H:BRD-A82307304-001-01-8:10\tBRD-A82307304\tatorvastatin\ttrt_cp\tA375\t-666"
    "\t-666\t-666\t6\th\t6 h\tCPC020_A375_6H_X1_B4_DUO52HI53LO:K06\n"
)


def test_sig_info_reads_minus_666_as_missing_and_keeps_numbers_numeric(tmp_path: Path) -> None:
    (tmp_path / "sig_info.txt").write_text(SIG_INFO, encoding="utf-8")
    sigs = read_sig_info(tmp_path / "sig_info.txt")
    assert sigs.index.name == "sig_id"
    assert sigs["pert_dose"].tolist()[0] == 10.0
    assert np.isnan(sigs["pert_dose"].tolist()[1])
    assert sigs["pert_idose"].isna().tolist() == [False, True]
    assert sigs["pert_idose"].iloc[0] == "10 µM"
    assert sigs["pert_time"].dtype == np.int64
    assert sigs["distil_id"].iloc[0].split("|")[1] == "CPC006_A549_6H_X2_B3_DUO52HI53LO:K06"


def test_a_latin1_table_reads_its_micro_sign(tmp_path: Path) -> None:
    (tmp_path / "sig_info.txt").write_bytes(SIG_INFO.encode("latin-1"))
    assert read_sig_info(tmp_path / "sig_info.txt")["pert_idose"].iloc[0] == "10 µM"


def test_a_table_missing_a_required_column_is_refused(tmp_path: Path) -> None:
    cut = "\n".join(line.rsplit("\t", 1)[0] for line in SIG_INFO.splitlines())
    (tmp_path / "sig_info.txt").write_text(cut)
    with pytest.raises(
        LincsTableError, match=r"sig_info lacks the required columns \['distil_id'\]"
    ):
        read_sig_info(tmp_path / "sig_info.txt")


def test_duplicate_ids_are_refused_with_their_lines(tmp_path: Path) -> None:
    lines = SIG_INFO.splitlines(keepends=True)
    (tmp_path / "sig_info.txt").write_text("".join([*lines, lines[1]]))
    with pytest.raises(LincsTableError, match=r"duplicate sig_id 'CPC006_A549_6H.*on lines 2, 4\)"):
        read_sig_info(tmp_path / "sig_info.txt")


def test_a_row_without_an_id_is_refused(tmp_path: Path) -> None:
    lines = SIG_INFO.splitlines(keepends=True)
    (tmp_path / "sig_info.txt").write_text(
        "".join([*lines, "-666" + lines[2][lines[2].index("\t") :]])
    )
    with pytest.raises(LincsTableError, match=r"1 rows without an sig_id \(lines 4\)"):
        read_sig_info(tmp_path / "sig_info.txt")


def test_gene_info_from_the_plates_probes_reads_back_indexed_by_entrez_id(tmp_path: Path) -> None:
    rows = read_gct(LJP005_GCT).row_meta
    genes = pd.DataFrame(
        {
            "pr_gene_symbol": rows["pr_gene_symbol"].to_numpy(),
            "pr_gene_title": rows["pr_gene_title"].to_numpy(),
            "pr_is_lm": rows["pr_is_lmark"].to_numpy(),
            "pr_is_bing": rows["pr_is_bing"].to_numpy(),
        },
        index=pd.Index(rows["pr_gene_id"].to_numpy(), name="pr_gene_id"),
    )
    write_lincs_table(tmp_path / "gene_info.txt", genes)
    back = read_gene_info(tmp_path / "gene_info.txt")
    pd.testing.assert_frame_equal(back, genes)
    assert back.index.dtype == np.int64
    assert back.loc[5720, "pr_gene_symbol"] == "PSME1"
    assert len(back) == 978


def test_cell_and_pert_info_need_only_their_ids(ljp005: pd.DataFrame, tmp_path: Path) -> None:
    perts = ljp005.drop_duplicates("pert_id").set_index("pert_id")[["pert_iname", "pert_type"]]
    write_lincs_table(tmp_path / "pert_info.txt", perts)
    back = read_pert_info(tmp_path / "pert_info.txt")
    assert len(back) == 60
    assert back.loc["DMSO", "pert_type"] == "ctl_vehicle"
    (tmp_path / "cell_info.txt").write_text("cell_id\tcell_type\nA375\tmelanoma\nA549\t-666\n")
    cells = read_cell_info(tmp_path / "cell_info.txt")
    assert cells.loc["A375", "cell_type"] == "melanoma"
    assert cells["cell_type"].isna().tolist() == [False, True]
    write_lincs_table(tmp_path / "bad.txt", perts.drop(columns="pert_type"))
    with pytest.raises(
        LincsTableError, match=r"pert_info lacks the required columns \['pert_type'\]"
    ):
        read_pert_info(tmp_path / "bad.txt")


def test_gzip_compressed_tables_are_read(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "sig_info.txt.gz", "wt", encoding="utf-8") as out:
        out.write(SIG_INFO)
    assert len(read_sig_info(tmp_path / "sig_info.txt.gz")) == 2

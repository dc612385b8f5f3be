"""The LINCS tables in each release's spelling read into one vocabulary (headers as published:
GSE92742 / GSE70138 on GEO, CMap LINCS 2020's *_beta files, the clue.io gene space export)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from transform.io import LincsTableError, read_gene_info, read_inst_info, read_sig_info

WELL = "LJP005_A375_24H_X1_B19:C13"


def write(path: Path, lines: list[str], *, compress: bool = False) -> Path:
    text = "".join(line + "\n" for line in lines)
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as out:
            out.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_gse92742_inst_info_reads_as_it_is(tmp_path: Path) -> None:
    table = read_inst_info(
        write(
            tmp_path / "inst.txt",
            [
                "inst_id\trna_plate\trna_well\tpert_id\tpert_iname\tpert_type\tpert_dose\t"
                "pert_dose_unit\tpert_time\tpert_time_unit\tcell_id",
                f"{WELL}\tLJP005_A375_24H_X1\tC13\tBRD-K56343971\tvemurafenib\ttrt_cp\t10\tum\t24\th\tA375",
            ],
        )
    )
    assert table.attrs["dialect"].startswith("GEO inst_info")
    assert table.loc[WELL, ["pert_iname", "cell_id", "rna_well"]].tolist() == [
        "vemurafenib",
        "A375",
        "C13",
    ]


def test_gse70138_inst_info_takes_plate_and_well_from_the_well_id(tmp_path: Path) -> None:
    table = read_inst_info(
        write(
            tmp_path / "inst.txt.gz",
            [
                "inst_id\tcell_id\tdet_plate\tdet_well\tpert_mfc_id\tpert_dose\tpert_dose_unit\tpert_id\t"
                "pert_iname\tpert_type\tpert_time\tpert_time_unit",
                f"{WELL}\tA375\tLJP005_A375_24H_X1_B19\tC13\tBRD-K5-1\t10\tum\tBRD-K5\tvemurafenib\t"
                "trt_cp\t24\th",
                "REP.A001_A549_24H_X2_B22:P24\tA549\t-666\tP24\t-666\t-666\t-666\tDMSO\tDMSO\t"
                "ctl_vehicle\t24\th",
            ],
            compress=True,
        )
    )
    assert table.loc[WELL, ["rna_plate", "rna_well"]].tolist() == ["LJP005_A375_24H_X1", "C13"]
    assert table.loc["REP.A001_A549_24H_X2_B22:P24", "rna_plate"] == "REP.A001_A549_24H_X2"
    assert np.isnan(table.loc["REP.A001_A549_24H_X2_B22:P24", "pert_dose"])


def test_instinfo_beta_renames_its_columns_and_reads_empty_cells_as_missing(
    tmp_path: Path,
) -> None:
    table = read_inst_info(
        write(
            tmp_path / "instinfo_beta.txt",
            [
                "pert_dose\tpert_dose_unit\tpert_time\tpert_time_unit\trna_plate\trna_well\tpert_id\t"
                "sample_id\tpert_type\tcell_iname\tqc_pass\tcmap_name",
                f"10\tuM\t24\th\tLJP005_A375_24H_X1\tC13\tBRD-K5\t{WELL}\ttrt_cp\tA375\t1\tvemurafenib",
                "\t\t24\th\tLJP005_A375_24H_X1\tA03\tDMSO\tLJP005_A375_24H_X1_B19:A03\tctl_vehicle\tA375"
                "\t0\tDMSO",
            ],
        )
    )
    assert table.attrs["dialect"] == "CMap LINCS 2020 instinfo_beta"
    assert table.index.name == "inst_id"
    assert {"pert_iname", "cell_id", "qc_pass"} <= set(table.columns)
    assert not {"cmap_name", "cell_iname", "sample_id"} & set(table.columns)
    assert table["qc_pass"].tolist() == [1, 0]
    assert np.isnan(table.loc["LJP005_A375_24H_X1_B19:A03", "pert_dose"])
    assert table["pert_dose"].dtype == np.float64


def test_geneinfo_beta_flags_landmarks_from_feature_space(tmp_path: Path) -> None:
    genes = read_gene_info(
        write(
            tmp_path / "geneinfo_beta.txt",
            [
                "gene_id\tgene_symbol\tensembl_id\tgene_title\tgene_type\tsrc\tfeature_space",
                "7157\tTP53\tENSG00000141510\ttumor protein p53\tprotein-coding\tNCBI\tlandmark",
                "750\tGAS8-AS1\tENSG00000221819\tGAS8 antisense RNA 1\tncRNA\tNCBI\tinferred",
                "5720\tPSME1\tENSG00000092010\tproteasome activator subunit 1\tprotein-coding\tNCBI"
                "\tbest inferred",
            ],
        )
    )
    assert genes.index.name == "pr_gene_id"
    assert genes.loc[7157, ["pr_gene_symbol", "pr_is_lm", "pr_is_bing"]].tolist() == ["TP53", 1, 1]
    assert genes.loc[5720, ["pr_is_lm", "pr_is_bing"]].tolist() == [0, 1]
    assert genes.loc[750, ["pr_is_lm", "pr_is_bing"]].tolist() == [0, 0]
    assert genes.loc[7157, "ensembl_id"] == "ENSG00000141510"


def test_the_clue_gene_space_export_reads_as_a_gene_table(tmp_path: Path) -> None:
    genes = read_gene_info(
        write(
            tmp_path / "clue.tsv",
            [
                "Entrez ID\tSymbol\tName\tGene Family\tType\tRNA-Seq Correlation",
                "7157\tTP53\ttumor protein p53\t\tlandmark\t",
                "285550\tFAM200B\tfamily with sequence similarity 200 member B\t\tnot inferred\t",
            ],
        )
    )
    assert genes["pr_is_lm"].tolist() == [1, 0]
    assert genes.attrs["dialect"] == "clue.io gene space"


def test_signature_tables_of_both_releases_give_distil_id(tmp_path: Path) -> None:
    geo = read_sig_info(
        write(
            tmp_path / "GSE70138_sig_info.txt",
            [
                "sig_id\tpert_id\tpert_iname\tpert_type\tcell_id\tpert_idose\tpert_itime\tdistil_id",
                f"S1\tBRD-K5\tvemurafenib\ttrt_cp\tA375\t10 µM\t24 h\t{WELL}|{WELL}x",
            ],
        )
    )
    beta = read_sig_info(
        write(
            tmp_path / "siginfo_beta.txt",
            [
                "pert_idose\tpert_itime\tpert_id\tsig_id\tpert_type\tcell_iname\tdet_wells\tdistil_ids\t"
                "cmap_name\tis_exemplar_sig",
                f"10 uM\t24 h\tBRD-K5\tS1\ttrt_cp\tA375\tC13\t{WELL}|{WELL}x\tvemurafenib\t1",
            ],
        )
    )
    for table in (geo, beta):
        assert table.loc["S1", ["pert_iname", "cell_id", "distil_id"]].tolist() == [
            "vemurafenib",
            "A375",
            f"{WELL}|{WELL}x",
        ]


def test_a_profile_table_of_no_known_release_names_the_headers_expected(tmp_path: Path) -> None:
    with pytest.raises(LincsTableError, match=r"not a inst_info table.*inst_id.*sample_id"):
        read_inst_info(write(tmp_path / "x.txt", ["well\tdrug", "A01\tx"]))

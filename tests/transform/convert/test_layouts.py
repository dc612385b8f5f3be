"""The same real profiles in LINCS 2020, GEO and metadata-inside layouts: read, converted and
turned into signatures identically; bad tables refused before any work, naming the reason."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.transform.convert.helpers import convert
from tests.transform.layouts import FAILING_QC, Layout
from transform.cli import main
from transform.io import LincsTableError, read_gctx, read_gctx_meta, read_inst_info
from transform.io.level3 import open_level3
from transform.signatures.run import compute_signatures

LAYOUTS = ("beta", "geo", "inside")


@pytest.fixture(scope="module")
def converted(
    layouts: dict[str, Layout], plate_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("converted")
    done = {}
    for name, layout in layouts.items():
        done[name] = out / f"{name}.gctx"
        convert(
            plate_bundle,
            layout.gctx,
            done[name],
            chunk_size=100,
            gene_info=layout.gene_info,
            inst_info=layout.inst_info,
        )
    return done


def test_each_layout_reads_the_978_landmarks_of_the_plate(layouts: dict[str, Layout]) -> None:
    found = {}
    for name, layout in layouts.items():
        level3 = open_level3(layout.gctx, gene_info=layout.gene_info, inst_info=layout.inst_info)
        landmarks = level3.landmarks()
        found[name] = set(landmarks["entrez"].astype(int))
        assert len(landmarks) == 978
        values = level3.read(rows=landmarks.index.tolist(), cols=[0, 5]).values
        assert np.isfinite(values).all()
    assert found["beta"] == found["geo"] == found["inside"]


def test_tables_are_read_in_their_own_dialects(layouts: dict[str, Layout]) -> None:
    beta = open_level3(
        layouts["beta"].gctx,
        gene_info=layouts["beta"].gene_info,
        inst_info=layouts["beta"].inst_info,
    )
    geo = open_level3(
        layouts["geo"].gctx, gene_info=layouts["geo"].gene_info, inst_info=layouts["geo"].inst_info
    )
    well = "LJP005_A375_24H_X1_B19:C13"
    for level3 in (beta, geo):
        row = level3.inst.loc[well]
        assert row[["pert_iname", "cell_id", "rna_plate", "rna_well"]].tolist() == [
            "vemurafenib",
            "A375",
            "LJP005_A375_24H_X1",
            "C13",
        ]
        assert row["pert_dose"] == 10.0
    assert np.isnan(beta.inst.loc["LJP005_A375_24H_X1_B19:A03", "pert_dose"])  # an empty cell
    assert read_inst_info(layouts["geo"].inst_info).attrs["dialect"].startswith("GEO")
    assert read_inst_info(layouts["beta"].inst_info).attrs["dialect"].endswith("instinfo_beta")
    assert len(beta.passing()) == 377 - FAILING_QC
    with pytest.raises(LincsTableError, match="no qc_pass column"):
        geo.passing()


def test_the_three_layouts_convert_to_identical_profiles(converted: dict[str, Path]) -> None:
    matrices = {name: read_gctx(path) for name, path in converted.items()}
    reference = matrices["inside"]
    for name in ("beta", "geo"):
        assert matrices[name].values.tobytes() == reference.values.tobytes(), name
        assert matrices[name].col_ids.tolist() == reference.col_ids.tolist()


def test_the_converted_file_carries_the_profile_table_it_was_given(
    converted: dict[str, Path],
) -> None:
    _, beta_cols = read_gctx_meta(converted["beta"])
    assert {"pert_iname", "cell_id", "rna_plate", "qc_pass"} <= set(beta_cols.columns)
    assert "cmap_name" not in beta_cols.columns
    assert beta_cols.loc["LJP005_A375_24H_X1_B19:C13", "pert_iname"] == "vemurafenib"
    _, geo_cols = read_gctx_meta(converted["geo"])
    assert geo_cols.loc["LJP005_A375_24H_X1_B19:C13", "rna_well"] == "C13"


def test_the_three_layouts_give_identical_signatures(
    converted: dict[str, Path], tmp_path: Path
) -> None:
    signatures = {}
    for name, path in converted.items():
        manifest = compute_signatures(path, None, tmp_path / name)  # metadata from the file
        assert manifest["n_signatures"] > 300
        signatures[name] = read_gctx(tmp_path / name / "signatures.gctx")
    reference = signatures["inside"]
    for name in ("beta", "geo"):
        assert signatures[name].values.tobytes() == reference.values.tobytes(), name
        assert signatures[name].col_ids.tolist() == reference.col_ids.tolist()


def test_signatures_can_keep_only_profiles_that_pass_qc(
    converted: dict[str, Path], tmp_path: Path
) -> None:
    every = compute_signatures(converted["beta"], None, tmp_path / "all")
    passing = compute_signatures(converted["beta"], None, tmp_path / "qc", qc_pass_only=True)
    assert passing["qc_pass_only"] is True
    cases = pd.read_csv(tmp_path / "qc" / "sig_info.txt", sep="\t")["distil_id"].str.split("|")
    used = {well for wells in cases for well in wells}
    _, cols = read_gctx_meta(converted["beta"])
    failing = set(cols.index[cols["qc_pass"] == 0])
    assert len(failing) == FAILING_QC
    assert not used & failing
    every_cases = pd.read_csv(tmp_path / "all" / "sig_info.txt", sep="\t")["distil_id"]
    assert failing & {well for wells in every_cases.str.split("|") for well in wells}
    assert passing["n_signatures"] <= every["n_signatures"]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def test_a_published_file_without_its_gene_table_is_refused_asking_for_it(
    layouts: dict[str, Layout],
    plate_bundle: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = run_cli(
        [
            "convert",
            "--checkpoint",
            str(plate_bundle),
            "--input",
            str(layouts["beta"].gctx),
            "--output",
            str(tmp_path / "o.gctx"),
        ],
        capsys,
    )
    assert code == 2
    assert "12,328 rows" in err
    assert "--gene-info" in err
    assert "no landmark flag" in err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("layout", "flag"), [("geo", "pr_is_lm"), ("beta", "feature_space")])
def test_a_gene_table_without_a_landmark_flag_is_refused(
    layouts: dict[str, Layout],
    plate_bundle: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    layout: str,
    flag: str,
) -> None:
    """GEO's gene_info without pr_is_lm, LINCS 2020's geneinfo_beta without feature_space: the
    same refusal, before any work (the beta table's used to end in a KeyError traceback)."""
    table = pd.read_csv(layouts[layout].gene_info, sep="\t").drop(columns=[flag])
    bad = tmp_path / "gene_info.txt"
    table.to_csv(bad, sep="\t", index=False)
    code, err = run_cli(
        [
            "convert",
            "--checkpoint",
            str(plate_bundle),
            "--input",
            str(layouts[layout].gctx),
            "--gene-info",
            str(bad),
            "--output",
            str(tmp_path / "o.gctx"),
        ],
        capsys,
    )
    assert code == 2
    assert err.startswith(f"error: {bad}: no landmark flag (pr_is_lm, feature_space or Type)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gene_info.txt"]


def test_a_gene_table_that_matches_no_row_is_refused_naming_ids(
    layouts: dict[str, Layout], tmp_path: Path
) -> None:
    table = pd.read_csv(layouts["geo"].gene_info, sep="\t")
    table["pr_gene_id"] += 10**9
    bad = tmp_path / "gene_info.txt"
    table.to_csv(bad, sep="\t", index=False)
    with pytest.raises(
        LincsTableError,
        match=r"none of its 12,328 genes names a row.*row ids are such as '2', '9'.*'1000",
    ):
        open_level3(layouts["geo"].gctx, gene_info=bad)


def test_a_profile_missing_from_the_profile_table_is_refused_naming_it(
    layouts: dict[str, Layout],
    plate_bundle: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with gzip.open(layouts["geo"].inst_info, "rt") as handle:
        lines = handle.readlines()
    gone = lines[7].split("\t")[0]
    bad = tmp_path / "inst_info.txt"
    bad.write_text("".join(lines[:7] + lines[8:]))
    code, err = run_cli(
        [
            "convert",
            "--checkpoint",
            str(plate_bundle),
            "--input",
            str(layouts["geo"].gctx),
            "--gene-info",
            str(layouts["geo"].gene_info),
            "--inst-info",
            str(bad),
            "--output",
            str(tmp_path / "o.gctx"),
        ],
        capsys,
    )
    assert code == 2
    assert "1 of the 377 profiles" in err
    assert gone in err
    assert not (tmp_path / "o.gctx").exists()


def test_a_table_of_an_unknown_release_is_refused_naming_the_expected_headers(
    layouts: dict[str, Layout], tmp_path: Path
) -> None:
    bad = tmp_path / "inst_info.txt"
    bad.write_text("well\tdrug\nA01\tx\n")
    with pytest.raises(LincsTableError, match=r"not a inst_info table.*sample_id"):
        open_level3(layouts["geo"].gctx, gene_info=layouts["geo"].gene_info, inst_info=bad)


def test_a_beta_signature_table_names_the_signatures_and_what_is_missing(
    converted: dict[str, Path], tmp_path: Path
) -> None:
    _, cols = read_gctx_meta(converted["beta"])
    vemurafenib = cols.index[cols["pert_iname"] == "vemurafenib"].tolist()
    dmso = cols.index[cols["pert_iname"] == "DMSO"].tolist()
    elsewhere = "LJP006_A375_24H_X1_B19:A03"
    table = pd.DataFrame(
        {
            "sig_id": ["LJP005_A375_24H:vemurafenib", "LJP005_A375_24H:dmso", "LJP006_A375_24H:x"],
            "cmap_name": ["vemurafenib", "DMSO", "x"],
            "pert_id": ["BRD-1", "DMSO", "BRD-2"],
            "pert_type": ["trt_cp", "ctl_vehicle", "trt_cp"],
            "cell_iname": "A375",
            "pert_idose": ["", "", "10 uM"],
            "pert_itime": "24 h",
            "distil_ids": ["|".join(vemurafenib), "|".join([*dmso[:4], elsewhere]), elsewhere],
        }
    )
    sig_info = tmp_path / "siginfo_beta.txt"
    table.to_csv(sig_info, sep="\t", index=False)
    manifest = compute_signatures(converted["beta"], None, tmp_path / "out", sig_info=sig_info)
    assert manifest["n_signatures"] == 2
    assert manifest["sig_info"]["without_profiles_here_ids"] == ["LJP006_A375_24H:x"]
    assert manifest["sig_info"]["with_some_profiles_missing_ids"] == ["LJP005_A375_24H:dmso"]
    made = pd.read_csv(tmp_path / "out" / "sig_info.txt", sep="\t", index_col="sig_id")
    assert made.loc["LJP005_A375_24H:vemurafenib", "pert_iname"] == "vemurafenib"
    assert made.loc["LJP005_A375_24H:vemurafenib", "n_cases"] == len(vemurafenib)
    assert made.loc["LJP005_A375_24H:dmso", "n_cases"] == 4

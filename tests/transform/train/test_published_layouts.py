"""Training data prepared from the LINCS files as published, against an ARCHS4 file that names
genes by today's symbols and Ensembl ids: every landmark it holds is kept, by stable ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.transform.layouts import ABSENT, LANDMARKS_2017, Layout, today
from transform.cli import main
from transform.gene_ids import RnaseqGenes, match_landmarks
from transform.train.config import DataConfig
from transform.train.prepare import prepare_data
from transform.train.sources import Sources

DATA = DataConfig(chunk_samples=50, max_l1000_profiles=200, gene_filter_samples=60)


def test_landmarks_renamed_since_2017_are_kept_by_their_ids(landmarks: pd.DataFrame) -> None:
    symbols, ensembl = today(landmarks["entrez"].tolist())
    renamed = sum(a != b for a, b in zip(symbols, landmarks["symbol"], strict=True))
    assert renamed == 47  # the shared reference data's count
    by_symbol_only = set(landmarks["symbol"]) & set(symbols)
    assert len(by_symbol_only) == 931  # what matching by the 2017 symbol alone kept
    match = match_landmarks(landmarks, RnaseqGenes.from_rows(symbols, ensembl))
    assert len(match.matched) == 978
    assert match.dropped.empty
    assert match.route_counts()["ensembl"] == sum(1 for g in ensembl if g)
    without_ensembl = match_landmarks(landmarks, RnaseqGenes.from_rows(symbols))
    assert len(without_ensembl.matched) == 978
    assert without_ensembl.route_counts()["symbol"] == 978


def test_a_file_naming_a_gene_by_its_previous_symbol_matches_it_so(
    landmarks: pd.DataFrame,
) -> None:
    symbols, _ = today(landmarks["entrez"].tolist())
    at = next(
        i for i, (a, b) in enumerate(zip(symbols, landmarks["symbol"], strict=True)) if a != b
    )
    old = landmarks["symbol"].iloc[at]
    named = [*symbols[:at], old, *symbols[at + 1 :]]
    match = match_landmarks(landmarks, RnaseqGenes.from_rows(named))
    row = match.matched.loc[landmarks.index[at]]
    assert row["rnaseq_symbol"] == old
    assert row["route"] in ("symbol", "previous symbol")
    assert len(match.matched) == 978


def test_a_landmark_the_rnaseq_file_lacks_is_dropped_and_named(landmarks: pd.DataFrame) -> None:
    symbols, ensembl = today(landmarks["entrez"].tolist())
    match = match_landmarks(landmarks, RnaseqGenes.from_rows(symbols[1:], ensembl[1:]))
    assert len(match.matched) == 977
    assert match.dropped.index.tolist() == [landmarks.index[0]]
    assert "no RNA-seq gene" in match.dropped["reason"].iloc[0]
    assert landmarks["symbol"].iloc[0] in match.report()
    assert match.summary()["dropped"][0]["symbol"] == landmarks["symbol"].iloc[0]


def test_two_landmarks_claiming_one_rnaseq_gene_are_both_dropped(landmarks: pd.DataFrame) -> None:
    pair = landmarks.iloc[:2].assign(entrez=[10**9, 10**9 + 1], symbol=["XX", "XX"])
    match = match_landmarks(pair, RnaseqGenes.from_rows(["XX", "YY"]))
    assert match.matched.empty
    assert all("shares the RNA-seq gene XX" in reason for reason in match.dropped["reason"])


@pytest.mark.parametrize("name", ["beta", "geo", "inside"])
def test_training_data_from_each_layout_keep_every_landmark_the_rnaseq_file_holds(
    name: str, layouts: dict[str, Layout], archs4_today: Path, tmp_path: Path
) -> None:
    layout = layouts[name]
    sources = Sources(
        layout.gctx, archs4_today, gene_info=layout.gene_info, inst_info=layout.inst_info
    )
    said: list[str] = []
    data = prepare_data(sources, DATA, tmp_path / "data", progress=said.append)
    matched = data.manifest["landmark_match"]
    assert len(data.input_genes) == matched["matched"] == 978 - ABSENT
    assert len(matched["dropped"]) == ABSENT
    assert any(line.startswith(f"landmarks: {978 - ABSENT} of 978 matched") for line in said)
    assert data.l1000.shape == (200, 978 - ABSENT)
    assert np.isfinite(data.l1000).all()
    assert set(data.input_gene_ids.values()) <= set(
        pd.read_csv(LANDMARKS_2017, sep="\t")["pr_gene_id"]
    )


def test_the_layouts_give_the_same_training_profiles(
    layouts: dict[str, Layout], archs4_today: Path, tmp_path: Path
) -> None:
    prepared = {
        name: prepare_data(
            Sources(layout.gctx, archs4_today, gene_info=layout.gene_info),
            DATA,
            tmp_path / name,
            progress=lambda _: None,
        )
        for name, layout in layouts.items()
    }
    reference = prepared["inside"]
    for name in ("beta", "geo"):
        assert prepared[name].input_genes == reference.input_genes
        assert np.array_equal(prepared[name].l1000, reference.l1000)


def test_training_can_draw_only_profiles_that_pass_qc(
    layouts: dict[str, Layout], archs4_today: Path, tmp_path: Path
) -> None:
    beta = layouts["beta"]
    sources = Sources(
        beta.gctx,
        archs4_today,
        gene_info=beta.gene_info,
        inst_info=beta.inst_info,
        qc_pass_only=True,
    )
    data = prepare_data(sources, DATA, tmp_path / "data", progress=lambda _: None)
    ids = (tmp_path / "data" / "l1000_ids.txt").read_text().split()
    table = pd.read_csv(beta.inst_info, sep="\t", index_col="sample_id")
    assert len(ids) == len(data.l1000) == 200
    assert (table.loc[ids, "qc_pass"] == 1).all()


def test_the_training_command_refuses_a_published_file_without_its_gene_table(
    layouts: dict[str, Layout],
    archs4_today: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "train-extrapolator",
            "--l1000",
            str(layouts["geo"].gctx),
            "--rnaseq",
            str(archs4_today),
            "--out",
            str(tmp_path / "run"),
        ]
    )
    assert code == 2
    assert "--gene-info" in capsys.readouterr().err
    assert not (tmp_path / "run" / "run.json").exists()

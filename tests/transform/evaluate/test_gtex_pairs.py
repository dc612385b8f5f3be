"""`python -m transform evaluate` on a GSE92743 / GTEx v8-like pair (see gtex_files): a GEO-layout
Level 3 GCTX with its gene table, GTEx read counts as GCT 1.2 and a pairs table."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.transform.evaluate.gtex_files import (
    N_PAIRS,
    ROUTES,
    GtexPair,
    l1000_id,
    make_gtex_pair,
    rnaseq_id,
)
from transform.cli import main
from transform.evaluate.baselines import ALPHA_SCALES
from transform.evaluate.metrics import METRICS
from transform.evaluate.run import BASELINE, INFORMATIVE, LEVELS, RIDGE_ON_MEASURED, RIDGE_ON_STEP1


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> GtexPair:
    return make_gtex_pair(tmp_path_factory.mktemp("gtex"))


def _evaluate(pair: GtexPair, out: Path, *extra: object) -> int:
    return main(
        [
            str(arg)
            for arg in (
                "evaluate",
                "--model",
                pair.model,
                "--paired-l1000",
                pair.paired_l1000,
                "--collection",
                pair.collection,
                "--level3",
                pair.level3,
                "--gene-info",
                pair.gene_info,
                "--reference-samples",
                60,
                "--out",
                out,
                *extra,
            )
        ]
    )


@pytest.fixture(scope="module")
def evaluated(pair: GtexPair, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("evaluation")
    assert _evaluate(pair, out, "--paired-rnaseq", pair.counts, "--pairs", pair.pairs) == 0
    return out


def test_it_reports_both_ridge_rows_beside_the_model_on_every_metric(evaluated: Path) -> None:
    report = (evaluated / "evaluation.md").read_text()
    assert f"Paired samples: {N_PAIRS};" in report
    assert f"| {RIDGE_ON_STEP1} | {BASELINE} |" in report
    assert f"| {RIDGE_ON_MEASURED} | {INFORMATIVE} |" in report
    table = pd.read_csv(evaluated / "evaluation.csv")
    full = table[table["level"] == LEVELS[1]].set_index("method")
    assert full.loc[RIDGE_ON_STEP1, "role"] == BASELINE
    assert full.loc[RIDGE_ON_MEASURED, "role"] == INFORMATIVE
    assert np.isfinite(
        full.loc[[RIDGE_ON_STEP1, RIDGE_ON_MEASURED], list(METRICS)].to_numpy()
    ).all()
    verdict = pd.read_csv(evaluated / "verdict.csv")
    assert RIDGE_ON_STEP1 in set(verdict.loc[verdict["level"] == LEVELS[1], "baseline"])
    ridge = json.loads((evaluated / "evaluation.json").read_text())["ridge"]
    assert ridge["alpha_scale"] in ALPHA_SCALES


def test_it_counts_the_rnaseq_rows_named_by_each_route(evaluated: Path) -> None:
    report = (evaluated / "evaluation.md").read_text()
    assert (
        "RNA-seq rows: 99; named by a gene of the model's gene matrix: 94 by Ensembl id, "
        "1 by symbol, 1 by previous symbol; 3 name none (left out)" in report
    )
    summary = json.loads((evaluated / "evaluation.json").read_text())
    assert summary["paired"]["rnaseq_rows_named_by"] == ROUTES


def test_genes_the_counts_lack_are_counted_and_left_out_of_the_metrics(
    pair: GtexPair, evaluated: Path
) -> None:
    report = (evaluated / "evaluation.md").read_text()
    assert "genes of the model's gene matrix the counts lack (zero reads): 5" in report
    assert "output genes the counts hold: 95 of 100" in report
    assert "landmarks (model inputs) the counts hold: 39 of 40" in report
    genes = json.loads((evaluated / "evaluation.json").read_text())["genes"]
    assert genes["outputs_absent"] == sorted(pair.lacking)
    assert genes["inputs_absent"] == [pair.lacking[0]]
    assert (genes["outputs_held"], genes["inputs_held"]) == (95, 39)


def test_samples_of_one_side_and_pairs_naming_a_missing_sample_are_counted(
    evaluated: Path,
) -> None:
    report = (evaluated / "evaluation.md").read_text()
    assert "- pairs: 18 (by pairs table" in report
    assert f"- L1000 profiles in no pair: 2 ('{l1000_id(18)}', '{l1000_id(19)}')" in report
    assert "- RNA-seq samples in no pair: 5 (" in report
    assert "- pairs naming a sample its file lacks: 1 (" in report
    paired = json.loads((evaluated / "evaluation.json").read_text())["paired"]
    assert (paired["pairs"], paired["l1000_only"], paired["rnaseq_only"]) == (18, 2, 5)
    assert paired["unusable_pairs"] == 1
    assert sorted(paired["rnaseq_only_ids"]) == [rnaseq_id(100 + k) for k in range(5)]


def test_without_a_pairs_table_identical_ids_pair_and_the_others_are_counted(
    pair: GtexPair, tmp_path: Path
) -> None:
    """The counts' first 15 samples renamed to the L1000 ids: 15 pairs; 5 L1000 profiles and
    3 + 5 RNA-seq samples in no pair."""
    lines = pair.counts.read_text().split("\n")
    for k in range(15):
        lines[2] = lines[2].replace(rnaseq_id(k), l1000_id(k))
    counts = tmp_path / "same_ids.gct.gz"
    with gzip.open(counts, "wt") as out:
        out.write("\n".join(lines))
    assert _evaluate(pair, tmp_path / "out", "--paired-rnaseq", counts) == 0
    report = (tmp_path / "out" / "evaluation.md").read_text()
    assert "- pairs: 15 (by identical sample ids)" in report
    assert "- L1000 profiles in no pair: 5" in report
    assert "- RNA-seq samples in no pair: 8" in report
    assert "pairs naming a sample its file lacks" not in report


def test_a_pairs_table_without_two_columns_is_refused_before_any_fit(
    pair: GtexPair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "pairs.txt"
    table.write_text(f"l1000\trnaseq\ttissue\n{l1000_id(0)}\t{rnaseq_id(0)}\tlung\n")
    assert _evaluate(pair, tmp_path / "out", "--paired-rnaseq", pair.counts, "--pairs", table) == 2
    assert "two tab-separated columns" in capsys.readouterr().err

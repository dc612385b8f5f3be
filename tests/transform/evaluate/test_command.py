"""`python -m transform evaluate` end to end: a tiny world, a model trained one epoch per step
from the command line, bundled, then evaluated into markdown, CSV, JSON and PNG files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.transform.layouts import write_layouts
from transform.cli import main
from transform.evaluate.command import REAL_DIR, REAL_PLATES
from transform.evaluate.metrics import METRICS
from transform.evaluate.run import BASELINE, INFORMATIVE, LEVELS, MODEL, fit_reference, per_gene
from transform.evaluate.signature_level import ORDER, RANDOM, TAU
from transform.evaluate.signature_sets import (
    CONVERTED,
    L1000,
    RIDGE,
    STEP2,
    TRUTH,
    world_signatures,
)
from transform.inference import TwoStepModel
from transform.io import read_gct
from transform.io.files import sha256_file
from transform.io.hdf5 import synthetic_origin
from transform.io.level3 import open_level3
from transform.world.config import world_config
from transform.world.generate import generate_world

TINY_WORLD = {
    "n_rnaseq_samples": 200,
    "n_paired_samples": 48,
    "chunk_samples": 100,
    "n_compound_batches": 1,
    "n_knockout_batches": 0,
    "replicate_plates": 2,
}
LJP005 = "LJP005_A375_24H"  # the batch of the real plate tests/data/l1000/LJP005_*
PNG = b"\x89PNG\r\n\x1a\n"
CYCLEGAN = ["--hidden", "16", "--bottleneck", "8", "--disc-hidden", "16,8", "--batch-size", "32"]
EXTRAPOLATOR = ["--hidden", "8,8,16", "--batch-size", "64"]


def _run(*argv: object) -> None:
    assert main([str(arg) for arg in argv]) == 0, argv


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("evaluate")
    world = root / "world"
    config = world_config("demo", seed=5, **TINY_WORLD)
    generate_world(config, world, progress=lambda _: None)
    common = ["--world", world, "--data", root / "data", "--preset", "paper", "--epochs", 1]
    _run("train-cyclegan", *common, "--out", root / "step1", *CYCLEGAN)
    _run("train-extrapolator", *common, "--out", root / "step2", *EXTRAPOLATOR)
    model = root / "model.pt"
    _run(
        "bundle",
        "--cyclegan",
        root / "step1" / "checkpoint.pt",
        "--extrapolator",
        root / "step2" / "checkpoint.pt",
        "--out",
        model,
    )
    out = root / "evaluation"
    _run("evaluate", "--model", model, "--world", world, "--out", out, "--reference-samples", 150)
    return out


def test_it_writes_the_markdown_report_with_both_levels_and_the_papers_figures(
    evaluated: Path,
) -> None:
    report = (evaluated / "evaluation.md").read_text()
    assert "Paired samples: 48" in report
    for heading in (*LEVELS, "Does the model beat every baseline", "Real plates"):
        assert f"**{heading}" in report, heading
    assert "0.914" in report
    assert "1.167" in report
    assert "| two-step model |" in report
    step1 = next(line for line in report.splitlines() if line.startswith("Settings of step 1"))
    assert "epochs=1;" in step1
    assert "generator.hidden=(16);" in step1


def test_the_csv_has_every_metric_for_the_model_and_the_baselines_at_both_levels(
    evaluated: Path,
) -> None:
    table = pd.read_csv(evaluated / "evaluation.csv")
    assert list(table.columns) == ["level", "method", "role", *METRICS]
    assert np.isfinite(table[list(METRICS)].to_numpy()).all()
    for level in LEVELS:
        roles = table.loc[table["level"] == level, "role"].value_counts()
        assert roles[MODEL] == 1, level
        assert roles[BASELINE] >= 3, level
        assert roles[INFORMATIVE] >= 2, level
    shuffled = table[table["method"] == "gene-shuffled model output"]
    assert (shuffled["global_pcc"].abs() < 0.5).all()


def test_the_plots_and_the_json_summary_are_written(evaluated: Path) -> None:
    for name in ("scatter_two_step.png", "scatter_step1.png", "sample_pcc.png"):
        assert (evaluated / name).read_bytes()[:8] == PNG, name
    summary = json.loads((evaluated / "evaluation.json").read_text())
    assert summary["samples"] == 48
    assert set(summary["beats_every_baseline"]) == set(LEVELS)
    verdict = pd.read_csv(evaluated / "verdict.csv")
    assert set(verdict["level"]) == set(LEVELS)
    real = pd.read_csv(evaluated / "real_plates.csv")
    assert len(real) == 2
    assert (real["n_shared"] >= 20).all()
    assert summary["real_plate_signatures"]


def _signatures_of_shared_compounds() -> int:
    """Counted from the real plates' metadata: the signatures (one per compound and dose) of
    the compounds that both plates hold, on either plate."""
    treated = []
    for name in REAL_PLATES:
        meta = read_gct(REAL_DIR / name).col_meta
        treated.append(meta[meta["pert_type"].astype(str).str.startswith("trt_")])
    shared = set(treated[0]["pert_id"]) & set(treated[1]["pert_id"])
    return sum(
        len(meta[meta["pert_id"].isin(shared)].groupby(["pert_id", "pert_dose"]))
        for meta in treated
    )


def test_the_real_plates_are_checked_at_the_signature_level_for_every_version(
    evaluated: Path,
) -> None:
    table = pd.read_csv(evaluated / "real_plate_signatures.csv").set_index("signatures")
    assert set(table.index) == set(ORDER) - {"truth"}
    assert (table["pairs"] == _signatures_of_shared_compounds()).all()
    # the measured landmarks, whatever the model: a compound finds itself on the other plate
    # far above chance (about 50th of some 350 signatures, 6 doses each)
    assert table.loc[L1000, "median_rank"] <= 10
    assert table.loc[L1000, "top10"] >= 0.5
    report = (evaluated / "evaluation.md").read_text()
    assert "Real plates at the signature level" in report
    assert "On these real plates, the model was trained on a generated world (demo" in report


def test_without_ground_truth_the_named_batches_get_collapse_and_self_retrieval(
    evaluated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = evaluated.parent
    for name in ("model.pt", "model.json"):  # a copy: evaluate records into the bundle's manifest
        shutil.copy(root / name, tmp_path / name)
    common = ["--model", tmp_path / "model.pt", "--world", root / "world", "--truth", tmp_path]
    common += ["--reference-samples", 150]
    batch = _world_batch(root / "world")
    _run("evaluate", *common, "--out", tmp_path / "out", "--signature-batches", batch)
    out = tmp_path / "out"
    assert not (out / "signatures_retrieval.csv").exists()
    collapse = pd.read_csv(out / "signatures_agreement.csv")
    assert set(collapse["signatures"]) == set(ORDER) - {"truth"}
    assert not any(column.startswith("spearman") for column in collapse.columns)
    found = pd.read_csv(out / "signatures_self_retrieval.csv")
    assert (found[found["kind"] == "replicate plates"]["pairs"] > 0).all()
    assert "No ground truth here" in (out / "evaluation.md").read_text()
    refused = ["evaluate", *common, "--out", tmp_path / "no", "--signature-batches", "NOPE"]
    assert main([str(arg) for arg in refused]) == 2
    assert f"1 batch(es) not in the Level 3 file: NOPE (it has 1, e.g. {batch})" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "no").exists()  # refused before any work


def _world_batch(world: Path) -> str:
    sig_info = pd.read_csv(world / "l1000" / "sig_info.txt", sep="\t")
    return str(sig_info["batch"].iloc[0])


def test_a_world_with_ground_truth_gets_the_signature_level_tables(evaluated: Path) -> None:
    report = (evaluated / "evaluation.md").read_text()
    assert "## Signature level" in report
    retrieval = pd.read_csv(evaluated / "signatures_retrieval.csv")
    by_tau = {f"{name}, by {TAU}" for name in (CONVERTED, L1000)}
    assert set(retrieval["signatures"]) == {*ORDER, RANDOM, *by_tau}
    assert set(retrieval["N"]) == {50, 100}
    assert set(retrieval["query genes"]) == {"all genes", "landmarks"}
    truth = retrieval[
        (retrieval["signatures"] == "truth") & (retrieval["query genes"] == "all genes")
    ]
    assert (truth["top1"] == 1.0).all()  # the true effects find their own perturbation first
    quality = pd.read_csv(evaluated / "signatures_agreement.csv").set_index("signatures")
    assert quality.loc["truth", "spearman (all genes)"] == pytest.approx(1.0)
    assert np.isnan(quality.loc["L1000", "spearman (all genes)"])  # landmarks only
    # the same genes: L1000's and step 1's signatures are landmarks only
    for name in ("L1000", "step 1"):
        row = quality.loc[name]
        assert row["PC5 share, signatures (landmarks)"] == pytest.approx(
            row["PC5 share, signatures"]
        )
    compared = pd.read_csv(evaluated / "signatures_comparisons.csv")
    assert set(compared["against"]) == {L1000, RIDGE, STEP2}
    assert set(compared["top"]) == {1, 10}
    n_perts = int(retrieval["queries"].iloc[0].split("/")[1])
    # paired: the shares differ by the wins less the losses, over every query
    gap = (compared["share"] - compared["other share"]) * n_perts
    assert np.allclose(gap, compared["wins"] - compared["losses"])
    self_retrieval = pd.read_csv(evaluated / "signatures_self_retrieval.csv")
    replicate = self_retrieval[self_retrieval["kind"] == "replicate plates"]
    assert (replicate["pairs"] > 0).all()
    summary = json.loads((evaluated / "evaluation.json").read_text())
    assert summary["signature_level"]["retrieval"]


def test_each_output_gene_gets_its_accuracy_recorded_in_the_bundles_manifest(
    evaluated: Path,
) -> None:
    table = pd.read_csv(evaluated / "per_gene.tsv", sep="\t")
    assert list(table.columns) == ["gene", "kind", "pcc_model", "pcc_ridge", "n_samples"]
    assert set(table["kind"]) == {"landmark", "inferred"}
    assert table["pcc_model"].between(-1, 1).all()
    assert (table["n_samples"] == 48).all()
    manifest = json.loads((evaluated.parent / "model.json").read_text())
    recorded = manifest["evaluation"]
    assert recorded["per_gene"] == str((evaluated / "per_gene.tsv").resolve())
    assert recorded["sha256"] == sha256_file(evaluated / "per_gene.tsv")
    assert recorded["n_genes"] == len(table)
    real = pd.read_csv(evaluated / "real_plate_signatures.csv").set_index("signatures")
    assert set(recorded["real_plate_signatures"]) == set(real.index)
    for version, found in recorded["real_plate_signatures"].items():
        assert found["top10"] == pytest.approx(real.loc[version, "top10"])
        assert found["pairs"] == real.loc[version, "pairs"]
    summary = json.loads((evaluated / "evaluation.json").read_text())
    assert summary["per_gene"]["median_pcc_model"] == pytest.approx(table["pcc_model"].median())


def test_per_gene_accuracy_is_each_genes_pearson_r_across_samples() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(6, 20))
    model = truth + rng.normal(scale=0.5, size=truth.shape)
    ridge = rng.normal(size=truth.shape)
    model[5] = 1.0  # a constant prediction carries nothing: r = 0
    table = per_gene(np.array([f"G{i}" for i in range(6)]), ["G0"], model, ridge, truth)
    for i in range(5):
        assert table["pcc_model"][i] == pytest.approx(np.corrcoef(model[i], truth[i])[0, 1])
        assert table["pcc_ridge"][i] == pytest.approx(np.corrcoef(ridge[i], truth[i])[0, 1])
    assert table["pcc_model"][5] == 0
    assert list(table["kind"]) == ["landmark"] + ["inferred"] * 5


def test_a_release_in_each_published_layout_gives_the_same_signatures_of_a_named_batch(
    evaluated: Path, tmp_path: Path
) -> None:
    """The real LJP005 plate as LINCS 2020 and GEO publish it (no metadata inside: gene and
    profile tables beside it) and with its metadata inside: the same signatures, every version."""
    root = evaluated.parent
    model = TwoStepModel.load(root / "model.pt")
    world = root / "world"
    fitted = fit_reference(
        model,
        world / "rnaseq" / "archs4_gene_counts.h5",
        open_level3(world / "l1000" / "level3.gctx"),
        n=150,
        seed=0,
    )
    made = {}
    for name, layout in write_layouts(tmp_path).items():
        level3 = open_level3(layout.gctx, gene_info=layout.gene_info, inst_info=layout.inst_info)
        made[name] = world_signatures(model, level3, None, fitted, None, batches=[LJP005])
    inside = made["inside"]
    treated = inside.table["pert_type"].astype(str).str.startswith("trt_")
    assert treated.all()
    wells = read_gct(REAL_DIR / REAL_PLATES[0]).col_meta  # the plate as published
    wells = wells[wells["pert_type"].astype(str).str.startswith("trt_")]
    assert len(inside.table) == len(wells.groupby(["pert_id", "pert_dose"]))  # one per dose
    assert TRUTH not in inside.sets
    for name in ("beta", "geo"):
        table = made[name].table.set_index("sig_id")
        order = table.index.get_indexer(inside.table["sig_id"])
        assert (order >= 0).all(), name
        for version, found in inside.sets.items():
            np.testing.assert_allclose(
                made[name].sets[version].matrix[:, order], found.matrix, atol=1e-5, err_msg=name
            )


def test_the_bundle_names_the_generated_world_it_learnt_from_and_convert_warns_off_real_files(
    evaluated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = evaluated.parent
    manifest = json.loads((root / "model.json").read_text())
    assert manifest["synthetic_world"] == {"size": "demo", "seed": 5, "setting": "default"}
    real = write_layouts(tmp_path / "layouts")["inside"].gctx  # the real LJP005 plate
    own = root / "world" / "paired" / "l1000_level3.gctx"  # the world's own profiles
    for name, source in (("real", real), ("own", own)):
        capsys.readouterr()
        _run(
            "convert",
            "--checkpoint",
            root / "model.pt",
            "--input",
            source,
            "--output",
            tmp_path / f"{name}.gctx",
        )
        warned = "warning: the model was trained on a generated world (demo, seed 5" in (
            capsys.readouterr().err
        )
        assert warned == (name == "real"), name
        made = synthetic_origin(tmp_path / f"{name}.gctx")  # the world's profiles say so still
        assert made == (manifest["synthetic_world"] if name == "own" else None), name
        recorded = json.loads((tmp_path / f"{name}.json").read_text())
        assert recorded["synthetic_world"] == made, name

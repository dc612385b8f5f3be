"""Both trainings on the tiny world: deterministic for a seed, resumable exactly, metrics per
epoch."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import torch

from tests.transform.train.conftest import TINY_CYCLEGAN, TINY_EXTRAPOLATOR, TINY_STANDARDIZED
from transform.train.checkpoint import load_checkpoint
from transform.train.cyclegan import train_cyclegan, training_domains
from transform.train.extrapolator import train_extrapolator
from transform.train.prepare import PreparedData
from transform.train.session import ProgressLine

TIMING = ("samples_per_s", "seconds")


def _quiet() -> ProgressLine:
    return ProgressLine("test", stream=io.StringIO())


def _train(kind: str, config, data: PreparedData, run: Path, **options) -> dict:
    train = train_cyclegan if kind == "cyclegan" else train_extrapolator
    return load_checkpoint(train(config, data, run, progress=_quiet(), **options))


def _assert_same_tensors(first: object, second: object, where: str = "state") -> None:
    """Equal nested states: tensors bit for bit, everything else by ==."""
    if isinstance(first, torch.Tensor):
        assert torch.equal(first, second), where
    elif isinstance(first, dict):
        assert first.keys() == second.keys(), where
        for key in first:
            _assert_same_tensors(first[key], second[key], f"{where}.{key}")
    elif isinstance(first, list | tuple):
        assert len(first) == len(second), where
        for at, (a, b) in enumerate(zip(first, second, strict=True)):
            _assert_same_tensors(a, b, f"{where}[{at}]")
    else:
        assert first == second, where


def _without_timing(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


CASES = [
    ("cyclegan", TINY_CYCLEGAN),
    ("cyclegan", TINY_STANDARDIZED),
    ("extrapolator", TINY_EXTRAPOLATOR),
]
IDS = ["cyclegan", "cyclegan-standardized", "extrapolator"]


@pytest.mark.parametrize(("kind", "config"), CASES, ids=IDS)
def test_training_is_deterministic_for_a_seed_on_cpu(
    kind: str, config, prepared: PreparedData, tmp_path: Path
) -> None:
    first = _train(kind, config, prepared, tmp_path / "first")
    second = _train(kind, config, prepared, tmp_path / "second")
    _assert_same_tensors(first["state"], second["state"])
    assert _without_timing(first["history"]) == _without_timing(second["history"])
    assert first["epoch"] == config.epochs


@pytest.mark.parametrize(("kind", "config"), CASES, ids=IDS)
def test_a_run_stopped_with_until_epoch_and_resumed_ends_as_an_uninterrupted_one(
    kind: str, config, prepared: PreparedData, tmp_path: Path
) -> None:
    whole = _train(kind, config, prepared, tmp_path / "whole")
    stopped = _train(kind, config, prepared, tmp_path / "split", until_epoch=1)
    assert stopped["epoch"] == 1
    resumed = _train(kind, config, prepared, tmp_path / "split", resume=True)
    _assert_same_tensors(whole["state"], resumed["state"])
    assert _without_timing(whole["history"]) == _without_timing(resumed["history"])
    assert whole["results"] == resumed["results"]


def test_another_seed_gives_other_weights(prepared: PreparedData, tmp_path: Path) -> None:
    from dataclasses import replace

    first = _train("cyclegan", TINY_CYCLEGAN, prepared, tmp_path / "a")
    other = _train("cyclegan", replace(TINY_CYCLEGAN, seed=1), prepared, tmp_path / "b")
    assert not torch.equal(
        first["state"]["G_AB"]["net.0.weight"], other["state"]["G_AB"]["net.0.weight"]
    )


@pytest.mark.parametrize(("kind", "config"), [CASES[0], CASES[2]], ids=[IDS[0], IDS[2]])
def test_every_epoch_adds_a_row_to_the_metrics_csv(
    kind: str, config, prepared: PreparedData, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    _train(kind, config, prepared, run, until_epoch=2)
    with open(run / "metrics.csv") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    losses = ("loss_G", "cycle", "loss_D_A") if kind == "cyclegan" else ("train_mse", "val_mse")
    for name in (*losses, "lr", "samples_per_s"):
        assert all(float(row[name]) >= 0 for row in rows), name


def test_a_finished_run_is_not_overwritten_without_resume(
    prepared: PreparedData, tmp_path: Path
) -> None:
    _train("cyclegan", TINY_CYCLEGAN, prepared, tmp_path / "run", until_epoch=1)
    with pytest.raises(FileExistsError, match="--resume"):
        _train("cyclegan", TINY_CYCLEGAN, prepared, tmp_path / "run")


def test_domain_b_can_hold_only_the_rnaseq_samples_of_the_l1000_cell_lines(
    prepared: PreparedData,
) -> None:
    a, every = training_domains(prepared, TINY_CYCLEGAN)
    _, matched = training_domains(prepared, TINY_STANDARDIZED)
    named = [cell for cell in prepared.rnaseq_cell_lines if cell]
    assert a.shape == (len(prepared.l1000), len(prepared.input_genes))
    assert len(every) == len(prepared.rnaseq_ids)
    assert 16 <= len(matched) == len(named) < len(every)
    assert set(named) <= set(prepared.l1000_cell_lines)


def test_the_linear_path_is_the_closed_form_ridge_and_stays_fixed(
    prepared: PreparedData, tmp_path: Path
) -> None:
    """The extrapolator's linear path (demo preset) is ridge regression from the standardized
    inputs of the training and validation samples, written out here from its definition, with
    the alpha the validation samples chose; training leaves it as it was."""
    from dataclasses import replace

    import numpy as np

    from transform.models import ExtrapolatorConfig
    from transform.train.extrapolator import split_samples

    model = ExtrapolatorConfig(hidden=(8, 8, 16), standardized=True, linear=True)
    config = replace(TINY_EXTRAPOLATOR, model=model)
    state = _train("extrapolator", config, prepared, tmp_path / "run")["state"]["model"]
    split = split_samples(len(prepared.rnaseq_ids), config)
    fitted = np.sort(np.concatenate([split["train"], split["validation"]]))
    mean, sd = (state[name].double().numpy() for name in ("input_mean", "input_sd"))
    x = (np.asarray(prepared.rnaseq_inputs[fitted], dtype=np.float64) - mean) / sd
    y = np.asarray(prepared.rnaseq_outputs[fitted], dtype=np.float64)
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    weight = state["linear.weight"].double().numpy()  # (n_out, n_in)
    intercept = state["linear.bias"].double().numpy()
    # the alpha the fit used, recovered from one column's normal equations
    residual = xc.T @ (yc[:, 0] - xc @ weight[0])
    alpha = float(residual @ weight[0] / (weight[0] @ weight[0]))
    assert alpha > 0
    coef = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ yc)
    assert np.allclose(weight.T, coef, rtol=1e-3, atol=1e-5)
    assert np.allclose(intercept, y.mean(axis=0) - x.mean(axis=0) @ coef, rtol=1e-3, atol=1e-4)
    assert any(key.startswith("net.") and state[key].abs().sum() > 0 for key in state)

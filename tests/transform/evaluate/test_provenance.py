"""The evaluation says how the model was trained and where that departs from the paper."""

from __future__ import annotations

from dataclasses import replace

from transform.evaluate.provenance import departures, model_lines
from transform.train.config import CycleGanTrainConfig, ExtrapolatorTrainConfig, with_data


def _manifest(step1: CycleGanTrainConfig, step2: ExtrapolatorTrainConfig) -> dict:
    return {
        "steps": {
            "cyclegan": {"config": step1.as_dict(), "epoch": step1.epochs, "stopped_early": False},
            "extrapolator": {"config": step2.as_dict(), "epoch": 7, "stopped_early": True},
        }
    }


def test_the_papers_settings_depart_from_nothing_whatever_the_data_and_seeds() -> None:
    step1 = with_data(replace(CycleGanTrainConfig(), seed=3), max_l1000_profiles=100)
    manifest = _manifest(step1, ExtrapolatorTrainConfig())
    assert departures(manifest) == {"step 1": [], "step 2": []}
    lines = model_lines(manifest)
    assert lines[0] == "Model: trained step 1 for 100 epochs, step 2 for 7 epochs (stopped early)."
    assert "none (the paper's settings)" in lines[1]


def test_changed_settings_are_named_with_their_values() -> None:
    step1 = replace(CycleGanTrainConfig(), epochs=30, identity_weight=5.0)
    step2 = replace(ExtrapolatorTrainConfig(), lr=1e-3)
    step2 = replace(step2, model=replace(step2.model, hidden=(8, 16)))
    found = departures(_manifest(step1, step2))
    assert found["step 1"] == ["epochs=30", "identity_weight=5.0"]
    assert found["step 2"] == ["model.hidden=(8, 16)", "lr=0.001"]


def test_a_bundle_without_manifest_is_said_to_be_unknown() -> None:
    assert "unknown" in model_lines(None)[0]

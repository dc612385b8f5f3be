"""What model an evaluation is about: the bundle manifest's training settings, and where they
depart from the paper's (Jeon et al. 2022), so that a table is never read as the paper's
method when it is not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transform.train.config import CycleGanTrainConfig, ExtrapolatorTrainConfig

STEPS = {
    "cyclegan": ("step 1", CycleGanTrainConfig),
    "extrapolator": ("step 2", ExtrapolatorTrainConfig),
}
NOT_METHOD = ("data.", "seed")  # which samples were drawn and the seeds: not the method


def read_manifest(model: Path) -> dict[str, Any] | None:
    """The bundle's manifest (model.json beside model.pt), or None where it is absent."""
    path = Path(model).with_suffix(".json")
    return json.loads(path.read_text()) if path.is_file() else None


def departures(manifest: dict[str, Any]) -> dict[str, list[str]]:
    """Per step: the settings ("name=value") that differ from the paper's defaults."""
    found = {}
    for kind, (label, paper_config) in STEPS.items():
        stored = manifest.get("steps", {}).get(kind, {}).get("config")
        if stored is None:
            continue
        paper = _flat(paper_config().as_dict())
        found[label] = [
            f"{name}={_text(value)}"
            for name, value in _flat(stored).items()
            if not name.startswith(NOT_METHOD) and _text(paper.get(name)) != _text(value)
        ]
    return found


def model_lines(manifest: dict[str, Any] | None) -> list[str]:
    """Markdown lines that say how the evaluated model was trained."""
    if manifest is None:
        return ["Model: no manifest beside the bundle; training settings unknown.", ""]
    steps = manifest.get("steps", {})
    trained = [
        f"{label} {_epochs(steps[kind].get('epoch'))}"
        + (" (stopped early)" if steps[kind].get("stopped_early") else "")
        for kind, (label, _) in STEPS.items()
        if kind in steps
    ]
    lines = [f"Model: trained {', '.join(trained)}."]
    for label, changed in departures(manifest).items():
        text = "; ".join(changed) if changed else "none (the paper's settings)"
        lines.append(f"Settings of {label} that differ from the paper's: {text}.")
    return [*lines, ""]


def _epochs(n: object) -> str:
    return f"for {n} epoch" + ("" if n == 1 else "s")


def _flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in config.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _text(value: Any) -> str:
    """Lists and tuples read alike (JSON has no tuples)."""
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_text(v) for v in value) + ")"
    return str(value)

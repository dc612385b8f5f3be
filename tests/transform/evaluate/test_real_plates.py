"""The cross-plate agreement measure, on a constructed pair of plates and on the real ones."""

from __future__ import annotations

import numpy as np
import pandas as pd

from transform.evaluate.command import REAL_DIR, REAL_PLATES
from transform.evaluate.real_plates import before_and_after, cross_plate_agreement, residuals
from transform.io import read_gct


def _plate(rng: np.random.Generator, effects: dict[str, np.ndarray], noise: float):
    names = ["DMSO"] * 8 + list(effects)
    meta = pd.DataFrame(
        {
            "pert_iname": names,
            "pert_type": ["ctl_vehicle"] * 8 + ["trt_cp"] * len(effects),
            "pert_dose": [-666.0] * 8 + [10.0] * len(effects),
        }
    )
    base = rng.normal(8.0, 1.0, (50, 1))
    values = base + rng.normal(0.0, noise, (50, len(names)))
    for column, name in enumerate(names):
        if name in effects:
            values[:, column] += effects[name]
    return values, meta


def test_strong_shared_effects_find_themselves_on_the_other_plate() -> None:
    rng = np.random.default_rng(0)
    effects = {f"c{i}": rng.normal(0.0, 2.0, 50) for i in range(6)}
    a, a_meta = _plate(rng, effects, 0.2)
    b, b_meta = _plate(rng, effects, 0.2)
    result = cross_plate_agreement(residuals(a, a_meta), a_meta, residuals(b, b_meta), b_meta)
    assert result.n_shared == 6
    assert result.top1 == 1.0
    assert result.same_r_median > 0.9 > abs(result.other_r_median) + 0.5


def test_noise_alone_finds_nothing() -> None:
    rng = np.random.default_rng(1)
    zero = {f"c{i}": np.zeros(50) for i in range(6)}
    a, a_meta = _plate(rng, zero, 1.0)
    b, b_meta = _plate(rng, zero, 1.0)
    result = cross_plate_agreement(residuals(a, a_meta), a_meta, residuals(b, b_meta), b_meta)
    assert result.median_rank > 1


def test_on_the_real_plates_shared_compounds_agree_across_plates() -> None:
    plates = [read_gct(REAL_DIR / name) for name in REAL_PLATES]
    table = before_and_after(plates, align=lambda p: p.values, transform=lambda x: x)
    before = table.iloc[0]
    assert before["n_shared"] >= 20
    assert before["same_r_median"] > before["other_r_median"] + 0.1

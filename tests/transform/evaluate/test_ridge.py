"""The ridge baseline (CMap-style linear inference): its closed form against least squares on the
augmented system, its held-out errors against plain fits, a known linear map recovered, alpha
chosen from the grid; and its two rows in the evaluation table."""

from __future__ import annotations

import numpy as np
import pytest

from tests.transform.evaluate.gtex_files import N_PAIRS, GtexPair, make_gtex_pair
from transform.evaluate.baselines import (
    ALPHA_SCALES,
    Ridge,
    RidgeSums,
    holdout_errors,
    holdout_mask,
)
from transform.evaluate.metrics import METRICS
from transform.evaluate.paired import load_paired
from transform.evaluate.run import (
    BASELINE,
    INFORMATIVE,
    LEVELS,
    RIDGE_ON_MEASURED,
    RIDGE_ON_STEP1,
    evaluate,
    fit_reference,
)
from transform.inference import TwoStepModel
from transform.io.level3 import open_level3


def _sums(x: np.ndarray, y: np.ndarray, chunk: int) -> RidgeSums:
    sums = RidgeSums.empty(len(x), len(y))
    for start in range(0, x.shape[1], chunk):
        sums.add(x[:, start : start + chunk], y[:, start : start + chunk])
    return sums


def _plain_fit(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """The definition in float64: coef = (Xc^T Xc + alpha I)^-1 Xc^T Yc, samples as rows."""
    xc, yc = (x - x.mean(1, keepdims=True)).T, (y - y.mean(1, keepdims=True)).T
    coef = np.linalg.inv(xc.T @ xc + alpha * np.eye(xc.shape[1])) @ xc.T @ yc
    return coef, y.mean(1) - coef.T @ x.mean(1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_closed_form_is_least_squares_on_the_augmented_system(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 2.0, (8, 50))
    y = rng.normal(0.0, 1.0, (5, 8)) @ x + rng.normal(1.0, 0.5, (5, 50))
    alpha = rng.uniform(0.1, 20.0)
    coef, intercept = Ridge.solve(_sums(x, y, chunk=7), alpha)  # sums added 7 samples at a time
    xc, yc = (x - x.mean(1, keepdims=True)).T, (y - y.mean(1, keepdims=True)).T
    augmented = np.vstack([xc, np.sqrt(alpha) * np.eye(8)])
    expected = np.linalg.lstsq(augmented, np.vstack([yc, np.zeros((8, 5))]), rcond=None)[0]
    np.testing.assert_allclose(coef, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(intercept, y.mean(1) - expected.T @ x.mean(1), rtol=1e-9)


@pytest.mark.parametrize("seed", [3, 4])
def test_the_held_out_errors_are_those_of_plain_fits_on_the_fitting_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(5.0, 1.0, (10, 90))
    y = rng.normal(0.0, 1.0, (6, 10)) @ x + rng.normal(0.0, 2.0, (6, 90))
    held = holdout_mask(90, seed=seed)
    errors = holdout_errors(
        _sums(x[:, ~held], y[:, ~held], 16), _sums(x[:, held], y[:, held], 4), ALPHA_SCALES
    )
    xf = x[:, ~held] - x[:, ~held].mean(1, keepdims=True)
    unit = np.trace(xf @ xf.T) / 10
    for scale in ALPHA_SCALES:
        coef, intercept = _plain_fit(x[:, ~held], y[:, ~held], scale * unit)
        residual = y[:, held] - intercept[:, None] - coef.T @ x[:, held]
        assert errors[scale] == pytest.approx(np.mean(residual**2), rel=1e-8), scale


def test_it_recovers_a_known_linear_map_on_noiseless_data() -> None:
    rng = np.random.default_rng(5)
    weights, offset = rng.normal(0.0, 1.0, (12, 7)), rng.normal(2.0, 1.0, 7)
    x = rng.normal(4.0, 1.5, (12, 200))
    ridge = Ridge.fit(x, offset[:, None] + weights.T @ x, seed=1)
    assert ridge.scale == min(ALPHA_SCALES)  # no noise: the least shrinkage predicts best
    np.testing.assert_allclose(ridge.coef, weights, atol=1e-3)
    fresh = rng.normal(4.0, 1.5, (12, 30))
    np.testing.assert_allclose(ridge.predict(fresh), offset[:, None] + weights.T @ fresh, atol=1e-2)


def test_alpha_is_the_grid_scale_with_the_least_held_out_error_refitted_on_all() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(0.0, 1.0, (15, 120))
    y = 0.3 * rng.normal(0.0, 1.0, (4, 15)) @ x + rng.normal(0.0, 3.0, (4, 120))
    ridge = Ridge.fit(x, y, seed=2)
    assert list(ridge.holdout_mse) == list(ALPHA_SCALES)
    assert ridge.scale == min(ridge.holdout_mse, key=ridge.holdout_mse.__getitem__)
    centred = x - x.mean(1, keepdims=True)
    assert ridge.alpha == pytest.approx(ridge.scale * np.trace(centred @ centred.T) / 15)
    coef, _ = _plain_fit(x, y, ridge.alpha)
    np.testing.assert_allclose(ridge.coef, coef, rtol=1e-8, atol=1e-12)
    noise = Ridge.fit(x, rng.normal(0.0, 1.0, (4, 120)), seed=2)
    assert noise.scale >= 100  # outputs unrelated to the inputs: shrink


def test_the_held_out_part_is_a_seeded_tenth() -> None:
    mask = holdout_mask(200, seed=3)
    assert mask.sum() == 20
    np.testing.assert_array_equal(mask, holdout_mask(200, seed=3))
    assert not np.array_equal(mask, holdout_mask(200, seed=4))
    assert holdout_mask(5).sum() == 1


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> GtexPair:
    return make_gtex_pair(tmp_path_factory.mktemp("gtex"))


def test_fitting_the_reference_in_chunks_gives_the_same_ridge(pair: GtexPair) -> None:
    model = TwoStepModel.load(pair.model)
    level3 = open_level3(pair.level3, gene_info=pair.gene_info)
    whole = fit_reference(model, pair.collection, level3, n=60, seed=0)
    chunked = fit_reference(model, pair.collection, level3, n=60, seed=0, chunk=7)
    assert chunked.ridge.scale == whole.ridge.scale
    np.testing.assert_allclose(chunked.ridge.coef, whole.ridge.coef, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(chunked.output_mean, whole.output_mean, rtol=1e-9)


def test_the_evaluation_table_has_both_ridge_rows_with_every_metric_finite(
    pair: GtexPair,
) -> None:
    model = TwoStepModel.load(pair.model)
    level3 = open_level3(pair.level3, gene_info=pair.gene_info)
    fitted = fit_reference(model, pair.collection, level3, n=60, seed=0)
    paired = load_paired(
        open_level3(pair.paired_l1000, gene_info=pair.gene_info),
        pair.counts,
        model.normalization.genes.symbols,
        pairs=pair.pairs,
    )
    result = evaluate(model, paired, fitted)
    rows = result.table.set_index("method")
    for method, role in ((RIDGE_ON_STEP1, BASELINE), (RIDGE_ON_MEASURED, INFORMATIVE)):
        assert (rows.loc[method, "level"], rows.loc[method, "role"]) == (LEVELS[1], role)
        assert np.isfinite(rows.loc[method, list(METRICS)].to_numpy(dtype=float)).all()
    assert result.truth.shape == (95, N_PAIRS)  # the output genes the counts hold
    assert result.truth_landmarks.shape == (39, N_PAIRS)

"""Evaluation metrics against a plain float64 reference, and golden values on tiny data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from transform.evaluate.baselines import (
    Reference,
    gene_shuffled,
    mean_profile,
    quantile_mapped,
    standardized,
    standardized_on_own_moments,
)
from transform.evaluate.metrics import prediction_metrics


def _pearson(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0


def _reference(pred: np.ndarray, truth: np.ndarray, centre: np.ndarray) -> dict[str, float]:
    genes, samples = range(pred.shape[0]), range(pred.shape[1])
    flat_p = [float(pred[g, s]) for g in genes for s in samples]
    flat_t = [float(truth[g, s]) for g in genes for s in samples]
    mse = sum((a - b) ** 2 for a, b in zip(flat_p, flat_t, strict=True)) / len(flat_p)
    column = lambda m, s, c=0: [float(m[g, s]) - (float(centre[g]) if c else 0.0) for g in genes]  # noqa: E731
    return {
        "global_pcc": _pearson(flat_p, flat_t),
        "sample_pcc": sum(_pearson(column(pred, s), column(truth, s)) for s in samples)
        / len(samples),
        "centred_sample_pcc": sum(
            _pearson(column(pred, s, 1), column(truth, s, 1)) for s in samples
        )
        / len(samples),
        "gene_pcc": sum(
            _pearson([float(pred[g, s]) for s in samples], [float(truth[g, s]) for s in samples])
            for g in genes
        )
        / len(genes),
        "mse": mse,
        "rmse": math.sqrt(mse),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_agree_with_a_plain_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.gamma(2.0, 1.0, (40, 12))
    pred = truth + rng.normal(0.0, 0.7, truth.shape)
    centre = truth.mean(axis=1) + rng.normal(0.0, 0.1, 40)
    ours = prediction_metrics(pred.astype(np.float32), truth.astype(np.float32), centre)
    expected = _reference(pred.astype(np.float32), truth.astype(np.float32), centre)
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, abs=1e-9), name


def test_golden_values_on_a_tiny_matrix() -> None:
    truth = np.array([[1.0, 2.0], [3.0, 5.0], [0.0, 1.0]])
    pred = np.array([[1.0, 3.0], [3.0, 4.0], [1.0, 1.0]])
    metrics = prediction_metrics(pred, truth, centre=np.array([1.5, 4.0, 0.5]))
    assert metrics["mse"] == pytest.approx(3 / 6)
    assert metrics["rmse"] == pytest.approx(math.sqrt(0.5))
    first, second = 30 / math.sqrt(24 * 42), 51 / math.sqrt(42 * 78)  # by hand, in ninths
    assert metrics["sample_pcc"] == pytest.approx((first + second) / 2)
    assert metrics["gene_pcc"] == pytest.approx((1.0 + 1.0 + 0.0) / 3)  # the third is constant


def test_the_mean_profile_scores_high_globally_and_zero_once_centred() -> None:
    rng = np.random.default_rng(3)
    gene_level = rng.uniform(0.0, 4.0, 500)
    truth = gene_level[:, None] + rng.normal(0.0, 0.3, (500, 30))
    metrics = prediction_metrics(mean_profile(30, gene_level), truth, centre=gene_level)
    assert metrics["global_pcc"] > 0.95
    assert metrics["centred_sample_pcc"] == 0.0
    assert metrics["gene_pcc"] == 0.0


def test_quantile_mapping_carries_each_genes_distribution_over() -> None:
    rng = np.random.default_rng(4)
    l1000 = rng.normal(8.0, 2.0, (3, 4000))
    rnaseq = np.vstack(
        [rng.normal(2.0, 0.5, 4000), rng.exponential(1.0, 4000), rng.uniform(0, 4, 4000)]
    )
    reference = Reference.fit(rnaseq, l1000)
    mapped = quantile_mapped(l1000[:, :1000], reference)
    for gene in range(3):
        assert np.quantile(mapped[gene], [0.1, 0.5, 0.9]) == pytest.approx(
            np.quantile(rnaseq[gene], [0.1, 0.5, 0.9]), abs=0.1
        )
    order = np.argsort(l1000[0, :1000])
    assert np.all(np.diff(mapped[0, order]) >= 0)  # monotone per gene


def test_standardization_takes_the_rnaseq_moments_and_shuffling_keeps_values() -> None:
    rng = np.random.default_rng(5)
    l1000 = rng.normal(9.0, 1.5, (20, 200))
    rnaseq = rng.normal(1.0, 0.4, (20, 300))
    out = standardized(l1000, Reference.fit(rnaseq, l1000))
    assert out.mean(axis=1) == pytest.approx(rnaseq.mean(axis=1))
    assert out.std(axis=1) == pytest.approx(rnaseq.std(axis=1))
    shuffled = gene_shuffled(out, seed=1)
    assert sorted(shuffled.sum(axis=1)) == pytest.approx(sorted(out.sum(axis=1)))
    assert not np.array_equal(shuffled, out)


def test_standardizing_uses_the_l1000_collection_or_the_evaluated_profiles() -> None:
    rng = np.random.default_rng(6)
    collection = rng.normal(9.0, 1.5, (20, 400))
    shifted = rng.normal(11.0, 0.5, (20, 50))  # evaluated profiles unlike the collection
    rnaseq = rng.normal(1.0, 0.4, (20, 300))
    reference = Reference.fit(rnaseq, collection)
    plain = standardized(shifted, reference)
    expected = (shifted - collection.mean(1, keepdims=True)) / collection.std(1, keepdims=True)
    assert plain == pytest.approx(
        expected * rnaseq.std(1, keepdims=True) + rnaseq.mean(1, keepdims=True)
    )
    own = standardized_on_own_moments(shifted, reference)
    assert own.mean(axis=1) == pytest.approx(rnaseq.mean(axis=1))
    assert own.std(axis=1) == pytest.approx(rnaseq.std(axis=1))

"""RNA-seq normalization: CPM, log10(CPM + 1), quantile normalization (in memory and chunked)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from transform.normalize import (
    EmptySampleError,
    QuantileReference,
    average_ranks,
    cpm,
    fit_quantile_reference,
    log_cpm,
    normalize_rnaseq,
    normalize_rnaseq_chunked,
    quantile_map,
    quantile_normalize,
    quantile_normalize_chunked,
)

AIRWAY_COUNTS = Path(__file__).resolve().parents[1] / "data" / "rnaseq" / "airway_rawcounts.csv"


def loop_quantile_normalize(values: np.ndarray) -> np.ndarray:
    """Plain float64 reference: mean of sorted columns, ties take the mean over their ranks."""
    n_rows, n_cols = values.shape
    sorted_cols = [sorted(float(v) for v in values[:, j]) for j in range(n_cols)]
    target = [sum(sorted_cols[j][i] for j in range(n_cols)) / n_cols for i in range(n_rows)]
    result = np.empty((n_rows, n_cols))
    for j in range(n_cols):
        for i in range(n_rows):
            ranks = [r for r in range(n_rows) if sorted_cols[j][r] == values[i, j]]
            result[i, j] = sum(target[r] for r in ranks) / len(ranks)
    return result


def loop_log_cpm(counts: np.ndarray) -> np.ndarray:
    result = np.empty(counts.shape)
    for j in range(counts.shape[1]):
        total = sum(float(c) for c in counts[:, j])
        for i in range(counts.shape[0]):
            result[i, j] = np.log10(float(counts[i, j]) / total * 1e6 + 1.0)
    return result


def tied_counts(seed: int, n_genes: int = 150, n_samples: int = 12) -> np.ndarray:
    """Negative-binomial counts with small means: mostly zeros and small integers, many ties."""
    rng = np.random.default_rng(seed)
    means = rng.lognormal(mean=0.5, sigma=1.5, size=(n_genes, 1))
    counts = rng.negative_binomial(n=2, p=2 / (2 + means), size=(n_genes, n_samples))
    counts[:5] = 0  # genes absent from every sample
    return counts


def chunks_of(matrix: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, matrix.shape[1], size):
        yield matrix[:, start : start + size]


def test_the_classic_worked_example_gives_the_hand_computed_matrix() -> None:
    values = np.array([[5, 4, 3], [2, 1, 4], [3, 4, 6], [4, 2, 8]], dtype=float)
    # Sorted columns (2,3,4,5), (1,2,4,4), (3,4,6,8): reference means 2, 3, 14/3, 17/3.
    # The two 4s of column 2 share ranks 3 and 4, so both take (14/3 + 17/3) / 2 = 31/6.
    expected = np.array(
        [
            [17 / 3, 31 / 6, 2.0],
            [2.0, 2.0, 3.0],
            [3.0, 31 / 6, 14 / 3],
            [14 / 3, 3.0, 17 / 3],
        ]
    )
    np.testing.assert_allclose(quantile_normalize(values, dtype=np.float64), expected, atol=1e-15)
    np.testing.assert_allclose(fit_quantile_reference([values]), [2, 3, 14 / 3, 17 / 3], atol=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_it_agrees_with_the_loop_reference_on_counts_with_many_ties(seed: int) -> None:
    counts = tied_counts(seed)
    assert np.mean(counts == 0) > 0.3
    result = quantile_normalize(counts, dtype=np.float64)
    np.testing.assert_allclose(result, loop_quantile_normalize(counts), rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", [3, 4])
def test_the_full_pipeline_agrees_with_the_loop_reference(seed: int) -> None:
    counts = tied_counts(seed)
    expected = loop_quantile_normalize(loop_log_cpm(counts))
    result = normalize_rnaseq(counts, dtype=np.float64)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12)


def test_average_ranks_give_tied_values_their_mean_rank() -> None:
    values = np.array([[10.0, 0.0], [20.0, 0.0], [10.0, 5.0], [30.0, 0.0]])
    expected = np.array([[1.5, 2.0], [3.0, 2.0], [1.5, 4.0], [4.0, 2.0]])
    np.testing.assert_array_equal(average_ranks(values), expected)


def test_the_output_is_float32_by_default() -> None:
    counts = tied_counts(5, n_genes=20, n_samples=4)
    for result in (
        cpm(counts),
        log_cpm(counts),
        quantile_normalize(counts),
        normalize_rnaseq(counts),
    ):
        assert result.dtype == np.float32
        assert result.shape == counts.shape


def test_cpm_columns_sum_to_a_million() -> None:
    counts = tied_counts(6)
    np.testing.assert_allclose(cpm(counts, dtype=np.float64).sum(axis=0), 1e6, rtol=1e-12)
    np.testing.assert_allclose(
        log_cpm(counts, dtype=np.float64), np.log10(cpm(counts, dtype=float) + 1)
    )


def test_it_refuses_samples_without_counts_and_names_them() -> None:
    counts = tied_counts(7, n_genes=10, n_samples=6)
    counts[:, [1, 4]] = 0
    with pytest.raises(EmptySampleError, match=r"2 sample\(s\).*columns 1, 4"):
        cpm(counts)
    ids = [f"SRR{i}" for i in range(6)]
    with pytest.raises(EmptySampleError, match="SRR1, SRR4"):
        normalize_rnaseq(counts, sample_ids=ids)


def test_the_chunked_pipeline_names_empty_samples_by_their_global_column() -> None:
    counts = tied_counts(8, n_genes=10, n_samples=9)
    counts[:, 7] = 0
    with pytest.raises(EmptySampleError, match=r"columns 7$"):
        normalize_rnaseq_chunked(lambda: chunks_of(counts, 3))


@pytest.mark.parametrize("bad", [np.array([[1.0, -1.0]]), np.array([[1.0, np.nan]]), np.ones(3)])
def test_it_refuses_negative_missing_or_one_dimensional_counts(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"non-negative|finite|matrix"):
        cpm(bad)


@pytest.mark.parametrize("chunk_size", [1, 4, 7, 12, 50])
def test_chunked_quantile_normalization_equals_the_in_memory_result(chunk_size: int) -> None:
    values = log_cpm(tied_counts(9, n_samples=12), dtype=np.float64)
    reference, blocks = quantile_normalize_chunked(
        lambda: chunks_of(values, chunk_size), dtype=np.float64
    )
    blocks = list(blocks)
    assert [b.shape[1] for b in blocks] == [b.shape[1] for b in chunks_of(values, chunk_size)]
    expected = quantile_normalize(values, dtype=np.float64)
    np.testing.assert_allclose(np.hstack(blocks), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(reference, fit_quantile_reference([values]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("chunk_size", [2, 5, 13])
def test_the_chunked_rnaseq_pipeline_equals_the_in_memory_one(chunk_size: int) -> None:
    counts = tied_counts(10, n_samples=13)
    _, blocks = normalize_rnaseq_chunked(lambda: chunks_of(counts, chunk_size))
    result = np.hstack(list(blocks))
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, normalize_rnaseq(counts), rtol=0, atol=1e-6)


def test_the_reference_accumulates_chunk_by_chunk() -> None:
    values = tied_counts(11).astype(float)
    accumulator = QuantileReference()
    for chunk in chunks_of(values, 5):
        accumulator.update(chunk)
    assert accumulator.n_samples == values.shape[1]
    expected = np.sort(values, axis=0).mean(axis=1)
    np.testing.assert_allclose(accumulator.finalize(), expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="genes"):
        accumulator.update(values[:-1])
    with pytest.raises(ValueError, match="no samples"):
        QuantileReference().finalize()


def test_a_stored_reference_maps_a_new_sample_exactly_as_in_the_fit(tmp_path: Path) -> None:
    counts = tied_counts(12, n_samples=10)
    reference, blocks = normalize_rnaseq_chunked(lambda: chunks_of(counts, 4))
    fitted = np.hstack(list(blocks))
    np.save(tmp_path / "reference.npy", reference)
    stored = np.load(tmp_path / "reference.npy")
    for j in range(counts.shape[1]):
        alone = quantile_map(log_cpm(counts[:, [j]], dtype=np.float64), stored)
        np.testing.assert_array_equal(alone[:, 0], fitted[:, j])
    _, again = normalize_rnaseq_chunked(lambda: chunks_of(counts[:, 6:], 1), reference=stored)
    np.testing.assert_array_equal(np.hstack(list(again)), fitted[:, 6:])


def test_quantile_map_refuses_a_reference_that_does_not_fit() -> None:
    values = np.arange(12.0).reshape(4, 3)
    with pytest.raises(ValueError, match="4 genes"):
        quantile_map(values, np.arange(5.0))
    with pytest.raises(ValueError, match="ascending"):
        quantile_map(values, np.array([3.0, 2.0, 1.0, 0.0]))


@pytest.fixture(scope="module")
def airway_normalized() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    counts = pd.read_csv(AIRWAY_COUNTS, index_col=0).to_numpy()
    values = log_cpm(counts, dtype=np.float64)
    return counts, normalize_rnaseq(counts, dtype=np.float64), fit_quantile_reference([values])


def test_real_counts_get_one_distribution_up_to_tie_averaging(
    airway_normalized: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    counts, result, reference = airway_normalized
    assert counts.shape == (64102, 8)
    for j in range(result.shape[1]):
        column = np.sort(counts[:, j])
        untied = np.ones(column.size, dtype=bool)
        untied[1:] &= column[1:] != column[:-1]
        untied[:-1] &= column[:-1] != column[1:]
        assert untied.sum() > 1000
        np.testing.assert_allclose(np.sort(result[:, j])[untied], reference[untied], atol=1e-12)
    np.testing.assert_allclose(result.sum(axis=0), reference.sum(), rtol=1e-12)


def test_real_counts_land_on_the_papers_scale(
    airway_normalized: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    counts, result, reference = airway_normalized
    assert result.min() == 0.0
    assert result.max() < 5.0
    assert reference[-1] == pytest.approx(4.215643172684334, abs=1e-12)  # golden value
    absent = result[counts.sum(axis=1) == 0]  # zeros share the mean of their ranks' references
    assert np.all(absent == absent[0])
    assert absent.max() < 1e-3

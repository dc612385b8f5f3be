from __future__ import annotations

import numpy as np
import pytest

from search.engine import scores
from search.engine.backends import compiled, cpu
from search.engine.metadata import Selection


@pytest.fixture(scope="module")
def ranks() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.stack([rng.permutation(np.arange(1, 401, dtype=np.uint16)) for _ in range(70_000)]).T


def selections(n: int) -> dict[str, Selection]:
    sparse = np.sort(np.random.default_rng(1).choice(n, 300, replace=False))
    dense = np.arange(1000, 40_000, 2)
    sparse_selection = Selection(sparse, int(sparse[0]), int(sparse[-1]) + 1)
    return {
        "all": Selection.every(n),
        "sparse": sparse_selection,
        "dense span": Selection(dense, 1000, 39_999),
    }


@pytest.mark.parametrize("n_genes", [1, 2, 7, 16, 33, 250])
@pytest.mark.parametrize("threads", [1, 2])
def test_set_sums_gather_exact_integer_sums(ranks: np.ndarray, n_genes: int, threads: int) -> None:
    genes = np.random.default_rng(n_genes).choice(ranks.shape[0], n_genes, replace=False)
    for name, selection in selections(ranks.shape[1]).items():
        expected = ranks[genes][:, selection.positions].astype(np.int64).sum(axis=0)
        got = cpu.set_sums(ranks, genes, selection, threads)
        assert got.dtype == np.uint32, name
        assert np.array_equal(got, expected), name


def test_the_largest_rank_sums_do_not_overflow() -> None:
    top = np.full((2000, 10), 32767, dtype=np.uint16)
    got = cpu.set_sums(top, np.arange(2000), Selection.every(10))
    assert (got == 2000 * 32767).all()


def test_float_values_sum_in_float64() -> None:
    values = np.random.default_rng(2).standard_normal((50, 1000)).astype(np.float32)
    genes = np.array([3, 9, 10, 44])
    got = cpu.set_sums(values, genes, Selection.every(1000))
    assert got.dtype == np.float64
    assert np.allclose(got, values[genes].astype(np.float64).sum(axis=0), rtol=1e-12)


def test_dense_and_flat_products_agree(ranks: np.ndarray) -> None:
    weights = np.random.default_rng(3).standard_normal(ranks.shape[0])
    for name, selection in selections(ranks.shape[1]).items():
        expected = weights @ ranks[:, selection.positions].astype(np.float64)
        dense = cpu.dense_products(ranks, weights, selection, threads=2)
        assert np.allclose(dense, expected, rtol=1e-12), name
    few = selections(ranks.shape[1])["sparse"]
    flat = np.ascontiguousarray(ranks[:, : few.stop].T.astype(np.float32))
    got = cpu.flat_products(flat, weights[None].astype(np.float32), few)[0]
    assert np.allclose(got, weights @ ranks[:, few.positions].astype(np.float64), rtol=1e-4)
    columns = cpu.column_products(ranks, weights, few.positions[::-1].copy())
    assert np.allclose(columns, weights @ ranks[:, few.positions[::-1]].astype(np.float64))


def test_compiled_rank_sums_over_spans_and_scattered_columns(ranks: np.ndarray) -> None:
    rng = np.random.default_rng(4)
    genes = np.sort(rng.choice(ranks.shape[0], 37, replace=False))
    for start, stop in ((0, ranks.shape[1]), (5, 5 + compiled.BLOCK), (1, 2 * compiled.BLOCK + 3)):
        out = np.empty(stop - start, dtype=np.uint32)
        compiled.rank_sums(ranks, genes, start, stop, out)
        assert np.array_equal(out, ranks[genes, start:stop].astype(np.int64).sum(axis=0))
    positions = np.sort(rng.choice(ranks.shape[1], 3 * compiled.BLOCK // 2, replace=False))
    out = np.empty(positions.size, dtype=np.uint32)
    compiled.rank_sums_at(ranks, genes, positions, out)
    assert np.array_equal(out, ranks[genes][:, positions].astype(np.int64).sum(axis=0))


def test_a_wide_sparse_selection_is_gathered_column_by_column(ranks: np.ndarray) -> None:
    positions = np.arange(3, ranks.shape[1], 5)  # too sparse to read the span
    selection = Selection(positions, 3, int(positions[-1]) + 1)
    genes = np.arange(ranks.shape[0])[::-1].copy()
    assert not selection.read_span
    got = cpu.set_sums(ranks, genes, selection)
    assert np.array_equal(got, ranks[genes][:, positions].astype(np.int64).sum(axis=0))
    values = ranks[:, : selection.stop].astype(np.float32)  # CD values: numpy, row by row
    assert selection.size * genes.size > cpu.SMALL_GATHER
    got = cpu.set_sums(values, genes, selection)
    assert np.array_equal(got, ranks[genes][:, positions].astype(np.float64).sum(axis=0))


@pytest.mark.parametrize("m", [1, 5, 100, 999, 1000])
def test_largest_finds_the_m_largest_values_ties_included(m: int) -> None:
    values = np.random.default_rng(m).integers(0, 50, 1000).astype(np.float64)  # many ties
    got = compiled.largest(values, m)
    assert np.unique(got).size == m
    assert np.array_equal(np.sort(values[got]), np.sort(values)[-m:])


@pytest.mark.parametrize("sign", [0, 1, -1])
def test_z_sum_keys_are_set_z_bit_for_bit(sign: int) -> None:
    rng = np.random.default_rng(5)
    n_genes, n_up, n_down = 978, 40, 25
    sum_up, sum_down = (rng.integers(n * 10, n * 900, 5000).astype(np.uint32) for n in (40, 25))
    mean, var = scores.rank_moments(n_genes)
    z_up = scores.set_z(sum_up, n_up, n_genes, mean, var)
    z_down = scores.set_z(sum_down, n_down, n_genes, mean, var)
    expected = {0: np.abs(z_up - z_down), 1: z_up - z_down, -1: -(z_up - z_down)}[sign]
    sides = [np.array([1.0, *scores.set_null(n, n_genes, mean, var)]) for n in (n_up, n_down)]
    keys, abs_up, abs_down = np.empty(5000), np.empty(5000), np.empty(5000)
    compiled.z_sum_keys(sum_up, sum_down, sides[0], sides[1], sign, keys, abs_up, abs_down)
    assert np.array_equal(keys, expected)
    assert np.array_equal(abs_up, np.abs(z_up))
    assert np.array_equal(abs_down, np.abs(z_down))
    compiled.z_sum_keys(
        sum_up, sum_down, sides[0], np.array([0.0, 0.0, 1.0]), sign, keys, abs_up, abs_down
    )
    assert np.array_equal(keys, {0: np.abs(z_up), 1: z_up, -1: -z_up}[sign])
    assert np.array_equal(abs_up, np.abs(z_up))
    assert not abs_down.any()


def test_row_products_are_the_scattered_rows_inner_products() -> None:
    rng = np.random.default_rng(6)
    matrix = rng.standard_normal((3000, 64)).astype(np.float32)
    rows = rng.integers(-1, 3000, 700)  # -1: no row (FAISS's empty answer)
    query = rng.standard_normal(64).astype(np.float32)
    out = np.empty(rows.size, dtype=np.float32)
    compiled.row_products(matrix, rows, query, out)
    expected = np.where(rows >= 0, matrix[rows].astype(np.float64) @ query, 0.0)
    assert np.allclose(out, expected, rtol=1e-5, atol=1e-4)
    assert (out[rows < 0] == 0).all()

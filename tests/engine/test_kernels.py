from __future__ import annotations

import numpy as np
import pytest

from search.engine import kernels
from search.engine.metadata import Selection


@pytest.fixture(scope="module")
def ranks() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.stack([rng.permutation(np.arange(1, 401, dtype=np.uint16)) for _ in range(70_000)]).T


def selections(n: int) -> dict[str, Selection]:
    sparse = np.sort(np.random.default_rng(1).choice(n, 300, replace=False))
    dense = np.arange(1000, 40_000, 2)
    sparse_selection = Selection(sparse, int(sparse[0]), int(sparse[-1]) + 1)
    return {"all": Selection.every(n), "sparse": sparse_selection,
            "dense span": Selection(dense, 1000, 39_999)}  # fmt: skip


@pytest.mark.parametrize("n_genes", [1, 2, 7, 250])
@pytest.mark.parametrize("threads", [1, 2])
def test_set_sums_gather_exact_integer_sums(ranks: np.ndarray, n_genes: int, threads: int) -> None:
    genes = np.random.default_rng(n_genes).choice(ranks.shape[0], n_genes, replace=False)
    for name, selection in selections(ranks.shape[1]).items():
        expected = ranks[genes][:, selection.positions].astype(np.int64).sum(axis=0)
        got = kernels.set_sums(ranks, genes, selection, threads)
        assert got.dtype == np.uint32, name
        assert np.array_equal(got, expected), name


def test_the_largest_rank_sums_do_not_overflow() -> None:
    top = np.full((2000, 10), 32767, dtype=np.uint16)
    got = kernels.set_sums(top, np.arange(2000), Selection.every(10))
    assert (got == 2000 * 32767).all()


def test_float_values_sum_in_float64() -> None:
    values = np.random.default_rng(2).standard_normal((50, 1000)).astype(np.float32)
    genes = np.array([3, 9, 10, 44])
    got = kernels.set_sums(values, genes, Selection.every(1000))
    assert got.dtype == np.float64
    assert np.allclose(got, values[genes].astype(np.float64).sum(axis=0), rtol=1e-12)


def test_dense_and_flat_products_agree(ranks: np.ndarray) -> None:
    weights = np.random.default_rng(3).standard_normal(ranks.shape[0])
    for name, selection in selections(ranks.shape[1]).items():
        expected = weights @ ranks[:, selection.positions].astype(np.float64)
        dense = kernels.dense_products(ranks, weights, selection, threads=2)
        assert np.allclose(dense, expected, rtol=1e-12), name
    few = selections(ranks.shape[1])["sparse"]
    flat = np.ascontiguousarray(ranks[:, : few.stop].T.astype(np.float32))
    got = kernels.flat_products(flat, weights[None].astype(np.float32), few)[0]
    assert np.allclose(got, weights @ ranks[:, few.positions].astype(np.float64), rtol=1e-4)
    columns = kernels.column_products(ranks, weights, few.positions[::-1].copy())
    assert np.allclose(columns, weights @ ranks[:, few.positions[::-1]].astype(np.float64))

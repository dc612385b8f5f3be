"""The signature-level metrics, each against a plain reference written from its definition on a
tiny index (loops, np.corrcoef of ranks, an SVD), and retrieval against the rank test's formula."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from search.engine.build import build_index
from search.engine.index import SearchIndex
from search.engine.sources import FrameSource
from tests.engine.reference import reference_scores
from transform.evaluate.comparisons import wilson_interval
from transform.evaluate.signature_level import (
    EVAL_BUILD,
    RANK_BLOCK,
    Query,
    centred_ranks,
    cross_batch_retrieval,
    cut_to,
    random_queries,
    replicate_retrieval,
    retrieval_ranks,
    retrieval_row,
    signature_collapse,
    spearman_columns,
    true_queries,
)
from transform.evaluate.signature_sets import top_variance

N_GENES, N_PERTS, PER_PERT = 300, 8, 4


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """(index, values, metadata, effects): signatures that are their perturbation's effect plus
    noise; the effects as the truth."""
    rng = np.random.default_rng(3)
    effects = rng.standard_normal((N_GENES, N_PERTS))
    perts = np.repeat(np.arange(N_PERTS), PER_PERT)
    values = effects[:, perts] + 1.5 * rng.standard_normal((N_GENES, perts.size))
    meta = pd.DataFrame(
        {
            "sig_id": [f"S{i:03d}" for i in range(perts.size)],
            "pert_id": [f"P{p}" for p in perts],
            "pert_type": "trt_cp",
            "cell_id": "A375",
        }
    )
    genes = [f"G{g:03d}" for g in range(N_GENES)]
    folder = tmp_path_factory.mktemp("tiny-index")
    build_index(FrameSource(pd.DataFrame(values, index=genes), meta), folder, EVAL_BUILD)
    frame = pd.DataFrame(effects, index=genes, columns=[f"P{p}" for p in range(N_PERTS)])
    return SearchIndex.open(folder), values, meta, frame


def test_true_queries_are_each_perturbations_most_raised_and_lowered_genes(tiny) -> None:
    *_, effects = tiny
    queries = true_queries(effects, ["P2"], 5)
    column = effects["P2"]
    assert set(queries[0].up) == set(column.nlargest(5).index)
    assert set(queries[0].down) == set(column.nsmallest(5).index)
    cut = cut_to(queries, [*list(queries[0].up[:2]), "G999"])
    assert cut[0].up == queries[0].up[:2]
    assert cut[0].down == ()


def test_retrieval_ranks_follow_the_rank_test_over_every_signature(tiny) -> None:
    index, values, meta, effects = tiny
    queries = true_queries(effects, list(effects.columns), 20)
    ranks, firsts = retrieval_ranks(index, queries)
    genes = list(effects.index)
    for query, rank, first in zip(queries, ranks, firsts, strict=True):
        table = reference_scores(
            values.astype(np.float64),
            [genes.index(g) for g in query.up],
            [genes.index(g) for g in query.down],
        )
        z = table["z_sum"].to_numpy()
        mine = (meta["pert_id"] == query.pert_id).to_numpy()
        best = z[mine].max()
        assert rank == 1 + np.sum(z > best)  # no ties in this data at these places
        assert first == meta["sig_id"].iloc[int(np.argmax(z))]


def test_retrieval_by_tau_orders_the_signatures_by_their_specificity(tiny) -> None:
    """tau from its definition (the share of the signature's reference |z_sum| below its |z_sum|,
    signed), the signatures ordered by it, ties by z_sum."""
    index, values, meta, effects = tiny
    queries = true_queries(effects, list(effects.columns), 20)
    ranks, firsts = retrieval_ranks(index, queries, by="tau")
    genes = list(effects.index)
    for query, rank, first in zip(queries, ranks, firsts, strict=True):
        table = reference_scores(
            values.astype(np.float64),
            [genes.index(g) for g in query.up],
            [genes.index(g) for g in query.down],
        )
        z = table["z_sum"].to_numpy()
        refs = index.specificity.astype(np.float64)  # signatures in index order = meta order
        below = (refs < np.abs(z)[:, None]).sum(axis=1) + 0.5 * (refs == np.abs(z)[:, None]).sum(
            axis=1
        )
        taus = np.sign(z) * 100 * below / refs.shape[1]
        order = np.lexsort((-z, -taus))
        ids = meta["sig_id"].to_numpy()[order]
        perts = meta["pert_id"].to_numpy()[order]
        assert first == ids[0]
        assert rank == 1 + np.flatnonzero(perts == query.pert_id)[0]


def test_a_query_with_no_gene_in_the_index_is_counted_not_dropped(tiny) -> None:
    index, *_ = tiny
    ranks, firsts = retrieval_ranks(index, [Query("P0", ("NOPE",), ())])
    assert np.isnan(ranks[0])
    assert firsts == [""]
    row = retrieval_row(np.array([1, 3, 12, np.nan]), ["a", "a", "b", ""])
    assert row["queries"] == "3/4"
    assert (row["top1"], row["top5"], row["top10"]) == (
        pytest.approx(1 / 3),
        pytest.approx(2 / 3),
        pytest.approx(2 / 3),
    )
    assert row["median_rank"] == 3
    assert row["same_first"] == pytest.approx(2 / 3)
    # the intervals are of the scored queries' shares: 1 of 3 in the top 1, 2 of 3 in the top 10
    assert row["top1 95% CI"] == "{:.2f}-{:.2f}".format(*wilson_interval(1, 3))
    assert row["top10 95% CI"] == "{:.2f}-{:.2f}".format(*wilson_interval(2, 3))


def test_random_queries_keep_the_sizes_and_draw_without_repeats(tiny) -> None:
    *_, effects = tiny
    queries = true_queries(effects, ["P0", "P1"], 7)
    drawn = random_queries(queries, list(effects.index), seed=1)
    for r in drawn:
        assert (len(r.up), len(r.down)) == (7, 7)
        assert len(set(r.up) | set(r.down)) == 14


def _plain_rank(x: np.ndarray) -> np.ndarray:
    order = sorted(range(len(x)), key=lambda i: (x[i], i))
    ranks = np.empty(len(x))
    for position, i in enumerate(order):
        ranks[i] = position
    return ranks


def test_spearman_is_the_pearson_correlation_of_ranks() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((50, 6)), rng.standard_normal((50, 6))
    b[:, 0] = a[:, 0] ** 3  # a monotone transform: rho = 1
    expected = [np.corrcoef(_plain_rank(a[:, j]), _plain_rank(b[:, j]))[0, 1] for j in range(6)]
    assert np.allclose(spearman_columns(a, b), expected)
    assert spearman_columns(a, b)[0] == pytest.approx(1.0)


def test_spearman_and_centred_ranks_over_several_blocks_of_columns() -> None:
    rng = np.random.default_rng(9)
    n = 2 * RANK_BLOCK + 3  # two whole blocks and a short one
    a, b = rng.standard_normal((20, n)), rng.standard_normal((20, n))
    expected = [np.corrcoef(_plain_rank(a[:, j]), _plain_rank(b[:, j]))[0, 1] for j in range(n)]
    assert np.allclose(spearman_columns(a, b), expected)
    plain = np.stack([_plain_rank(a[:, j]) - 9.5 for j in range(n)], axis=1)  # ranks 0..19
    assert np.array_equal(centred_ranks(a), plain)


def test_the_top_variance_is_the_first_squared_singular_values() -> None:
    rng = np.random.default_rng(5)
    for shape in ((40, 12), (12, 40)):
        x = rng.standard_normal(shape)
        singular = np.linalg.svd(x, compute_uv=False) ** 2
        top, total = top_variance(x, k=3)
        assert top == pytest.approx(singular[:3].sum())
        assert total == pytest.approx((x**2).sum())


def test_signature_collapse_takes_each_batchs_mean_out_and_sums_the_batches() -> None:
    rng = np.random.default_rng(6)
    values = rng.standard_normal((30, 20))
    batches = pd.Series(["a"] * 8 + ["b"] * 12)
    top = total = 0.0
    for batch in ("a", "b"):
        part = values[:, (batches == batch).to_numpy()]
        part = part - part.mean(axis=1, keepdims=True)
        singular = np.linalg.svd(part, compute_uv=False) ** 2
        top, total = top + singular[:5].sum(), total + singular.sum()
    assert signature_collapse(values, batches) == pytest.approx(top / total)


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(_plain_rank(a), _plain_rank(b))[0, 1])


def test_replicate_retrieval_ranks_each_signature_among_the_next_plates() -> None:
    rng = np.random.default_rng(7)
    base = rng.standard_normal((60, 5))
    plate = ["X1"] * 5 + ["X2"] * 5 + ["X3"] * 5
    plates = pd.DataFrame({"sig_id": [f"s{i}" for i in range(5)] * 3, "plate": plate, "batch": "B"})
    values = np.concatenate([base + rng.standard_normal((60, 5)) * s for s in (0.5, 1.0, 3.0)], 1)
    ranks = []
    for first, second in (("X1", "X2"), ("X2", "X3")):
        a = np.flatnonzero(plates["plate"] == first)
        b = np.flatnonzero(plates["plate"] == second)
        for i, at in enumerate(a):
            rho = [_rho(values[:, at], values[:, other]) for other in b]
            ranks.append(1 + sum(r > rho[i] for r in rho))
    found = replicate_retrieval(values, plates)
    assert found["pairs"] == 10
    assert found["top1"] == pytest.approx(np.mean(np.array(ranks) == 1))
    assert found["median_rank"] == np.median(ranks)


def test_cross_batch_retrieval_ranks_the_perturbations_best_signature_in_each_other_batch() -> None:
    rng = np.random.default_rng(8)
    table = pd.DataFrame(
        {"batch": ["A"] * 4 + ["B"] * 5, "pert_id": ["p", "q", "r", "s", "q", "p", "t", "p", "u"]}
    )
    values = rng.standard_normal((40, 9))
    ranks = []
    for i in range(9):
        other = np.flatnonzero(table["batch"] != table["batch"][i])
        same = [j for j in other if table["pert_id"][j] == table["pert_id"][i]]
        if not same:
            continue
        best = max(_rho(values[:, i], values[:, j]) for j in same)
        ranks.append(1 + sum(_rho(values[:, i], values[:, j]) > best for j in other))
    found = cross_batch_retrieval(values, table)
    assert found["pairs"] == len(ranks) == 5  # p (1 in A, 2 in B) and q (1 and 1); no others
    assert found["median_rank"] == np.median(ranks)
    assert math.isclose(found["top10"], 1.0)

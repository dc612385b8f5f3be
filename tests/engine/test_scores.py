from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from search.engine import scores
from tests.engine.reference import null_sd, reference_bh


def test_the_rank_z_is_the_design_formula_on_a_worked_example() -> None:
    # G = 10 genes, up set {rank 10, rank 9, rank 8}: S = 27, n(G+1)/2 = 16.5,
    # sd = sqrt(3 * 7 * 11 / 12) = sqrt(19.25)
    mean, var = scores.rank_moments(10)
    z = scores.set_z(np.array([27.0]), 3, 10, mean, var)
    assert z[0] == pytest.approx(10.5 / math.sqrt(19.25), rel=1e-15)


def test_an_empty_set_has_no_z() -> None:
    assert np.isnan(scores.set_z(np.zeros(3), 0, 10, 5.5, 8.25)).all()


@pytest.mark.parametrize(("n_up", "n_down"), [(2, 3), (1, 1), (3, 0)])
def test_the_null_sd_of_z_sum_is_exact_over_every_permutation(n_up: int, n_down: int) -> None:
    g = 7
    up, down = list(range(n_up)), list(range(n_up, n_up + n_down))
    values = np.random.default_rng(3).standard_normal(g)  # any vector: the CD score's case
    mean, var = values.mean(), values.var()
    z_sums = []
    for perm in itertools.permutations(values):
        dealt = np.array(perm)
        z_up = scores.set_z(dealt[up].sum(), n_up, g, mean, var) if up else 0.0
        z_down = scores.set_z(dealt[down].sum(), n_down, g, mean, var) if down else 0.0
        z_sums.append(float(z_up) - float(z_down))
    assert np.mean(z_sums) == pytest.approx(0, abs=1e-12)
    assert np.std(z_sums) == pytest.approx(scores.z_sum_sd(g, n_up, n_down), rel=1e-12)
    assert null_sd(g, up, down) == pytest.approx(scores.z_sum_sd(g, n_up, n_down), rel=1e-12)


def test_the_two_sided_p_agrees_with_math_erfc_from_centre_to_far_tail() -> None:
    z = np.concatenate([np.linspace(0, 8, 2001), np.linspace(8, 37, 300), -np.linspace(0, 5, 50)])
    exact = np.array([math.erfc(abs(v) / math.sqrt(2)) for v in z])
    assert np.allclose(scores.two_sided_p(z), exact, rtol=1.3e-7, atol=0)


def test_bh_matches_its_definition_with_ties() -> None:
    p = np.random.default_rng(0).uniform(0, 0.2, 500).round(3)
    assert np.allclose(scores.bh_fdr(p), reference_bh(p), rtol=1e-14)


@pytest.mark.parametrize("kind", ["strong hits", "moderate hits", "null"])
def test_fdr_of_the_top_avoids_a_full_sort_yet_equals_full_bh(kind: str) -> None:
    rng = np.random.default_rng(1)
    n = 200_000
    z = rng.standard_normal(n)
    if kind == "strong hits":
        z[:50] += 12
    elif kind == "moderate hits":
        z[:400] += 4.2
    abs_z = np.abs(z)
    picks = np.argsort(-abs_z, kind="stable")[:100]
    expected = scores.bh_fdr(scores.two_sided_p(abs_z))[picks]
    assert np.allclose(scores.fdr_for(abs_z, picks), expected, rtol=1e-12, atol=0)
    tail = picks[::-1][:5]  # picks that are not the largest
    assert np.allclose(scores.fdr_for(abs_z, tail), scores.bh_fdr(scores.two_sided_p(abs_z))[tail])


def test_fdr_of_a_pick_outside_the_top_falls_back_to_the_full_sort() -> None:
    abs_z = np.abs(np.random.default_rng(2).standard_normal(100_000))
    picks = np.array([0, 1, 2])
    expected = scores.bh_fdr(scores.two_sided_p(abs_z))[picks]
    assert np.allclose(scores.fdr_for(abs_z, picks), expected, rtol=1e-12)


def test_the_sorted_fallback_equals_full_bh_with_ties_and_scattered_picks() -> None:
    rng = np.random.default_rng(3)
    abs_z = np.abs(rng.standard_normal(150_000)).round(2)  # many tied p-values
    abs_z[:30] += 6
    picks = np.concatenate([np.arange(30), rng.choice(150_000, 200, replace=False)])
    for sd in (1.0, 1.3):
        expected = scores.bh_fdr(scores.two_sided_p(abs_z / sd))[picks]
        assert np.allclose(scores.fdr_for(abs_z, picks, sd=sd), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize(("n_genes", "n"), [(978, 50), (23_614, 250), (300, 1), (301, 150)])
def test_a_sides_fdr_by_counting_equals_the_full_sort_bit_for_bit(n_genes: int, n: int) -> None:
    """SideAbsZ.sorted_bh (distinct rank sums counted) against _sorted_bh of every |z| (every
    p sorted), on random rank sums with many ties and a few strong hits; the |z| made as the
    compiled keys make them."""
    from search.engine.backends import compiled

    rng = np.random.default_rng(n)
    size = 120_000
    ranks = np.arange(1, n_genes + 1)
    sums = np.array([rng.choice(ranks, n, replace=False).sum() for _ in range(2000)])
    sums = rng.choice(sums, size).astype(np.uint32)  # ties: 2,000 distinct sums at most
    sums[:20] = ranks[-n:].sum()  # the largest sum a set can have, and the smallest
    sums[20:40] = ranks[:n].sum()
    centre, sd = scores.set_null(n, n_genes, *scores.rank_moments(n_genes))
    side = np.array([1.0, float(centre), float(sd)])
    keys, abs_z, unused = np.empty(size), np.empty(size), np.empty(size)
    zero = np.zeros(size, dtype=np.uint32)
    compiled.z_sum_keys(sums, zero, side, np.array([0.0, 0.0, 1.0]), 0, keys, abs_z, unused)
    picks = np.concatenate([np.arange(50), rng.choice(size, 300, replace=False)])
    counted = scores.SideAbsZ(abs_z, sums, n, n_genes).sorted_bh(picks, 1.0)
    sorted_ = scores._sorted_bh(abs_z, picks, 1.0)
    assert np.array_equal(counted, sorted_)
    assert np.array_equal(scores.fdr_for(scores.SideAbsZ(abs_z, sums, n, n_genes), picks), sorted_)

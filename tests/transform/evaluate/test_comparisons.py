"""Retrieval shares' intervals and the paired comparison of two versions, each against a plain
reference from its definition: the Wilson bounds as roots of the score equation found by
bisection, the sign test by enumerating every sequence of fair coin flips."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from transform.evaluate.comparisons import (
    Z95,
    found_within,
    paired_row,
    sign_test,
    wilson_interval,
)


def _score_gap(p: float, share: float, n: int) -> float:
    """|share - p| - z sqrt(p (1 - p) / n): zero at the Wilson bounds."""
    return abs(share - p) - Z95 * math.sqrt(p * (1 - p) / n)


def _root(share: float, n: int, low: float, high: float) -> float:
    """The p in [low, high] where the score gap changes sign, by bisection."""
    for _ in range(200):
        mid = (low + high) / 2
        if (_score_gap(low, share, n) > 0) == (_score_gap(mid, share, n) > 0):
            low = mid
        else:
            high = mid
    return (low + high) / 2


@pytest.mark.parametrize(("hits", "n"), [(1, 10), (5, 10), (9, 10), (31, 102), (80, 102)])
def test_the_wilson_bounds_are_where_the_share_is_z_standard_errors_from_p(hits, n) -> None:
    share = hits / n
    low, high = wilson_interval(hits, n)
    assert low == pytest.approx(_root(share, n, 0.0, share), abs=1e-9)
    assert high == pytest.approx(_root(share, n, share, 1.0), abs=1e-9)
    assert low < share < high


def test_the_wilson_interval_of_none_or_all_found_touches_its_end() -> None:
    assert wilson_interval(0, 20)[0] == 0.0
    assert wilson_interval(20, 20)[1] == 1.0
    assert all(math.isnan(bound) for bound in wilson_interval(0, 0))


def _enumerated_p(wins: int, losses: int) -> float:
    """The share of all 2^n fair sequences at least as unbalanced as the one seen."""
    n = wins + losses
    seen = abs(wins - n / 2)
    extreme = sum(abs(sum(flips) - n / 2) >= seen for flips in itertools.product((0, 1), repeat=n))
    return extreme / 2**n


@pytest.mark.parametrize(("wins", "losses"), [(0, 0), (3, 3), (5, 1), (0, 9), (12, 4), (7, 8)])
def test_the_sign_test_is_the_share_of_fair_sequences_as_unbalanced(wins, losses) -> None:
    assert sign_test(wins, losses) == pytest.approx(_enumerated_p(wins, losses), rel=1e-12)


def test_a_query_that_found_nothing_is_a_miss_in_the_paired_comparison() -> None:
    mine = np.array([1, 3, 12, np.nan, 2, 1, 40, 5])
    other = np.array([2, np.nan, 1, 1, 30, 1, 50, 11])
    assert found_within(mine, 10).tolist() == [1, 1, 0, 0, 1, 1, 0, 1]
    row = paired_row(mine, other, 10)
    # found by mine alone: ranks 3 (other nan), 2 (other 30), 5 (other 11); by other alone: 1, 1
    assert (row["wins"], row["losses"]) == (3, 2)
    assert row["share"] == pytest.approx(5 / 8)
    assert row["other share"] == pytest.approx(4 / 8)
    assert row["p"] == pytest.approx(_enumerated_p(3, 2))
    assert row["verdict"] == "level"


def test_the_verdict_names_the_side_that_wins_beyond_chance() -> None:
    found, missed = np.ones(20), np.full(20, np.nan)
    assert paired_row(found, missed, 1)["verdict"] == "ahead"
    assert paired_row(missed, found, 1)["verdict"] == "behind"
    with pytest.raises(ValueError, match="paired ranks"):
        paired_row(found, found[:3], 1)

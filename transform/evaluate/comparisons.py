"""How sure a retrieval share is, and whether one version of the signatures finds more
perturbations than another on the same queries.

A world holds about a hundred perturbations, so a top-10 share is known to about +-0.09 (95 %):
two versions 0.04 apart may be level. The signature-level evaluation therefore gives each share's
Wilson interval, and compares two versions query by query (they answer the same queries): a
perturbation found in the top k by one version and not by the other is a win or a loss, and the
exact two-sided sign test on the wins and losses (McNemar's exact test) says whether they differ
by more than chance. A query that finds nothing in a version (no query gene in its index) is a
miss there, not left out.
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054  # the 97.5 % quantile of the standard normal
LEVEL = 0.05  # the significance level of the verdicts


def wilson_interval(hits: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a share hits / n: the p for which |hits/n - p| is at most
    z * sqrt(p (1 - p) / n). (nan, nan) for n = 0."""
    if n == 0:
        return float("nan"), float("nan")
    share, z2 = hits / n, z * z
    centre = (share + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided p of `wins` against `losses` when each is equally likely (ties, the
    queries both or neither version found, are left to the caller): twice the smaller tail of
    Binomial(wins + losses, 1/2), at most 1."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1))
    return min(1.0, 2 * tail / (1 << n))


def found_within(ranks: np.ndarray, k: int) -> np.ndarray:
    """(n,) bool: the queries whose perturbation ranks in the top k (NaN, nothing found, is a
    miss)."""
    return np.nan_to_num(np.asarray(ranks, dtype=np.float64), nan=np.inf) <= k


def paired_row(mine: np.ndarray, other: np.ndarray, k: int) -> dict[str, object]:
    """Top k of two versions' ranks of the same queries: wins (found by `mine` alone), losses,
    the sign test's p and the verdict (ahead, behind, or level at LEVEL)."""
    a, b = found_within(mine, k), found_within(other, k)
    if a.shape != b.shape:
        raise ValueError(f"paired ranks of {a.size} and {b.size} queries")
    wins, losses = int(np.sum(a & ~b)), int(np.sum(~a & b))
    p = sign_test(wins, losses)
    verdict = "level" if p >= LEVEL else ("ahead" if wins > losses else "behind")
    return {
        "top": k,
        "share": float(a.mean()) if a.size else np.nan,
        "other share": float(b.mean()) if b.size else np.nan,
        "wins": wins,
        "losses": losses,
        "p": p,
        "verdict": verdict,
    }

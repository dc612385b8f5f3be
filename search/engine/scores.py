"""The scores of a gene-set query against signatures: formulas, p-values and FDR (docs/search.md).

Both scores standardize a gene set's summed signature values against the permutation null (the
signature's values dealt to the genes at random), one set at a time:

    z_set = (S - n m) / sqrt(s2 n (G - n) / (G - 1))

for a set of n genes of the gene space (G genes), S the sum of the signature's values on them, m and
s2 the mean and population variance of the signature's G values.

- "rank" (default, SigCom LINCS's two-sided rank test): the values are the signature's gene ranks,
  1 = most lowered ... G = most raised, tied values sharing the largest rank of their run (as in
  SigCom LINCS's rank files; search.engine.build.ranks_of), so m = (G + 1) / 2,
  s2 = (G^2 - 1) / 12 and z_set = (S - n (G + 1) / 2) / sqrt(n (G - n) (G + 1) / 12), the
  formula of SigCom LINCS (no tie correction). z_sum = z_up - z_down ranks the signatures
  (positive: mimics the query, negative: reverses it).
- "cd" (CD-weighted connectivity): score = mean CD of the up genes - mean CD of the down genes,
  which ranks the signatures; z_up and z_down standardize the two means with the signature's own m
  and s2, so that p and FDR come from the same null as for "rank".

p: each set's z and z_sum are two-sided normal p-values. z_up and z_down of one signature are
slightly anti-correlated (two disjoint sets drawn from one permutation), so z_sum is divided by its
exact null standard deviation (`z_sum_sd`) before its p is taken: p = P(|N(0,1)| >= |z_sum| / sd).
FDR: Benjamini-Hochberg over every signature searched (after filters).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from search.engine.backends import compiled
from search.engine.query import SCORES as QUERY_SCORES

if TYPE_CHECKING:
    from typing_extensions import TypeIs

SCORES = tuple(QUERY_SCORES)  # "rank", "cd" (search.engine.query)
FULL_SORT_BELOW = 1 << 16  # below this many signatures the FDR sorts them all
HISTOGRAM_BINS = 4096


def set_z(
    sums: np.ndarray, n: int, n_genes: int, mean: ArrayLike, var: ArrayLike
) -> NDArray[np.float64]:
    """z of gene-set sums (n genes of n_genes) under the permutation null of each signature's
    values (mean, population variance: scalars or one per signature). n = 0 gives NaN; a
    signature whose values are all equal gives 0."""
    if n == 0:
        return np.full(np.shape(sums), np.nan)
    centre, sd = set_null(n, n_genes, mean, var)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (np.asarray(sums, dtype=np.float64) - centre) / sd
    return np.where(np.isfinite(z), z, 0.0)


def set_null(
    n: int, n_genes: int, mean: ArrayLike, var: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The null mean and sd of a set sum of n genes (float64; per signature where mean and var
    are): set_z divides by them, and the gpu path uses the same values on the device."""
    centre = n * np.asarray(mean, dtype=np.float64)
    sd = np.sqrt(np.asarray(var, dtype=np.float64) * (n * (n_genes - n) / (n_genes - 1)))
    return centre, sd


def rank_moments(n_genes: int) -> tuple[float, float]:
    """Mean and population variance of the ranks 1..G."""
    return (n_genes + 1) / 2, (n_genes**2 - 1) / 12


def z_sum_sd(n_genes: int, n_up: int, n_down: int) -> float:
    """The exact null standard deviation of z_up - z_down (1 when a side is empty).

    z_sum = sum_i w_i (v_pi(i) - m), w = 1/sd_up on up genes, -1/sd_down on down genes; for a random
    permutation pi, Var = s2 G/(G-1) sum_i (w_i - mean w)^2, and s2 cancels against the sd's."""
    if n_up == 0 or n_down == 0:
        return 1.0
    g = n_genes
    sd_up2 = n_up * (g - n_up) / (g - 1)
    sd_down2 = n_down * (g - n_down) / (g - 1)
    spread = n_up / sd_up2 + n_down / sd_down2
    spread -= (n_up / math.sqrt(sd_up2) - n_down / math.sqrt(sd_down2)) ** 2 / g
    return math.sqrt(g / (g - 1) * spread)


def two_sided_p(z: np.ndarray | float) -> NDArray[np.float64]:
    """P(|N(0,1)| >= |z|) = erfc(|z| / sqrt 2), vectorized; relative error below 1.2e-7
    (the Chebyshev fit of Numerical Recipes' erfcc; numpy has no erfc)."""
    x = np.abs(np.asarray(z, dtype=np.float64)) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * x)
    poly = -0.82215223 + t * 0.17087277
    for c in (1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196):
        poly = c + t * poly
    poly = 1.00002368 + t * poly
    return t * np.exp(-x * x - 1.26551223 + t * poly)


def bh_fdr(p: np.ndarray) -> NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values, in the order of p."""
    p = np.asarray(p, dtype=np.float64)
    n = p.size
    order = np.argsort(p, kind="stable")
    scaled = p[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    q = np.empty(n)
    q[order] = adjusted
    return q


class AbsZSource(Protocol):
    """|z| of every signature searched, as fdr_for reads them (HostAbsZ on the host, DeviceAbsZ of
    backends/torch_gpu.py on a GPU)."""

    size: int

    def values(self) -> NDArray[np.float64]: ...

    def largest(self, m: int) -> NDArray[np.float64]: ...

    def at(self, picks: NDArray[np.int64]) -> NDArray[np.float64]: ...

    def histogram(self, boundary: float, bins: int) -> NDArray[np.intp]: ...


class HostAbsZ:
    """|z| of every signature searched, as fdr_for reads them: the size, the m largest, the
    picks' values, a histogram and, for the full sort, all of them. (backends/torch_gpu.py has the
    same over a device tensor, so that only these small pieces cross to the host.)"""

    def __init__(self, values: np.ndarray) -> None:
        self.array = np.asarray(values, dtype=np.float64)
        self.size = int(self.array.size)

    def values(self) -> NDArray[np.float64]:
        return self.array

    def largest(self, m: int) -> NDArray[np.float64]:
        """The m largest, in descending order."""
        return np.sort(self.array[compiled.largest(self.array, m)])[::-1]

    def at(self, picks: NDArray[np.int64]) -> NDArray[np.float64]:
        return self.array[picks]

    def histogram(self, boundary: float, bins: int) -> NDArray[np.intp]:
        """Counts of min(floor(|z| * bins / boundary), bins): bins + 1 of them."""
        where = np.minimum((self.array * (bins / boundary)).astype(np.int64), bins)
        counts: NDArray[np.intp] = np.bincount(where, minlength=bins + 1)
        return counts


class SideAbsZ(HostAbsZ):
    """|z| of one side's rank sums over every signature searched (the rank score), which can sort
    them by counting: |z| depends only on the integer D = |2 S - n (G + 1)| (S the set's rank sum),
    so the p-values in order are those of the distinct D, largest first, each as often as it
    occurs. `sorted_bh` gives `_sorted_bh`'s q bit for bit without sorting every signature."""

    def __init__(self, values: np.ndarray, sums: np.ndarray, n: int, n_genes: int) -> None:
        """values: |z| of the side (compiled.z_sum_keys'), sums: its uint32 rank sums, n: its
        genes."""
        super().__init__(values)
        self.sums, self.n, self.n_genes = sums, n, n_genes
        centre, sd = set_null(n, n_genes, *rank_moments(n_genes))  # as the keys were computed
        self.centre, self.sd = float(centre), float(sd)

    def sorted_bh(self, picks: NDArray[np.int64], sd: float) -> NDArray[np.float64]:
        twice = np.abs(2 * self.sums.astype(np.int64) - self.n * (self.n_genes + 1))
        counts = np.bincount(twice)
        distinct = np.flatnonzero(counts)[::-1]  # largest |z| first
        high_sums = (distinct + self.n * (self.n_genes + 1)) // 2  # S above the centre
        abs_z = np.abs((high_sums.astype(np.float64) - self.centre) / self.sd)
        p = two_sided_p(abs_z / sd)
        if not np.all(np.isfinite(p)):
            return _sorted_bh(self.array, picks, sd)
        weights = counts[distinct]
        if np.any(p[1:] < p[:-1]):  # the fit of erfc is not monotone here: sort the distinct
            order = np.argsort(p, kind="stable")
            p, weights = p[order], weights[order]
        values, starts = np.unique(p, return_index=True)  # ties of p share their ranks
        ends = np.add.reduceat(weights, starts).cumsum()  # each tie's last rank (1-based)
        scaled = values * (self.size / ends)
        suffix = np.minimum.accumulate(scaled[::-1])[::-1]
        asked = two_sided_p(self.array[picks] / sd)
        q: NDArray[np.float64] = np.minimum(
            suffix[np.searchsorted(values, asked, side="left")], 1.0
        )
        return q


def _has_methods(abs_z: np.ndarray | AbsZSource) -> TypeIs[AbsZSource]:
    """abs_z is an object with HostAbsZ's methods rather than an array."""
    return hasattr(abs_z, "largest")


def fdr_for(
    abs_z: np.ndarray | AbsZSource, picks: np.ndarray, *, sd: float = 1.0
) -> NDArray[np.float64]:
    """BH-adjusted p of the picked signatures among all, where p = two_sided_p(abs_z / sd).

    Equal to bh_fdr(two_sided_p(abs_z / sd))[picks]. BH needs q_(i) = min over j >= i of
    n p_(j) / j; the m largest |z| give that minimum exactly up to rank m, and the ranks beyond m
    only matter when a lower bound of their minimum (p_(m), then a histogram of |z|) falls below
    it: then, and only then, every signature is sorted. abs_z: an array, or an object with
    HostAbsZ's methods (the gpu path's, on the device)."""
    source = abs_z if _has_methods(abs_z) else HostAbsZ(abs_z)
    picks = np.asarray(picks, dtype=np.int64)
    q = bounded_fdr(source, picks, sd)
    return _every_sorted(source, picks, sd) if q is None else q


def bounded_fdr(
    source: AbsZSource, picks: NDArray[np.int64], sd: float
) -> NDArray[np.float64] | None:
    """fdr_for's answer from the largest |z| and a histogram of the rest, or None when it needs
    every signature sorted (a pick below the largest read, or a tail bound that does not clear)."""
    n = source.size
    if n < FULL_SORT_BELOW or picks.size == 0:
        return None
    m = min(n, largest_read(picks.size))
    top = source.largest(m)
    values = source.at(picks)
    if m == n or np.any(values <= top[-1]):
        return None
    p_top = two_sided_p(top / sd)
    suffix = np.minimum.accumulate((p_top * n / np.arange(1, m + 1))[::-1])[::-1]
    at = suffix[np.searchsorted(-top, -values, side="right") - 1]
    if np.all(at <= p_top[-1]) or np.all(at <= _tail_bound(source, top[-1], m, sd)):
        return np.minimum(at, 1.0)
    return None


def largest_read(picks: int) -> int:
    """How many of the largest |z| fdr_for reads for `picks` results (before the tail bound);
    what a search kept over parts (running.py) must hold to answer it."""
    return max(1024, 4 * picks)


def _every_sorted(source: AbsZSource, picks: NDArray[np.int64], sd: float) -> NDArray[np.float64]:
    """_sorted_bh over every signature: by counting where the source can (SideAbsZ)."""
    if isinstance(source, SideAbsZ):
        return source.sorted_bh(picks, sd)
    return _sorted_bh(source.values(), picks, sd)


def _sorted_bh(abs_z: np.ndarray, picks: np.ndarray, sd: float) -> NDArray[np.float64]:
    """bh_fdr(two_sided_p(abs_z / sd))[picks] from the sorted p-values, without an argsort:
    tied p-values share their q, so a pick's q is the suffix minimum at its value's first rank."""
    p = two_sided_p(abs_z / sd)
    ordered = np.sort(p)
    scaled = ordered * (p.size / np.arange(1, p.size + 1))
    suffix = np.minimum.accumulate(scaled[::-1])[::-1]
    q: NDArray[np.float64] = np.minimum(
        suffix[np.searchsorted(ordered, p[picks], side="left")], 1.0
    )
    return q


def _tail_bound(source: AbsZSource, boundary: float, m: int, sd: float) -> float:
    """A lower bound of n p_(j) / j over the ranks j > m, from a histogram of |z| below the m-th
    largest (boundary): a bin's members have p >= p(its upper edge) and ranks <= those above it
    plus its own count."""
    n = source.size
    if boundary <= 0:
        return 0.0
    counts = source.histogram(boundary, HISTOGRAM_BINS)
    last_rank = np.cumsum(counts[::-1])[::-1]  # ranks reach this far in each bin
    edges = np.arange(1, HISTOGRAM_BINS + 2) * (boundary / HISTOGRAM_BINS)
    edges[-1] = boundary
    bounds = n * two_sided_p(edges / sd) / last_rank
    relevant = (counts > 0) & (last_rank > m)
    return float(bounds[relevant].min()) if relevant.any() else math.inf

"""Classical ways to put L1000 landmarks on the RNA-seq scale, to compare the model against.

Each takes Level 3 landmarks (n_input, n) and returns (n_input, n) on the RNA-seq scale. The
baselines the issue names use only unpaired facts, the same ones the model learns from: the L1000
collection's per-gene distribution and the RNA-seq collection's. `standardized_on_own_moments`
also uses the distribution of the profiles being evaluated (transductive): it is shown as an
informative row, since a model that converts profiles one at a time cannot do that.

`Ridge` is CMap's way to the genes L1000 does not measure (their inferred genes come from a
linear regression on the landmarks): a ridge regression from the input landmarks to the output
genes, fitted on RNA-seq samples of the collection, in float64 from running sums (`RidgeSums`), so
that a fit over thousands of samples holds (n_input, n_input) and (n_input, n_output) only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

QUANTILES = np.linspace(0.0, 1.0, 1001)
# alpha = scale * trace(Xc^T Xc) / n_features, from near least squares (CMap's linear inference)
# to strong shrinkage; the scale with the least held-out MSE is kept.
ALPHA_SCALES = tuple(10.0**k for k in range(-4, 4))
HOLDOUT = 0.1  # fraction of the fitting samples held out to choose alpha


@dataclass(frozen=True)
class Reference:
    """Per-gene facts of the unpaired data: RNA-seq collection and L1000 profiles."""

    rnaseq_mean: np.ndarray  # (n_genes,)
    rnaseq_sd: np.ndarray  # (n_genes,)
    rnaseq_quantiles: np.ndarray  # (n_genes, len(QUANTILES))
    l1000_quantiles: np.ndarray  # (n_genes, len(QUANTILES))
    l1000_mean: np.ndarray  # (n_genes,)
    l1000_sd: np.ndarray  # (n_genes,)

    @classmethod
    def fit(cls, rnaseq: np.ndarray, l1000: np.ndarray) -> Reference:
        """rnaseq (n_genes, n_rnaseq) on the model scale; l1000 (n_genes, n_l1000) Level 3."""
        return cls(
            rnaseq_mean=rnaseq.mean(axis=1),
            rnaseq_sd=rnaseq.std(axis=1),
            rnaseq_quantiles=np.quantile(rnaseq, QUANTILES, axis=1).T,
            l1000_quantiles=np.quantile(l1000, QUANTILES, axis=1).T,
            l1000_mean=l1000.mean(axis=1),
            l1000_sd=l1000.std(axis=1),
        )


def _moments_matched(
    l1000: np.ndarray, mean: np.ndarray, sd: np.ndarray, reference: Reference
) -> np.ndarray:
    z = (l1000 - mean[:, None]) / np.where(sd > 0, sd, 1.0)[:, None]
    matched: np.ndarray = z * reference.rnaseq_sd[:, None] + reference.rnaseq_mean[:, None]
    return matched


def standardized(l1000: np.ndarray, reference: Reference) -> np.ndarray:
    """Untransformed L1000, per-gene standardized with the L1000 collection's mean and SD, then
    given the RNA-seq collection's mean and SD."""
    return _moments_matched(l1000, reference.l1000_mean, reference.l1000_sd, reference)


def standardized_on_own_moments(l1000: np.ndarray, reference: Reference) -> np.ndarray:
    """As `standardized`, but with the mean and SD of the evaluated profiles themselves
    (transductive: it needs the whole evaluation set at once)."""
    return _moments_matched(l1000, l1000.mean(axis=1), l1000.std(axis=1), reference)


def quantile_mapped(l1000: np.ndarray, reference: Reference) -> np.ndarray:
    """Per gene: a value's quantile among the L1000 profiles -> the same RNA-seq quantile."""
    out = np.empty(l1000.shape, dtype=np.float64)
    for gene, values in enumerate(l1000):
        source = reference.l1000_quantiles[gene]
        level = np.interp(values, source, QUANTILES)
        out[gene] = np.interp(level, QUANTILES, reference.rnaseq_quantiles[gene])
    return out


def mean_profile(n_samples: int, mean: np.ndarray) -> np.ndarray:
    """The collection's per-gene mean for every sample: says nothing about any sample."""
    return np.repeat(np.asarray(mean, dtype=np.float64)[:, None], n_samples, axis=1)


def gene_shuffled(pred: np.ndarray, seed: int = 0) -> np.ndarray:
    """A prediction with its genes shuffled: the authors' random control."""
    return pred[np.random.default_rng(seed).permutation(pred.shape[0])]


@dataclass
class RidgeSums:
    """Running sums of samples x (n_in,) -> y (n_out,), added a chunk of columns at a time.

    n samples; x (n_in,) and y (n_out,) sums; xx (n_in, n_in) = sum x x^T; xy (n_in, n_out) =
    sum x y^T; yy = sum of every y squared. All float64.
    """

    n: int
    x: np.ndarray
    y: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    yy: float

    @classmethod
    def empty(cls, n_in: int, n_out: int) -> RidgeSums:
        return cls(
            0, np.zeros(n_in), np.zeros(n_out), np.zeros((n_in, n_in)), np.zeros((n_in, n_out)), 0.0
        )

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """x (n_in, k) and y (n_out, k): k more samples."""
        x64, y64 = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        self.n += x64.shape[1]
        self.x += x64.sum(axis=1)
        self.y += y64.sum(axis=1)
        self.xx += x64 @ x64.T
        self.xy += x64 @ y64.T
        self.yy += float(np.einsum("ij,ij->", y64, y64))

    def __add__(self, other: RidgeSums) -> RidgeSums:
        return RidgeSums(
            self.n + other.n,
            self.x + other.x,
            self.y + other.y,
            self.xx + other.xx,
            self.xy + other.xy,
            self.yy + other.yy,
        )

    def centred(self) -> tuple[np.ndarray, np.ndarray]:
        """(Xc^T Xc (n_in, n_in), Xc^T Yc (n_in, n_out)) of the samples centred on their means."""
        mx, my = self.x / self.n, self.y / self.n
        return self.xx - self.n * np.outer(mx, mx), self.xy - self.n * np.outer(mx, my)


def holdout_mask(n: int, *, fraction: float = HOLDOUT, seed: int = 0) -> np.ndarray:
    """(n,) bool: a seeded `fraction` of n samples (at least one) held out to choose alpha."""
    if n < 3:
        raise ValueError(f"a ridge fit with a held-out part needs 3 samples or more, not {n}")
    held = np.zeros(n, dtype=bool)
    picked = np.random.default_rng(seed).choice(n, size=max(1, round(fraction * n)), replace=False)
    held[picked] = True
    return held


@dataclass(frozen=True)
class Ridge:
    """y = y_mean + coef^T (x - x_mean): ridge regression on centred inputs and outputs.

    coef (n_in, n_out) = (Xc^T Xc + alpha I)^-1 Xc^T Yc; alpha = scale * trace(Xc^T Xc) / n_in,
    the scale chosen from ALPHA_SCALES by the MSE on held-out samples, then refitted on all.
    """

    x_mean: np.ndarray  # (n_in,)
    y_mean: np.ndarray  # (n_out,)
    coef: np.ndarray  # (n_in, n_out)
    alpha: float
    scale: float
    holdout_mse: dict[float, float]  # scale -> held-out MSE

    @staticmethod
    def solve(sums: RidgeSums, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """(coef (n_in, n_out), intercept (n_out,)) of the closed form on these samples."""
        cxx, cxy = sums.centred()
        coef = np.linalg.solve(cxx + alpha * np.eye(len(cxx)), cxy)
        return coef, sums.y / sums.n - coef.T @ (sums.x / sums.n)

    @classmethod
    def from_sums(
        cls, fitting: RidgeSums, held_out: RidgeSums, scales: tuple[float, ...] = ALPHA_SCALES
    ) -> Ridge:
        """Choose the scale on `held_out` with fits on `fitting`, then refit on both."""
        mse = holdout_errors(fitting, held_out, scales)
        best = min(mse, key=mse.__getitem__)
        both = fitting + held_out
        alpha = best * _unit(both)
        coef, _ = cls.solve(both, alpha)
        return cls(both.x / both.n, both.y / both.n, coef, alpha, best, mse)

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        *,
        seed: int = 0,
        scales: tuple[float, ...] = ALPHA_SCALES,
    ) -> Ridge:
        """x (n_in, n) -> y (n_out, n), a seeded HOLDOUT of the n samples choosing alpha."""
        held = holdout_mask(x.shape[1], seed=seed)
        parts = [RidgeSums.empty(len(x), len(y)) for _ in range(2)]
        for part, columns in zip(parts, (~held, held), strict=True):
            part.add(x[:, columns], y[:, columns])
        return cls.from_sums(parts[0], parts[1], scales=scales)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """x (n_in, n) -> (n_out, n) float64."""
        centred = np.asarray(x, dtype=np.float64) - self.x_mean[:, None]
        predicted: NDArray[np.float64] = self.y_mean[:, None] + self.coef.T @ centred
        return predicted


def holdout_errors(
    fitting: RidgeSums, held: RidgeSums, scales: tuple[float, ...]
) -> dict[float, float]:
    """scale -> MSE on the held-out samples of the fit on `fitting` with alpha = scale * unit.

    From the sums alone, in the eigenbasis of Xc^T Xc = V diag(s) V^T: with A = V^T Xc^T Yc and
    d = 1 / (s + alpha), the fit is coef = V diag(d) A, so every term of the held-out squared
    error is a small (n_in, n_in) product once A A^T and V^T Xc^T Yc Hxy^T V are known: two
    (n_in, n_out) products in all, whatever the number of scales.
    """
    cxx, cxy = fitting.centred()
    s, v = np.linalg.eigh(cxx)
    s = np.clip(s, 0.0, None)
    mx, my = fitting.x / fitting.n, fitting.y / fitting.n
    gram = v.T @ (cxy @ cxy.T) @ v  # A A^T
    cross = np.diag(v.T @ (cxy @ held.xy.T) @ v)  # rows of A . rows of V^T Hxy
    m = v.T @ held.xx @ v
    u, h = v.T @ mx, v.T @ held.x
    a_my, a_hy = v.T @ (cxy @ my), v.T @ (cxy @ held.y)
    unit, n_cells = _unit(fitting), held.n * len(my)
    errors = {}
    for scale in scales:
        d = 1.0 / (s + scale * unit)
        du, w = d * u, d * h
        fitted = d @ (m * gram) @ d  # sum over held-out of |coef^T x|^2
        b_y = my @ held.y - du @ a_hy  # intercept . sum y
        b_b = my @ my - 2.0 * du @ a_my + du @ gram @ du  # |intercept|^2
        b_fit = (a_my - gram @ du) @ w  # intercept . sum coef^T x
        total = held.yy - 2.0 * (b_y + d @ cross) + held.n * b_b + 2.0 * b_fit + fitted
        errors[scale] = float(total) / n_cells
    return errors


def _unit(sums: RidgeSums) -> float:
    """trace(Xc^T Xc) / n_in: the scale of alpha (1 where the inputs do not vary)."""
    trace = (float(np.trace(sums.xx)) - float(sums.x @ sums.x) / sums.n) / len(sums.x)
    return trace if trace > 0 else 1.0

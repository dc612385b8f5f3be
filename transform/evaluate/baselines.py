"""Classical ways to put L1000 landmarks on the RNA-seq scale, to compare the model against.

Each takes Level 3 landmarks (n_input, n) and returns (n_input, n) on the RNA-seq scale. The
baselines the issue names use only unpaired facts, the same ones the model learns from: the L1000
collection's per-gene distribution and the RNA-seq collection's. `standardized_on_own_moments`
also uses the distribution of the profiles being evaluated (transductive): it is shown as an
informative row, since a model that converts profiles one at a time cannot do that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QUANTILES = np.linspace(0.0, 1.0, 1001)


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
    return z * reference.rnaseq_sd[:, None] + reference.rnaseq_mean[:, None]


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

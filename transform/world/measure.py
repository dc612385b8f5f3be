"""How the world is measured: RNA-seq read counts and the L1000 platform.

RNA-seq: the true log2 expression becomes CPM shares, a library size is drawn (ARCHS4-like,
log-normal around 20 M reads, a few shallow samples), and counts are negative-binomial
(gamma-Poisson) around library size x share.

L1000 (978 landmarks): a gene-specific sigmoid maps log2 expression onto the platform's log2 scale
(floor about 4, saturation about 15, a compressed slope in between); the two genes that share a bead
colour leak into each other's reading; each well has an RNA-amount shift, each plate a per-gene
offset, and the noise is larger at low intensity. Each plate is then quantile-normalized (Level 3,
QNORM).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from transform.normalize import quantile_normalize
from transform.world.biology import Biology
from transform.world.genes import GeneUniverse

NB_DISPERSION = 0.06  # residual (technical) dispersion; biology is in the expression itself
TECHNICAL_SD = 0.3  # spread of the well-quality factor (log2 units per unit loading)
L1000_MAX = 15.0  # the platform reports nothing above 15 (real Level 3 tops out there)


def library_sizes(n: int, median: float, rng: np.random.Generator) -> np.ndarray:
    sizes = median * np.exp(rng.normal(0.0, 0.7, n))
    shallow = rng.random(n) < 0.04  # ARCHS4 has shallow samples; the paper keeps those > 1 M reads
    sizes[shallow] = rng.uniform(2e5, 1e6, shallow.sum())
    return np.round(sizes)


def rnaseq_counts(
    log2_expression: np.ndarray, sizes: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Counts (n_genes, n) uint32 from true log2 expression (n, n_genes) and library sizes (n,)."""
    share = np.exp2(log2_expression - log2_expression.max(axis=1, keepdims=True))
    share /= share.sum(axis=1, keepdims=True)
    mean = share * sizes[:, None]
    shape = 1.0 / NB_DISPERSION
    rate = rng.gamma(shape, mean / shape)
    counts: NDArray[np.uint32] = rng.poisson(rate).astype(np.uint32).T
    return counts


def true_log_cpm(log2_expression: np.ndarray) -> np.ndarray:
    """log10(CPM + 1) of the noise-free expression (n, n_genes): the truth on the model's scale."""
    share = np.exp2(log2_expression - log2_expression.max(axis=1, keepdims=True))
    share /= share.sum(axis=1, keepdims=True)
    log_cpm: np.ndarray = np.log10(share * 1e6 + 1.0)
    return log_cpm


@dataclass(frozen=True)
class Platform:
    floor: np.ndarray  # (978,) log2 reading of an absent transcript
    ceiling: np.ndarray  # (978,) saturation
    center: np.ndarray  # (978,) log2 expression at the sigmoid's midpoint
    width: np.ndarray  # (978,) sigmoid width: larger is more compressed
    crosstalk: np.ndarray  # (978,) fraction of the bead partner's signal read as this gene's
    technical: np.ndarray  # (978,) each gene's loading on the platform's well-quality axis
    partner: np.ndarray  # (978,) bead partner's landmark position, -1 for none


def make_platform(universe: GeneUniverse, biology: Biology, rng: np.random.Generator) -> Platform:
    """Gene-specific response curves placing each landmark's typical reading between 4 and 14."""
    n = len(universe.landmark_index)
    typical = biology.baseline[universe.landmark_index]
    floor = np.clip(rng.normal(3.0, 0.4, n), 2.4, 4.5)
    ceiling = np.clip(rng.normal(15.3, 0.3, n), 14.5, 16.0)
    width = rng.uniform(1.6, 3.2, n)
    reading = np.clip(rng.normal(8.5, 2.2, n), floor + 0.8, ceiling - 0.8)
    fraction = (reading - floor) / (ceiling - floor)
    center = typical - width * np.log(fraction / (1.0 - fraction))
    pair_leak = rng.beta(1.2, 14.0, n)
    return Platform(
        floor=floor,
        ceiling=ceiling,
        center=center,
        width=width,
        crosstalk=np.where(universe.bead_partner >= 0, pair_leak, 0.0),
        technical=(reading - 8.5) / 2.2 + rng.normal(0.0, 0.5, n),
        partner=universe.bead_partner,
    )


def measure_l1000(
    landmark_log2: np.ndarray,
    platform: Platform,
    rng: np.random.Generator,
    *,
    plate_offset: np.ndarray,
    noise: float = 1.0,
) -> np.ndarray:
    """Readings (978, n_wells) on the log2 platform scale, before plate normalization; noise
    multiplies the measurement noise (the world's l1000_noise)."""
    n_wells = landmark_log2.shape[0]
    amount = rng.normal(0.0, 0.35, (n_wells, 1))
    x = landmark_log2 + amount
    span = platform.ceiling - platform.floor
    y = platform.floor + span / (1.0 + np.exp(-(x - platform.center) / platform.width))
    linear = np.exp2(y)
    has_partner = platform.partner >= 0
    leaked = linear.copy()
    leaked[:, has_partner] = (1 - platform.crosstalk[has_partner]) * linear[:, has_partner] + (
        platform.crosstalk[has_partner] * linear[:, platform.partner[has_partner]]
    )
    quality = rng.normal(0.0, TECHNICAL_SD, (n_wells, 1))  # bright vs dim wells, beyond amount
    y = np.log2(leaked) + plate_offset + quality * platform.technical
    noise_sd = noise * (0.15 + 0.6 * np.exp(-(y - platform.floor) / 1.8))
    failed = rng.random((n_wells, 1)) < 0.01  # a failed well is much noisier
    y = y + rng.normal(0.0, 1.0, y.shape) * noise_sd * np.where(failed, 4.0, 1.0)
    readings: np.ndarray = np.clip(y, 1.0, L1000_MAX).T
    return readings


def level3_plate(readings: np.ndarray) -> np.ndarray:
    """QNORM: each well of the plate takes the plate's mean quantiles (978, n_wells) float32."""
    return quantile_normalize(readings).astype(np.float32)

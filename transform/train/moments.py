"""Per-gene scales of training profiles, for the standardized networks (not in the paper)."""

from __future__ import annotations

import numpy as np


def gene_moments(profiles: np.ndarray, floor: float = 1e-2) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and SD (n_genes,) float64 of (n, n_genes) profiles; SDs below `floor` x the
    median SD are raised to it (a constant gene would otherwise blow up its z-scores)."""
    values = np.asarray(profiles, dtype=np.float64)
    mean, sd = values.mean(axis=0), values.std(axis=0)
    return mean, np.maximum(sd, floor * float(np.median(sd)) + 1e-12)

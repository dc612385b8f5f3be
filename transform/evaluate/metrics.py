"""Agreement between predicted and true profiles, in every convention the paper uses.

All inputs are genes x samples. `centre` (n_genes,) is each gene's mean in the RNA-seq collection:
the centred per-sample PCC subtracts it from truth and prediction, so that a constant prediction of
the collection mean (the mean-profile baseline) scores zero there, however high its global PCC.
"""

from __future__ import annotations

import numpy as np

METRICS = (
    "global_pcc",
    "sample_pcc",
    "centred_sample_pcc",
    "gene_pcc",
    "mse",
    "rmse",
)


def column_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each column of a with the same column of b; 0 where either column is constant
    (a constant prediction carries no information about the sample)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    varying = (np.ptp(a, axis=0) > 0) & (np.ptp(b, axis=0) > 0)
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    denominator = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(varying, (a * b).sum(axis=0) / denominator, 0.0)


def prediction_metrics(pred: np.ndarray, truth: np.ndarray, centre: np.ndarray) -> dict[str, float]:
    """The six metrics of METRICS for pred and truth of shape (n_genes, n_samples)."""
    if pred.shape != truth.shape:
        raise ValueError(f"prediction {pred.shape} and truth {truth.shape} differ in shape")
    pred64 = np.asarray(pred, dtype=np.float64)
    truth64 = np.asarray(truth, dtype=np.float64)
    centre64 = np.asarray(centre, dtype=np.float64)[:, None]
    mse = float(np.mean((pred64 - truth64) ** 2))
    return {
        "global_pcc": float(column_pearson(pred64.reshape(-1, 1), truth64.reshape(-1, 1))[0]),
        "sample_pcc": float(np.mean(column_pearson(pred64, truth64))),
        "centred_sample_pcc": float(np.mean(column_pearson(pred64 - centre64, truth64 - centre64))),
        "gene_pcc": float(np.mean(column_pearson(pred64.T, truth64.T))),
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
    }


def sample_pccs(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-sample Pearson r across genes, (n_samples,)."""
    return column_pearson(pred, truth)

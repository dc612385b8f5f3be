"""PNG plots of an evaluation (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

MAX_POINTS = 400_000


def scatter_plot(
    pred: np.ndarray,
    truth: np.ndarray,
    path: Path,
    *,
    seed: int = 0,
    title: str = "Predicted against measured, all output genes",
) -> None:
    """Predicted against true values of every gene and sample, as a 2-D histogram."""
    flat_pred, flat_truth = pred.ravel(), truth.ravel()
    if flat_pred.size > MAX_POINTS:
        keep = np.random.default_rng(seed).choice(flat_pred.size, MAX_POINTS, replace=False)
        flat_pred, flat_truth = flat_pred[keep], flat_truth[keep]
    figure, axes = plt.subplots(figsize=(5.5, 5))
    image = axes.hist2d(flat_truth, flat_pred, bins=150, cmap="viridis", norm="log")[3]
    top = float(max(flat_truth.max(), flat_pred.max()))
    axes.plot([0, top], [0, top], color="white", linewidth=0.8, linestyle="--")
    axes.set_xlabel("RNA-seq, log10(CPM + 1), quantile-normalized")
    axes.set_ylabel("model prediction")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, label="values")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def sample_pcc_boxplot(pccs: dict[str, np.ndarray], path: Path) -> None:
    """Per-sample Pearson r across genes, one box per method."""
    figure, axes = plt.subplots(figsize=(8, 0.6 * len(pccs) + 1.5))
    names = list(pccs)
    axes.boxplot([pccs[n] for n in names], orientation="horizontal", tick_labels=names)
    axes.set_xlabel("per-sample Pearson r (all output genes)")
    axes.invert_yaxis()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)

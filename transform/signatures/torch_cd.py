"""The batch-rule characteristic direction in torch, for a GPU (float64, same steps as cd.py).

`batch_cd_torch(profiles, case_masks, device=...)` equals `BatchDirections.fit(profiles)
.signatures(case_masks)` to float64 rounding; the tests check it on the CPU, and on a GPU where
there is one.
"""

from __future__ import annotations

import numpy as np
import torch

from transform.signatures.cd import VARIANCE_CUTOFF


def batch_cd_torch(
    profiles: np.ndarray,
    case_masks: np.ndarray,
    *,
    device: str = "cuda",
    gamma: float = 1.0,
    per_gene: bool = False,
) -> np.ndarray:
    """Unit CD vectors (genes x s) of a batch under the batch rule, computed on `device`."""
    data = torch.as_tensor(np.asarray(profiles), dtype=torch.float64, device=device)
    axis = 1 if per_gene else 0
    sd = data.std(dim=axis, keepdim=True, unbiased=False)
    data = (data - data.mean(dim=axis, keepdim=True)) / torch.where(sd > 0, sd, torch.ones_like(sd))
    centred = data - data.mean(dim=1, keepdim=True)
    eigenvalues, vectors = torch.linalg.eigh(centred.T @ centred)
    eigenvalues, vectors = eigenvalues.flip(0).clamp(min=0.0), vectors.flip(1)
    keep = eigenvalues / eigenvalues.sum() > VARIANCE_CUTOFF
    singular = eigenvalues[keep].sqrt()
    scores = vectors[:, keep] * singular
    loadings = centred @ vectors[:, keep] / singular
    covariance = scores.T @ scores / (scores.shape[0] - 2)
    sigma = covariance.diagonal().mean()
    eye = torch.eye(covariance.shape[0], dtype=torch.float64, device=device)
    inverse = torch.linalg.inv(gamma * covariance + sigma * (1 - gamma) * eye)
    masks = torch.as_tensor(np.asarray(case_masks, dtype=np.float64), device=device)
    n_cases = masks.sum(dim=0)
    total = data.sum(dim=1, keepdim=True)
    case_sums = data @ masks
    differences = case_sums / n_cases - (total - case_sums) / (masks.shape[0] - n_cases)
    b = loadings @ (inverse.T @ (loadings.T @ differences))
    cd: np.ndarray = (b / b.norm(dim=0, keepdim=True)).cpu().numpy()
    return cd

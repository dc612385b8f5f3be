"""The batch-rule characteristic direction in torch, for a GPU (float64, the same algebra as
cd.BatchDirections: the Gram matrix, its eigenvectors, then one product for every signature). The
profiles travel to the device in their own type and are widened there.

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
    data = torch.as_tensor(np.asarray(profiles), device=device).to(torch.float64)
    axis = 1 if per_gene else 0
    sd = data.std(dim=axis, keepdim=True, unbiased=False)
    data = (data - data.mean(dim=axis, keepdim=True)) / torch.where(sd > 0, sd, torch.ones_like(sd))
    mean = data.mean(dim=1, keepdim=True)
    centred = data - mean
    eigenvalues, vectors = torch.linalg.eigh(centred.T @ centred)
    del centred
    eigenvalues = eigenvalues.clamp(min=0.0)
    keep = eigenvalues / eigenvalues.sum() > VARIANCE_CUTOFF
    basis = vectors[:, keep]
    variances = eigenvalues[keep] / (data.shape[1] - 2)
    inverse = 1.0 / (gamma * variances + variances.mean() * (1 - gamma))
    masks = torch.as_tensor(np.asarray(case_masks, dtype=np.float64), device=device)
    n_cases = masks.sum(dim=0)
    weights = masks / n_cases - (1 - masks) / (masks.shape[0] - n_cases)
    mixed = (basis * inverse) @ (basis.T @ weights)
    b = data @ mixed - mean * mixed.sum(dim=0, keepdim=True)
    cd: np.ndarray = (b / b.norm(dim=0, keepdim=True)).cpu().numpy()
    return cd

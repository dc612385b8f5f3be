"""The batch-rule characteristic direction in torch, for a GPU (float64, the same algebra as
cd.BatchDirections: the Gram matrix, its eigenvectors, then one product for every signature). The
profiles travel to the device in their own type and are widened there.

`batch_directions_torch(profiles, case_masks, device=...)` equals `BatchDirections.fit(profiles)
.with_differences(case_masks)` to float64 rounding (the CD vectors, and the fold changes from the
same product); the tests check it on the CPU, and on a GPU where there is one.
"""

from __future__ import annotations

import numpy as np
import torch

from transform.signatures.cd import VARIANCE_CUTOFF


def batch_directions_torch(
    profiles: np.ndarray,
    case_masks: np.ndarray,
    *,
    device: str = "cuda",
    gamma: float = 1.0,
    per_gene: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The unit CD vectors and each signature's mean of its cases less the mean of its controls
    in the profiles' units (genes x s each): the two from one product on the device, as
    cd.BatchDirections.with_differences takes them."""
    # a copy of its own: on the CPU device as_tensor shares a float64 input's memory
    data = torch.as_tensor(np.asarray(profiles), device=device).to(torch.float64, copy=True)
    axis = 1 if per_gene else 0
    centre = data.mean(dim=axis, keepdim=True)
    data -= centre
    sd = data.square().mean(dim=axis, keepdim=True).sqrt()
    scale = torch.where(sd > 0, sd, torch.ones_like(sd))
    data /= scale
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
    s = masks.shape[1]
    both = data @ torch.cat([mixed, weights if per_gene else weights * scale.T], dim=1)
    b = both[:, :s] - mean * mixed.sum(dim=0, keepdim=True)
    cd: np.ndarray = (b / b.norm(dim=0, keepdim=True)).cpu().numpy()
    z_product = both[:, s:]
    undone = (
        z_product * scale + centre * weights.sum(dim=0, keepdim=True)
        if per_gene
        else z_product + centre @ weights
    )
    return cd, undone.cpu().numpy()

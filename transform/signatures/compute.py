"""Signatures of one batch: CD vectors, log2 fold changes and the number of controls."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from transform.signatures.cd import BatchDirections, characteristic_direction
from transform.signatures.definitions import batch_masks, is_control

LOG2_OF_10 = np.log2(10.0)
SCALES = {"log10": LOG2_OF_10, "log2": 1.0}  # profile scale -> factor to log2 units


@dataclass(frozen=True)
class SignatureSettings:
    rule: str = "batch"  # or "vehicle"
    per_gene: bool = False  # z-score genes (the paper's text) instead of samples (its code)
    gamma: float = 1.0
    scale: str = "log10"  # profiles in log10(CPM + 1) ("log10") or log2 (L1000 Level 3)
    device: str = "cpu"  # "cpu" (numpy) or a torch device such as "cuda" for the batch rule


@dataclass(frozen=True)
class BatchSignatures:
    cd: np.ndarray  # (genes, s) unit CD vectors, float32
    log2_fold_change: np.ndarray  # (genes, s) float32
    n_controls: np.ndarray  # (s,)


def batch_signatures(
    profiles: np.ndarray, batch_inst: pd.DataFrame, sigs: pd.DataFrame, settings: SignatureSettings
) -> BatchSignatures:
    """profiles (genes x n) are the batch's profiles in batch_inst order."""
    masks = batch_masks(batch_inst, sigs)
    controls = _control_masks(masks, is_control(batch_inst["pert_type"]), settings.rule)
    if settings.rule == "batch":  # the fold changes come from the CD's own product
        if settings.device != "cpu":
            from transform.signatures.torch_cd import batch_directions_torch

            cd, differences = batch_directions_torch(
                profiles,
                masks,
                device=settings.device,
                gamma=settings.gamma,
                per_gene=settings.per_gene,
            )
        else:
            shared = BatchDirections.fit(profiles, gamma=settings.gamma, per_gene=settings.per_gene)
            cd, differences = shared.with_differences(masks)
        return _signatures(cd, differences, controls, settings)
    cd = np.column_stack(
        [
            characteristic_direction(
                profiles[:, controls[:, s]],
                profiles[:, masks[:, s]],
                gamma=settings.gamma,
                per_gene=settings.per_gene,
            )
            for s in range(masks.shape[1])
        ]
    )
    return _signatures(cd, _mean_difference(profiles, masks, controls), controls, settings)


def _signatures(
    cd: np.ndarray, differences: np.ndarray, controls: np.ndarray, settings: SignatureSettings
) -> BatchSignatures:
    """The batch's signatures from its CD vectors and its mean differences (profile units)."""
    return BatchSignatures(
        cd.astype(np.float32),
        (differences * SCALES[settings.scale]).astype(np.float32),
        controls.sum(axis=0),
    )


def _control_masks(masks: np.ndarray, vehicle: np.ndarray, rule: str) -> np.ndarray:
    if rule == "batch":
        return ~masks
    if rule == "vehicle":
        if vehicle.sum() < 2:
            raise ValueError("the vehicle rule needs at least 2 control profiles in the batch")
        controls: NDArray[np.bool_] = np.repeat(vehicle[:, None], masks.shape[1], axis=1) & ~masks
        return controls
    raise ValueError(f"unknown control rule {rule!r}; use batch or vehicle")


def _mean_difference(profiles: np.ndarray, cases: np.ndarray, controls: np.ndarray) -> np.ndarray:
    """(genes, s) float64: each signature's mean of its cases less the mean of its controls, as
    one product of the profiles with the difference of the two weightings."""
    weights = _weights(cases) - _weights(controls)
    means: NDArray[np.float64] = np.asarray(profiles, dtype=np.float64) @ weights
    return means


def _weights(masks: np.ndarray) -> np.ndarray:
    counts: NDArray[np.float64] = masks / np.maximum(masks.sum(axis=0, keepdims=True), 1)
    return counts

"""Real-data check: do compounds shared by two independent real plates agree with themselves?

The plates (LJP005 and LJP009, A375 24 h, Level 3) were measured months apart. A profile's residual
is the well minus the per-gene median of its plate's vehicle (DMSO) wells, in L1000 space (before)
or in the model's RNA-seq-like space (after). For each compound and dose on both plates, its
residual on one plate is compared with every residual of the other plate: a good representation
puts the same compound at the same dose first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from transform.io import GeneMatrix


@dataclass(frozen=True)
class CrossPlateAgreement:
    n_shared: int  # compound-dose pairs on both plates
    same_r_median: float  # Pearson r of a pair's two residuals
    other_r_median: float  # r of a residual with the other plate's other compounds
    top1: float  # fraction whose best match on the other plate is itself
    median_rank: float  # median rank of itself among the other plate's treated wells (1 = best)


def residuals(values: np.ndarray, meta: pd.DataFrame) -> np.ndarray:
    """Each well minus the per-gene median of its plate's vehicle wells (genes x wells)."""
    vehicle = meta["pert_type"].astype(str).str.startswith("ctl_").to_numpy()
    residual: np.ndarray = values - np.median(values[:, vehicle], axis=1, keepdims=True)
    return residual


def cross_plate_agreement(
    first: np.ndarray, first_meta: pd.DataFrame, second: np.ndarray, second_meta: pd.DataFrame
) -> CrossPlateAgreement:
    """first/second: residuals (genes x wells) of two plates with their column metadata."""
    a_keys, b_keys = _keys(first_meta), _keys(second_meta)
    b_treated = np.flatnonzero(b_keys.notna().to_numpy())
    shared = [
        (i, np.flatnonzero(b_keys.to_numpy() == key))
        for i, key in enumerate(a_keys)
        if isinstance(key, str) and (b_keys == key).any()
    ]
    at = np.array([i for i, _ in shared], dtype=np.int64)
    # Pearson r of every shared well of the first plate with every treated well of the second
    r_all = _unit_columns(first[:, at]).T @ _unit_columns(second[:, b_treated])
    same, other, ranks = [], [], []
    for r, (_, matches) in zip(r_all, shared, strict=True):
        is_match = np.isin(b_treated, matches)
        same.append(np.nanmax(r[is_match]))
        other.extend(r[~is_match])
        ranks.append(1 + int(np.sum(r[~is_match] > np.nanmax(r[is_match]))))
    ranks_array = np.asarray(ranks, dtype=float)
    return CrossPlateAgreement(
        n_shared=len(shared),
        same_r_median=float(np.median(same)) if same else float("nan"),
        other_r_median=float(np.nanmedian(other)) if other else float("nan"),
        top1=float(np.mean(ranks_array == 1)) if ranks else float("nan"),
        median_rank=float(np.median(ranks_array)) if ranks else float("nan"),
    )


def _unit_columns(values: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit length (float64), so that a.T @ b holds Pearson r;
    constant columns become zeros (r = 0, as `column_pearson` gives)."""
    centred = np.asarray(values, dtype=np.float64)
    centred = centred - centred.mean(axis=0)
    norm = np.sqrt((centred * centred).sum(axis=0))
    unit: NDArray[np.float64] = np.divide(centred, norm, out=np.zeros_like(centred), where=norm > 0)
    return unit


def _keys(meta: pd.DataFrame) -> pd.Series:
    """'name@dose' for treated wells, NaN for the rest."""
    treated = meta["pert_type"].astype(str).str.startswith("trt_")
    dose = pd.to_numeric(meta["pert_dose"], errors="coerce").round(2).astype(str)
    keys = meta["pert_iname"].astype(str) + "@" + dose
    return keys.where(treated.to_numpy())


def before_and_after(
    plates: list[GeneMatrix],
    align: Callable[[GeneMatrix], np.ndarray],
    transform: Callable[[np.ndarray], np.ndarray],
) -> pd.DataFrame:
    """The agreement table in L1000 space (model inputs) and after the transform."""
    first, second = plates
    rows = []
    for space, project in (
        ("L1000 landmarks (before)", lambda x: x),
        ("RNA-seq-like, all output genes (after)", transform),
    ):
        values = [project(align(p)) for p in (first, second)]
        result = cross_plate_agreement(
            residuals(values[0], first.col_meta),
            first.col_meta,
            residuals(values[1], second.col_meta),
            second.col_meta,
        )
        rows.append({"space": space, **asdict(result)})
    return pd.DataFrame(rows)

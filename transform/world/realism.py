"""Statistics that compare a generated L1000 world with real Level 3 plates.

Input: a Level 3 GeneMatrix (genes x wells, log2) with inst_info-like column metadata: `rna_plate`,
`pert_type`, `pert_iname` (else `pert_id`), `pert_dose`, `cell_id`, and `pert_time` where present.
*Vehicle* wells: pert_type "ctl_*" (ctl_vehicle DMSO; ctl_vector, ctl_untrt where a plate has them);
*treated* wells: "trt_*".

Per plate (plates of under 3 wells skipped; at most `max_wells_per_plate` wells, seeded sample;
sampling limits and the seed in RealismSettings):
- value_min, value_p01, value_median, value_p99, value_max over all values;
- gene_mean_sd_spearman: Spearman r over genes of each gene's mean and SD (ddof=1) across wells;
  gene_sd_median: the median of those SDs;
- gene_corr_abs_median, gene_corr_frac_above_0.5: over all pairs of non-constant genes, the median
  |Pearson r| across wells and the fraction with |r| > 0.5;
- pc{1,5,10}_variance_fraction: variance share of the first 1, 5, 10 principal components of the
  gene-centred matrix;
- vehicle_gene_sd_median, treated_gene_sd_median: median over genes of the SD across the vehicle
  (treated) wells, and treated_vehicle_sd_ratio = treated / vehicle;
- treated_vehicle_distance_ratio: mean Euclidean distance of treated wells to the vehicle centroid
  over that of vehicle wells, each measured to the centroid of the *other* vehicle wells.
Aggregated over plates by the median; value_min by the minimum and value_max by the maximum.

Replicate agreement, over all plates. A well's *residual* is its profile minus the per-gene median
of its plate's vehicle wells (of all the plate's wells where it has fewer than 3 vehicle wells). A
treated well's *perturbation* is (name, pert_dose to 3 significant digits, cell_id, pert_time).
- replicate_r_median: median Pearson r of residuals over *cross-plate replicate pairs*: two treated
  wells of one perturbation on different plates (LJP005 and LJP009, both A375 24 h, share 22
  compound-dose pairs; a world's replicate plates _X1.._Xn share every perturbation of a batch);
- dose_neighbour_r_median: a weaker proxy within one plate: pairs of treated wells of one plate with
  one compound (name, cell, time) at neighbouring doses of the plate's dose ladder;
- *_null_r_median: the same over random pairs matched to each pair (i, j): i with a treated well k
  of j's plate whose compound name differs from i's (`null_draws` seeded draws per pair), so the
  null shares the plate structure of the pairs it is compared with;
- replicate_pairs, dose_neighbour_pairs: the number of pairs (statistics NaN without pairs; beyond
  `max_pairs`, a seeded sample of that many is scored).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from transform.io.matrix import GeneMatrix
from transform.normalize import average_ranks

PLATE = "rna_plate"
MIN_WELLS = 3
MIN_VEHICLE_WELLS = 3
CORRELATION_CUTOFF = 0.5
PC_COUNTS = (1, 5, 10)
Pairs = np.ndarray  # (n_pairs, 2) int well positions


@dataclass(frozen=True)
class RealismSettings:
    """Sampling limits; every random choice comes from `seed`."""

    seed: int = 0
    max_wells_per_plate: int = 1000
    null_draws: int = 20  # random pairs per replicate (or dose-neighbour) pair
    max_pairs: int = 5000  # replicate (dose-neighbour) pairs scored at most


def plate_statistics(
    matrix: GeneMatrix,
    *,
    col_meta: pd.DataFrame | None = None,
    settings: RealismSettings = RealismSettings(),
) -> dict[str, float]:
    """Per-plate statistics aggregated over plates, plus replicate agreement (see module doc)."""
    meta = _aligned_meta(matrix, col_meta)
    per_plate = per_plate_statistics(matrix, col_meta=meta, settings=settings)
    stats = {"n_plates": float(len(per_plate)), "n_wells": float(matrix.shape[1])}
    for name in per_plate.columns:
        column = per_plate[name]
        aggregate = {"value_min": column.min, "value_max": column.max}.get(name, column.median)
        stats[name] = float(aggregate())
    stats.update(replicate_statistics(matrix, col_meta=meta, settings=settings))
    return stats


def per_plate_statistics(
    matrix: GeneMatrix,
    *,
    col_meta: pd.DataFrame | None = None,
    settings: RealismSettings = RealismSettings(),
) -> pd.DataFrame:
    """One row of statistics per plate (index: rna_plate), columns as in the module doc."""
    meta = _aligned_meta(matrix, col_meta)
    rng = np.random.default_rng(settings.seed)
    pert_type = meta["pert_type"].to_numpy(dtype=str)
    rows = {}
    for plate, wells in _plate_wells(meta).items():
        if wells.size < MIN_WELLS:
            continue
        if wells.size > settings.max_wells_per_plate:
            wells = np.sort(rng.choice(wells, size=settings.max_wells_per_plate, replace=False))
        values = np.asarray(matrix.values[:, wells], dtype=np.float64)
        rows[plate] = {
            **_value_range(values),
            **_mean_variance(values),
            **_gene_correlations(values),
            **_principal_components(values),
            **_vehicle_spread(values, _is_vehicle(pert_type[wells]), _is_treated(pert_type[wells])),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def replicate_statistics(
    matrix: GeneMatrix,
    *,
    col_meta: pd.DataFrame | None = None,
    settings: RealismSettings = RealismSettings(),
) -> dict[str, float]:
    """Replicate and dose-neighbour agreement against plate-matched random pairs (module doc)."""
    meta = _aligned_meta(matrix, col_meta)
    residuals = _residuals(np.asarray(matrix.values, dtype=np.float64), meta)
    labels = _perturbation_labels(meta)
    rng = np.random.default_rng(settings.seed)
    stats: dict[str, float] = {}
    for name, pairs in (
        ("replicate", _replicate_pairs(labels)),
        ("dose_neighbour", _dose_neighbour_pairs(labels)),
    ):
        stats[f"{name}_pairs"] = float(len(pairs))
        if len(pairs) > settings.max_pairs:
            pairs = pairs[np.sort(rng.choice(len(pairs), size=settings.max_pairs, replace=False))]
        null = _null_pairs(pairs, labels, rng, settings.null_draws)
        stats[f"{name}_r_median"] = _median(_pair_correlations(residuals, pairs))
        stats[f"{name}_null_r_median"] = _median(_pair_correlations(residuals, null))
    return stats


def compare_table(real: dict[str, float], world: dict[str, float]) -> str:
    """A markdown table: one row per statistic, columns real, world and world / real."""
    names = list(real) + [name for name in world if name not in real]
    lines = ["| statistic | real | world | world / real |", "|---|---:|---:|---:|"]
    for name in names:
        a, b = real.get(name, math.nan), world.get(name, math.nan)
        ratio = b / a if math.isfinite(a) and math.isfinite(b) and a != 0 else math.nan
        lines.append(f"| {name} | {_fmt(a)} | {_fmt(b)} | {_fmt(ratio)} |")
    return "\n".join(lines) + "\n"


def _fmt(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "n/a"


def _aligned_meta(matrix: GeneMatrix, col_meta: pd.DataFrame | None) -> pd.DataFrame:
    if col_meta is None:
        return matrix.col_meta
    missing = matrix.col_ids.difference(col_meta.index)
    if len(missing):
        raise ValueError(f"{len(missing)} matrix columns lack metadata, e.g. {missing[0]!r}")
    return col_meta.loc[matrix.col_ids]


def _plate_wells(meta: pd.DataFrame) -> dict[str, np.ndarray]:
    codes, plates = pd.factorize(meta[PLATE].astype(str))
    return {plate: np.flatnonzero(codes == i) for i, plate in enumerate(plates)}


def _is_vehicle(pert_type: np.ndarray) -> np.ndarray:
    return np.char.startswith(pert_type.astype(str), "ctl_")


def _is_treated(pert_type: np.ndarray) -> np.ndarray:
    return np.char.startswith(pert_type.astype(str), "trt_")


def _value_range(values: np.ndarray) -> dict[str, float]:
    p01, median, p99 = np.percentile(values, [1, 50, 99])
    return {
        "value_min": float(values.min()),
        "value_p01": float(p01),
        "value_median": float(median),
        "value_p99": float(p99),
        "value_max": float(values.max()),
    }


def _mean_variance(values: np.ndarray) -> dict[str, float]:
    mean, sd = values.mean(axis=1), values.std(axis=1, ddof=1)
    ranks = average_ranks(np.column_stack([mean, sd]))
    return {
        "gene_mean_sd_spearman": _pearson(ranks[:, 0], ranks[:, 1]),
        "gene_sd_median": float(np.median(sd)),
    }


def _gene_correlations(values: np.ndarray) -> dict[str, float]:
    varying = values[values.std(axis=1) > 0]
    if len(varying) < 2:
        return {
            "gene_corr_abs_median": math.nan,
            f"gene_corr_frac_above_{CORRELATION_CUTOFF}": math.nan,
        }
    upper = np.triu_indices(len(varying), k=1)
    r = np.abs(np.corrcoef(varying)[upper])
    return {
        "gene_corr_abs_median": float(np.median(r)),
        f"gene_corr_frac_above_{CORRELATION_CUTOFF}": float(np.mean(r > CORRELATION_CUTOFF)),
    }


def _principal_components(values: np.ndarray) -> dict[str, float]:
    centred = values - values.mean(axis=1, keepdims=True)
    variance = np.linalg.svd(centred, compute_uv=False) ** 2
    total = variance.sum()
    explained = np.cumsum(variance) / total if total > 0 else np.full(variance.shape, math.nan)
    return {
        f"pc{k}_variance_fraction": float(explained[min(k, explained.size) - 1]) for k in PC_COUNTS
    }


def _vehicle_spread(
    values: np.ndarray, vehicle: np.ndarray, treated: np.ndarray
) -> dict[str, float]:
    v, t = values[:, vehicle], values[:, treated]
    vehicle_sd, treated_sd = _median_gene_sd(v), _median_gene_sd(t)
    return {
        "vehicle_gene_sd_median": vehicle_sd,
        "treated_gene_sd_median": treated_sd,
        "treated_vehicle_sd_ratio": _ratio(treated_sd, vehicle_sd),
        "treated_vehicle_distance_ratio": _distance_ratio(v, t),
    }


def _median_gene_sd(values: np.ndarray) -> float:
    return float(np.median(values.std(axis=1, ddof=1))) if values.shape[1] >= 2 else math.nan


def _distance_ratio(vehicle: np.ndarray, treated: np.ndarray) -> float:
    """Mean distance of treated wells to the vehicle centroid / the same for vehicle wells (LOO)."""
    n = vehicle.shape[1]
    if n < 2 or treated.shape[1] == 0:
        return math.nan
    total = vehicle.sum(axis=1, keepdims=True)
    vehicle_distance = np.linalg.norm(vehicle - (total - vehicle) / (n - 1), axis=0).mean()
    treated_distance = np.linalg.norm(treated - total / n, axis=0).mean()
    return _ratio(treated_distance, vehicle_distance)


def _ratio(numerator: float, denominator: float) -> float:
    finite = math.isfinite(numerator) and math.isfinite(denominator)
    return float(numerator / denominator) if finite and denominator > 0 else math.nan


def _residuals(values: np.ndarray, meta: pd.DataFrame) -> np.ndarray:
    """Each well minus its plate's vehicle median profile (or plate median, few vehicle wells)."""
    vehicle = _is_vehicle(meta["pert_type"].to_numpy(dtype=str))
    residuals = np.empty_like(values)
    for wells in _plate_wells(meta).values():
        controls = wells[vehicle[wells]]
        base = controls if controls.size >= MIN_VEHICLE_WELLS else wells
        residuals[:, wells] = values[:, wells] - np.median(values[:, base], axis=1, keepdims=True)
    return residuals


def _perturbation_labels(meta: pd.DataFrame) -> pd.DataFrame:
    """Per well: plate code, compound name, dose (3 significant digits), condition, treated flag."""
    name = meta["pert_iname"] if "pert_iname" in meta else meta["pert_id"]
    dose = pd.to_numeric(meta["pert_dose"], errors="coerce").to_numpy(dtype=float)
    dose = np.array([float(f"{d:.3g}") for d in dose])
    condition = meta["cell_id"].astype(str)
    if "pert_time" in meta:
        condition = condition + "|" + meta["pert_time"].astype(str)
    return pd.DataFrame(
        {
            "plate": pd.factorize(meta[PLATE].astype(str))[0],
            "name": name.astype(str).to_numpy(),
            "dose": dose,
            "condition": condition.to_numpy(),
            "treated": _is_treated(meta["pert_type"].to_numpy(dtype=str)),
        }
    )


def _replicate_pairs(labels: pd.DataFrame) -> Pairs:
    treated = labels[labels["treated"]]
    pairs = []
    for _, group in treated.groupby(["name", "dose", "condition"], dropna=False):
        wells, plates = group.index.to_numpy(), group["plate"].to_numpy()
        i, j = np.triu_indices(len(wells), k=1)
        cross = plates[i] != plates[j]
        pairs.append(np.column_stack([wells[i[cross]], wells[j[cross]]]))
    return _stack(pairs)


def _dose_neighbour_pairs(labels: pd.DataFrame) -> Pairs:
    treated = labels[labels["treated"] & np.isfinite(labels["dose"])]
    pairs = []
    for _, group in treated.groupby(["plate", "name", "condition"]):
        doses = np.unique(group["dose"].to_numpy())
        for low, high in itertools.pairwise(doses):
            a = group.index[group["dose"] == low].to_numpy()
            b = group.index[group["dose"] == high].to_numpy()
            pairs.append(np.stack(np.meshgrid(a, b, indexing="ij"), axis=-1).reshape(-1, 2))
    return _stack(pairs)


def _null_pairs(pairs: Pairs, labels: pd.DataFrame, rng: np.random.Generator, draws: int) -> Pairs:
    """For each pair (i, j), `draws` pairs (i, k): k treated, on j's plate, another compound."""
    plate, name = labels["plate"].to_numpy(), labels["name"].to_numpy()
    treated = labels["treated"].to_numpy()
    null = []
    for i, j in pairs:
        candidates = np.flatnonzero(treated & (plate == plate[j]) & (name != name[i]))
        if candidates.size:
            null.append(np.column_stack([np.full(draws, i), rng.choice(candidates, size=draws)]))
    return _stack(null)


def _stack(pairs: list[np.ndarray]) -> Pairs:
    return np.concatenate(pairs).astype(int) if pairs else np.empty((0, 2), dtype=int)


def _pair_correlations(residuals: np.ndarray, pairs: Pairs, block: int = 4096) -> np.ndarray:
    """Pearson r across genes for each pair of columns; pairs of a constant column are left out."""
    out = []
    for start in range(0, len(pairs), block):
        part = pairs[start : start + block]
        a = residuals[:, part[:, 0]] - residuals[:, part[:, 0]].mean(axis=0)
        b = residuals[:, part[:, 1]] - residuals[:, part[:, 1]].mean(axis=0)
        norms = np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0)
        keep = norms > 0
        out.append((a[:, keep] * b[:, keep]).sum(axis=0) / norms[keep])
    return np.concatenate(out) if out else np.empty(0)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    r = _pair_correlations(np.column_stack([a, b]), np.array([[0, 1]]))
    return float(r[0]) if r.size else math.nan


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else math.nan

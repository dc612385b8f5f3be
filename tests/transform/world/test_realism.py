"""Realism statistics: known answers on built matrices, plausible values on real L1000 plates."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from transform.io.matrix import GeneMatrix
from transform.world.realism import (
    RealismSettings,
    compare_table,
    per_plate_statistics,
    plate_statistics,
)

L1000 = Path(__file__).resolve().parents[2] / "data" / "l1000"
REAL_PLATES = (
    "LJP005_A375_24H_X1_B19_QNORM_n377x978.gct",
    "LJP009_A375_24H_X1_B20_QNORM_n371x978.gct",
)


def read_gct13(path: Path) -> GeneMatrix:
    """Minimal GCT 1.3 reader: `#1.3`, dimensions, header, column-metadata rows, data rows."""
    with path.open() as handle:
        handle.readline()
        _, _, n_row_meta, n_col_meta = map(int, handle.readline().split())
    table = pd.read_csv(path, sep="\t", skiprows=2, index_col=0, dtype=str)
    return GeneMatrix(
        values=table.iloc[n_col_meta:, n_row_meta:].to_numpy(dtype=np.float64),
        row_meta=table.iloc[n_col_meta:, :n_row_meta],
        col_meta=table.iloc[:n_col_meta, n_row_meta:].T,
    )


def plate_meta(plate: str, pert_types: list[str], **columns: list) -> pd.DataFrame:
    n = len(pert_types)
    meta = pd.DataFrame(
        {
            "rna_plate": plate,
            "pert_type": pert_types,
            "pert_iname": columns.get("names", [f"{plate}-w{i}" for i in range(n)]),
            "pert_dose": columns.get("doses", [-666.0] * n),
            "cell_id": "A375",
        }
    )
    meta.index = [f"{plate}:{i}" for i in range(n)]
    return meta


def matrix_of(values: np.ndarray, meta: pd.DataFrame) -> GeneMatrix:
    genes = pd.DataFrame(index=[f"g{i}" for i in range(values.shape[0])])
    return GeneMatrix(values=values, row_meta=genes, col_meta=meta)


def one_plate(values: np.ndarray, n_vehicle: int = 0) -> GeneMatrix:
    n = values.shape[1]
    types = ["ctl_vehicle"] * n_vehicle + ["trt_cp"] * (n - n_vehicle)
    return matrix_of(values, plate_meta("P1", types))


def replicate_world(seed: int, n_genes: int = 300, n_compounds: int = 40) -> GeneMatrix:
    """Plates B_X1..B_X3, one layout: 8 DMSO wells, each compound at 1 and 10 uM (effect x1, x3).

    Profiles: 8 + gene baseline + plate shift + dose x compound effect + well noise (SD 0.3).
    """
    rng = np.random.default_rng(seed)
    baseline = rng.normal(0, 1.5, size=(n_genes, 1))
    effects = rng.normal(0, 0.3, size=(n_genes, n_compounds))
    names = ["DMSO"] * 8 + [f"cmpd-{c}" for c in range(n_compounds) for _ in (1, 10)]
    doses = [-666.0] * 8 + [d for _ in range(n_compounds) for d in (1.0, 10.0)]
    signal = np.hstack(
        [np.zeros((n_genes, 8)), np.repeat(effects, 2, axis=1) * ([1, 3] * n_compounds)]
    )
    types = ["ctl_vehicle"] * 8 + ["trt_cp"] * (2 * n_compounds)
    blocks, metas = [], []
    for x in (1, 2, 3):
        shift = rng.normal(0, 0.5, size=(n_genes, 1))
        noise = rng.normal(0, 0.3, size=signal.shape)
        blocks.append(8 + baseline + shift + signal + noise)
        metas.append(plate_meta(f"B_X{x}", types, names=names, doses=doses))
    return matrix_of(np.hstack(blocks), pd.concat(metas))


def test_a_one_factor_matrix_puts_nearly_all_variance_in_the_first_component() -> None:
    rng = np.random.default_rng(0)
    loadings, factor = rng.normal(size=(200, 1)), rng.normal(size=(1, 120))
    values = 8 + loadings @ factor + rng.normal(0, 0.01, size=(200, 120))
    stats = plate_statistics(one_plate(values))
    assert stats["pc1_variance_fraction"] > 0.99
    assert stats["pc10_variance_fraction"] <= 1.0
    assert stats["gene_corr_abs_median"] > 0.99
    assert stats["gene_corr_frac_above_0.5"] > 0.95  # pairs with a near-zero loading fall below


def test_pure_noise_has_no_gene_correlation_and_no_dominant_component() -> None:
    values = 8 + np.random.default_rng(1).normal(size=(200, 400))
    stats = plate_statistics(one_plate(values))
    assert stats["gene_corr_abs_median"] == pytest.approx(0.674 / math.sqrt(400), abs=0.005)
    assert stats["gene_corr_frac_above_0.5"] == 0.0
    assert stats["pc1_variance_fraction"] < 0.02  # Marchenko-Pastur edge: (1 + sqrt(1/2))^2 / 200


def test_the_value_range_of_a_tiny_plate_is_exact() -> None:
    values = np.arange(1.0, 201.0).reshape(10, 20)
    stats = plate_statistics(one_plate(values))
    assert (stats["value_min"], stats["value_median"], stats["value_max"]) == (1.0, 100.5, 200.0)
    assert stats["value_p01"] == pytest.approx(1 + 0.01 * 199)
    assert stats["value_p99"] == pytest.approx(1 + 0.99 * 199)
    assert stats["gene_sd_median"] == pytest.approx(np.std(np.arange(20.0), ddof=1))


def test_gene_spread_growing_with_the_mean_gives_a_spearman_of_one() -> None:
    rng = np.random.default_rng(2)
    means = np.linspace(4, 14, 100)[:, None]
    values = means + (means / 10) * rng.standard_normal((100, 2000))
    stats = plate_statistics(one_plate(values))
    assert stats["gene_mean_sd_spearman"] > 0.99
    flat = plate_statistics(one_plate(means + rng.standard_normal((100, 2000))))
    assert abs(flat["gene_mean_sd_spearman"]) < 0.3


def test_treated_wells_three_times_as_noisy_as_vehicle_wells_give_ratios_near_three() -> None:
    rng = np.random.default_rng(3)
    vehicle = 8 + rng.normal(0, 0.1, size=(978, 40))
    treated = 8 + rng.normal(0, 0.3, size=(978, 300))
    stats = plate_statistics(one_plate(np.hstack([vehicle, treated]), n_vehicle=40))
    assert stats["vehicle_gene_sd_median"] == pytest.approx(0.1, rel=0.05)
    assert stats["treated_gene_sd_median"] == pytest.approx(0.3, rel=0.05)
    assert stats["treated_vehicle_sd_ratio"] == pytest.approx(3.0, rel=0.05)
    # Leave-one-out: sqrt((0.3^2 + 0.1^2/40) / (0.1^2 * (1 + 1/39))) = 2.97
    assert stats["treated_vehicle_distance_ratio"] == pytest.approx(2.97, rel=0.02)


def test_replicate_plates_agree_far_above_random_pairs() -> None:
    stats = plate_statistics(replicate_world(4))
    assert stats["n_plates"] == 3
    assert stats["replicate_pairs"] == 40 * 2 * 3  # 80 perturbations, 3 plate pairs each
    assert stats["replicate_r_median"] > 0.6
    assert abs(stats["replicate_null_r_median"]) < 0.1
    assert stats["dose_neighbour_pairs"] == 40 * 3  # 1 uM with 10 uM, on each plate
    assert stats["dose_neighbour_r_median"] > 0.4
    assert abs(stats["dose_neighbour_null_r_median"]) < 0.1


def test_without_replicates_the_replicate_statistics_are_missing() -> None:
    stats = plate_statistics(one_plate(np.random.default_rng(5).normal(8, 1, size=(50, 30)), 5))
    assert stats["replicate_pairs"] == 0
    assert math.isnan(stats["replicate_r_median"])
    assert math.isnan(stats["replicate_null_r_median"])


def test_plates_aggregate_by_the_median_but_keep_the_extremes() -> None:
    rng = np.random.default_rng(6)
    low, high = rng.uniform(3, 5, size=(60, 30)), rng.uniform(10, 15, size=(60, 30))
    meta = pd.concat([plate_meta("P1", ["trt_cp"] * 30), plate_meta("P2", ["trt_cp"] * 30)])
    matrix = matrix_of(np.hstack([low, high]), meta)
    per_plate = per_plate_statistics(matrix)
    stats = plate_statistics(matrix)
    assert list(per_plate.index) == ["P1", "P2"]
    assert stats["value_min"] == low.min()
    assert stats["value_max"] == high.max()
    assert stats["value_median"] == pytest.approx((np.median(low) + np.median(high)) / 2)


def test_column_metadata_may_come_separately_and_in_another_order() -> None:
    world = replicate_world(7, n_genes=50, n_compounds=6)
    shuffled = world.col_meta.sample(frac=1.0, random_state=0)
    bare = GeneMatrix(world.values, world.row_meta, pd.DataFrame(index=world.col_ids))
    assert plate_statistics(bare, col_meta=shuffled) == plate_statistics(world)
    with pytest.raises(ValueError, match="lack metadata"):
        plate_statistics(world, col_meta=shuffled.iloc[1:])


def test_sampled_wells_are_the_same_for_the_same_seed() -> None:
    world = replicate_world(8, n_genes=50, n_compounds=30)
    sampled = [RealismSettings(seed=seed, max_wells_per_plate=20) for seed in (1, 1, 2)]
    first, again, other = (per_plate_statistics(world, settings=s) for s in sampled)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_compare_table_shows_real_world_and_their_ratio() -> None:
    table = compare_table({"a": 2.0, "b": 0.0}, {"a": 3.0, "b": 1.0, "c": 5.0})
    assert table.splitlines() == [
        "| statistic | real | world | world / real |",
        "|---|---:|---:|---:|",
        "| a | 2 | 3 | 1.5 |",
        "| b | 0 | 1 | n/a |",
        "| c | n/a | 5 | n/a |",
    ]


@pytest.fixture(scope="module")
def real_plates() -> list[GeneMatrix]:
    return [read_gct13(L1000 / name) for name in REAL_PLATES]


@pytest.fixture(scope="module")
def both_real_plates(real_plates: list[GeneMatrix]) -> GeneMatrix:
    first, second = real_plates
    aligned = second.values[second.row_ids.get_indexer(first.row_ids)]
    col_meta = pd.concat([first.col_meta, second.col_meta])
    return GeneMatrix(np.hstack([first.values, aligned]), first.row_meta, col_meta)


def test_each_real_plate_gives_finite_plausible_statistics(real_plates: list[GeneMatrix]) -> None:
    for plate in real_plates:
        stats = plate_statistics(plate)
        per_plate = {k: v for k, v in stats.items() if not k.startswith("replicate")}
        assert all(math.isfinite(v) for v in per_plate.values()), stats
        assert 2.7 < stats["value_min"] < stats["value_p01"] < 4.0
        assert 8.0 < stats["value_median"] < 9.0
        assert 13.0 < stats["value_p99"] < stats["value_max"] < 15.01
        assert 0.4 < stats["gene_sd_median"] < 0.8
        assert 0.05 < stats["gene_corr_abs_median"] < 0.3
        assert 0.1 < stats["pc1_variance_fraction"] < 0.5
        assert stats["treated_vehicle_sd_ratio"] > 1.0
        assert stats["treated_vehicle_distance_ratio"] > 1.0
        assert stats["dose_neighbour_r_median"] > stats["dose_neighbour_null_r_median"] + 0.05


def test_real_cross_plate_replicates_agree_above_random_pairs(both_real_plates: GeneMatrix) -> None:
    stats = plate_statistics(both_real_plates)
    assert stats["n_plates"] == 2
    assert stats["replicate_pairs"] == 22  # 5 shared compounds, 22 shared compound-dose pairs
    assert stats["replicate_r_median"] > 0.25
    assert abs(stats["replicate_null_r_median"]) < 0.1
    assert stats["value_min"] == pytest.approx(2.7863)
    assert stats["value_max"] == pytest.approx(15.0001)

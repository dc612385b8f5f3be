"""The world settings (docs/world.md): each generates, and each does what it says to the part of
the world it changes; the default setting is the default world, draw for draw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from transform.io import read_gctx
from transform.world.biology import DIRECT_GENES, REGULATORS, TARGETS
from transform.world.config import SETTINGS, world_config
from transform.world.generate import build_world, generate_world
from transform.world.layout import batches
from transform.world.samples import l1000_plate, rnaseq_chunk, series_sizes

SEED = 3


def _world(setting: str, **overrides: object):
    return build_world(world_config("demo", seed=SEED, setting=setting, **overrides))


@pytest.fixture(scope="module")
def default():
    return _world("default")


def _compounds(world) -> np.ndarray:
    return np.flatnonzero(world.biology.perturbations["pert_type"].to_numpy() == "trt_cp")


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_a_world_of_each_setting_builds_and_samples_a_plate(setting: str) -> None:
    world = _world(setting)
    assert world.config.setting == setting
    batch = next(batches(world.config, world.biology))
    plate = l1000_plate(world, batch, 0)
    assert plate.shape == (978, 384)
    assert np.isfinite(plate).all()


def test_the_default_setting_is_the_default_world(default) -> None:
    plain = build_world(world_config("demo", seed=SEED))
    perts = np.arange(len(plain.biology.perturbations))
    assert np.array_equal(default.biology.effects(perts), plain.biology.effects(perts))


def test_weak_effects_are_the_default_effects_halved(default) -> None:
    weak = _world("weak")
    perts = np.arange(len(default.biology.perturbations))
    assert np.allclose(weak.biology.effects(perts), 0.5 * default.biology.effects(perts))


def test_with_landmark_regulators_half_of_each_effect_goes_through_landmark_regulators(
    default,
) -> None:
    world = _world("regulators")
    compounds = _compounds(world)
    mine, plain = world.biology, default.biology
    assert np.allclose(mine.pert_modules[compounds], 0.5 * plain.pert_modules[compounds])
    moved = mine.pert_direct_genes[compounds, DIRECT_GENES : DIRECT_GENES + REGULATORS]
    assert np.isin(moved, world.universe.landmark_index).all()
    values = mine.pert_direct_values[compounds]
    regulator = values[:, DIRECT_GENES : DIRECT_GENES + REGULATORS]
    targets = values[:, DIRECT_GENES + REGULATORS :].reshape(len(compounds), REGULATORS, TARGETS)
    ratios = targets / regulator[:, :, None]  # each target follows its regulator by one weight
    moa = mine.perturbations["moa"].to_numpy()[compounds]
    for group in np.unique(moa):  # the same weights for a whole mechanism
        assert np.allclose(ratios[moa == group], ratios[moa == group][:1], rtol=1e-4)
    assert np.abs(regulator).mean() > 0.5


def test_noisy_plates_disagree_more_between_replicates(default) -> None:
    spread = []
    for world in (default, _world("noisy")):
        batch = next(batches(world.config, world.biology))
        first, second = l1000_plate(world, batch, 0), l1000_plate(world, batch, 1)
        spread.append(np.std(first - second))
    assert spread[1] > 1.3 * spread[0]


def test_few_cell_lines_leave_the_collection_mostly_tissues(default) -> None:
    shares = []
    for world in (default, _world("few-cell-lines")):
        series = series_sizes(400, world.config.seed)
        _, meta = rnaseq_chunk(world, 0, 400, series)
        cells = set(world.biology.cell_ids)
        labels = meta["source_name_ch1"].astype(str)
        shares.append(np.mean([label.split(" ")[0] in cells for label in labels]))
    assert shares[0] == pytest.approx(0.3, abs=0.07)
    assert shares[1] == pytest.approx(0.12, abs=0.05)


def test_a_hard_world_generates_its_files(tmp_path: Path) -> None:
    config = world_config(
        "demo",
        seed=SEED,
        setting="hard",
        n_rnaseq_samples=200,
        n_paired_samples=48,
        chunk_samples=100,
    )
    manifest = generate_world(config, tmp_path, parts=("l1000", "truth"), progress=lambda _: None)
    assert manifest["config"]["setting"] == "hard"
    assert manifest["config"]["effect_scale"] == 0.5
    assert read_gctx(tmp_path / "l1000" / "level3.gctx").values.shape[0] == 978
    assert (tmp_path / "truth" / "effects.gctx").exists()


def _plain_saturated_difference(bio, pert: int, cell: int, response: float, genes) -> np.ndarray:
    """What `response` of perturbation `pert` adds to cell line `cell`'s noise-free expression,
    from the definition (docs/world.md): s * tanh(u / s) of the module part, direct genes added."""
    loadings = bio.loadings[genes].astype(np.float64)
    u = loadings @ bio.cell_states[cell]
    shift = loadings @ bio.pert_modules[pert]
    s = bio.saturation[genes]
    moved = s * np.tanh((u + response * shift) / s) - s * np.tanh(u / s)
    for gene, value in zip(bio.pert_direct_genes[pert], bio.pert_direct_values[pert], strict=True):
        moved[genes == gene] += response * value
    return moved


def test_a_saturating_world_bends_each_gene_and_keeps_the_other_draws(default) -> None:
    world = _world("saturating")
    bio, plain = world.biology, default.biology
    assert plain.saturation is None
    assert np.array_equal(bio.loadings, plain.loadings)
    assert np.array_equal(bio.pert_modules, plain.pert_modules)
    assert np.median(bio.saturation) == pytest.approx(1.0, rel=0.05)
    genes = np.arange(400)
    rng = np.random.default_rng(0)
    far = np.full((2, bio.loadings.shape[1]), 40.0) * np.array([[1.0], [-1.0]])
    none = np.full(2, -1)
    x = bio.expression(far, 0.0, none, np.zeros(2), genes, rng, noise_sd=0.0)
    loaded = np.abs(bio.loadings[genes]).sum(axis=1) > 0
    assert np.all(np.abs(x - bio.baseline[genes]) <= bio.saturation[genes] + 1e-9)
    assert np.abs(x - bio.baseline[genes])[:, loaded].max() > 0.9 * bio.saturation[genes].min()


def test_a_saturating_worlds_effects_are_what_a_response_adds_to_each_cell_line() -> None:
    bio = _world("saturating").biology
    rng = np.random.default_rng(0)
    genes = np.concatenate([np.arange(300), bio.pert_direct_genes[7]])
    for pert in (7, len(bio.perturbations) - 1):  # a compound and a knock-out
        means = []
        for cell in range(len(bio.cell_ids)):
            z = np.repeat(bio.cell_states[cell][None], 3, axis=0)
            perts, response = np.array([-1, pert, pert]), np.array([0.0, 1.0, 0.4])
            x = bio.expression(z, 0.0, perts, response, genes, rng, noise_sd=0.0)
            for row, level in ((1, 1.0), (2, 0.4)):
                reference = _plain_saturated_difference(bio, pert, cell, level, genes)
                assert np.allclose(x[row] - x[0], reference, atol=1e-9)
            means.append(x[1] - x[0])
        assert np.allclose(bio.effects(np.array([pert]), genes)[0], np.mean(means, axis=0))
    half = _plain_saturated_difference(bio, 7, 0, 0.5, genes)
    full = _plain_saturated_difference(bio, 7, 0, 1.0, genes)
    assert not np.allclose(2 * half, full, atol=1e-3)  # not linear in the response

"""Characteristic direction: the batch shortcut against a float64 port of the released code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from transform.signatures.cd import (
    BatchDirections,
    Standardized,
    characteristic_direction,
    standardize,
)
from transform.signatures.compute import SignatureSettings, batch_signatures


def reference_chdir(
    controls: np.ndarray, cases: np.ndarray, gamma: float = 1.0, per_gene: bool = False
) -> np.ndarray:
    """A line-by-line port of the released `chdir` (scipy zscore, sklearn-style PCA via SVD)."""
    data = np.concatenate([controls, cases], axis=1).astype(np.float64)
    axis = 1 if per_gene else 0
    data = (data - data.mean(axis=axis, keepdims=True)) / data.std(axis=axis, keepdims=True)
    n1, n2 = controls.shape[1], cases.shape[1]
    m1 = np.arange(n1 + n2) < n1
    m2 = ~m1
    meanvec = data[:, m2].mean(axis=1) - data[:, m1].mean(axis=1)
    samples = data.T
    centred = samples - samples.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    ratio = s**2 / np.sum(s**2)
    keep = len(ratio[ratio > 0.001])
    v = vt[:keep].T
    r = (centred @ vt.T)[:, :keep]
    dd = (r[m1].T @ r[m1] + r[m2].T @ r[m2]) / float(n1 + n2 - 2)
    sigma = np.mean(np.diag(dd))
    shrunk = np.linalg.inv(gamma * dd + sigma * (1 - gamma) * np.eye(keep))
    b = v @ ((v.T @ meanvec) @ shrunk)
    return b / np.linalg.norm(b)


def _batch(rng: np.random.Generator, genes: int = 300, wells: int = 60) -> np.ndarray:
    factors = rng.normal(0.0, 1.0, (genes, 4)) @ rng.normal(0.0, 1.0, (4, wells))
    return 8.0 + rng.normal(0.0, 1.5, (genes, 1)) + factors + rng.normal(0.0, 0.5, (genes, wells))


@pytest.mark.parametrize(
    ("seed", "gamma", "per_gene"), [(0, 1.0, False), (1, 0.5, False), (2, 1.0, True)]
)
def test_the_direct_computation_equals_the_released_code(
    seed: int, gamma: float, per_gene: bool
) -> None:
    rng = np.random.default_rng(seed)
    batch = _batch(rng)
    controls, cases = batch[:, :52], batch[:, 52:] + rng.normal(0.0, 1.0, (300, 1))
    ours = characteristic_direction(controls, cases, gamma=gamma, per_gene=per_gene)
    expected = reference_chdir(controls, cases, gamma=gamma, per_gene=per_gene)
    assert float(ours @ expected) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("per_gene", [False, True])
def test_every_batch_signature_equals_its_direct_computation(per_gene: bool) -> None:
    rng = np.random.default_rng(3)
    batch = _batch(rng, genes=400, wells=90)
    masks = np.zeros((90, 12), dtype=bool)
    for s in range(12):
        wells = rng.choice(90, size=3 + s % 3, replace=False)
        masks[wells, s] = True
        batch[:, wells] += rng.normal(0.0, 1.0, (400, 1))
    shared = BatchDirections.fit(batch, per_gene=per_gene).signatures(masks)
    for s in range(12):
        direct = reference_chdir(batch[:, ~masks[:, s]], batch[:, masks[:, s]], per_gene=per_gene)
        assert float(shared[:, s] @ direct) == pytest.approx(1.0, abs=1e-6)


def test_a_shift_along_one_direction_is_found() -> None:
    rng = np.random.default_rng(4)
    controls = rng.normal(0.0, 1.0, (200, 40))
    direction = np.zeros(200)
    direction[:10], direction[10:20] = 3.0, -3.0
    cases = rng.normal(0.0, 1.0, (200, 6)) + direction[:, None]
    b = characteristic_direction(controls, cases)
    assert set(range(10)) <= set(np.argsort(b)[-12:])  # the raised genes lead
    assert len(set(range(10, 20)) & set(np.argsort(b)[:12])) >= 9  # the lowered ones trail
    assert np.corrcoef(b, direction)[0, 1] > 0.7
    assert np.linalg.norm(b) == pytest.approx(1.0)


def test_standardization_follows_scipy_defaults() -> None:
    data = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])
    per_sample = standardize(data)
    assert per_sample[:, 0] == pytest.approx([-1.224744871391589, 0.0, 1.224744871391589])
    assert standardize(data, per_gene=True)[0] == pytest.approx([-1.0, 1.0])


def test_golden_values_on_a_seeded_batch() -> None:
    rng = np.random.default_rng(2024)
    batch = _batch(rng, genes=50, wells=20)
    b = characteristic_direction(batch[:, :16], batch[:, 16:])
    expected = reference_chdir(batch[:, :16], batch[:, 16:])
    assert b[:4] == pytest.approx(expected[:4], abs=1e-10)
    assert b[:4] == pytest.approx(GOLDEN, abs=1e-6)


# From the released algorithm (reference_chdir) on this seeded batch, kept to catch drift in both.
GOLDEN = [0.033207627871017324, 0.15584323476479825, 0.15473719762095978, 0.14436789646962023]


def _torch_devices() -> list:
    import torch

    gpu = pytest.param(
        "cuda",
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
        ],
    )
    return ["cpu", gpu]


@pytest.mark.parametrize("device", _torch_devices())
def test_the_torch_path_equals_the_numpy_path(device: str) -> None:
    from transform.signatures.torch_cd import batch_directions_torch

    rng = np.random.default_rng(6)
    batch = _batch(rng, genes=500, wells=80)
    masks = np.zeros((80, 9), dtype=bool)
    for s in range(9):
        masks[rng.choice(80, size=3, replace=False), s] = True
    expected = BatchDirections.fit(batch).signatures(masks)
    given = batch.copy()
    ours, _ = batch_directions_torch(batch, masks, device=device)
    assert np.array_equal(batch, given)  # the profiles are left as they were
    assert np.abs(ours - expected).max() < 1e-9
    for per_gene in (False, True):  # and the fold changes from the same product, from float32
        found, found_differences = batch_directions_torch(
            batch.astype(np.float32), masks, device=device, per_gene=per_gene
        )
        shared = BatchDirections.fit(batch.astype(np.float32), per_gene=per_gene)
        cd, differences = shared.with_differences(masks)
        assert np.abs(found - cd).max() < 1e-9
        assert np.abs(found_differences - differences).max() < 1e-9


@pytest.mark.parametrize("per_gene", [False, True])
def test_standardized_z_scores_are_their_definition_and_are_undone(per_gene: bool) -> None:
    """z = (x - mean) / sd along the axis (sd 0 left at 1), and z scale + centre gives x back;
    undone_product(w, z @ scaled(w)) is x @ w."""
    rng = np.random.default_rng(7)
    data = _batch(rng, genes=40, wells=12)
    data[:, 3] = 2.5  # a constant sample
    data[5, :] = -1.0  # a constant gene
    axis = 1 if per_gene else 0
    sd = data.std(axis=axis, keepdims=True)
    expected = (data - data.mean(axis=axis, keepdims=True)) / np.where(sd > 0, sd, 1.0)
    found = Standardized.of(data, per_gene=per_gene)
    assert np.allclose(found.z, expected, rtol=0, atol=1e-13)
    assert np.array_equal(standardize(data, per_gene=per_gene), found.z)
    back = found.z * np.expand_dims(found.scale, axis) + np.expand_dims(found.centre, axis)
    assert np.allclose(back, data, rtol=0, atol=1e-12)
    weights = rng.normal(0.0, 1.0, (12, 5))
    undone = found.undone_product(weights, found.z @ found.scaled(weights))
    assert np.allclose(undone, data @ weights, rtol=0, atol=1e-11)


@pytest.mark.parametrize("per_gene", [False, True])
def test_batch_fold_changes_are_the_mean_of_the_cases_less_the_controls(per_gene: bool) -> None:
    """The batch rule's mean differences, taken from the CD's own product, against the plain
    means of each signature's cases and of the rest of the batch; the CD vectors alone are
    `signatures`'."""
    rng = np.random.default_rng(8)
    batch = _batch(rng, genes=200, wells=30)
    masks = np.zeros((30, 6), dtype=bool)
    for s in range(6):
        masks[rng.choice(30, size=2 + s % 3, replace=False), s] = True
    shared = BatchDirections.fit(batch, per_gene=per_gene)
    cd, differences = shared.with_differences(masks)
    for s in range(6):
        plain = batch[:, masks[:, s]].mean(axis=1) - batch[:, ~masks[:, s]].mean(axis=1)
        assert np.allclose(differences[:, s], plain, rtol=0, atol=1e-12)
    assert np.array_equal(cd, shared.signatures(masks))


@pytest.mark.parametrize("rule", ["batch", "vehicle"])
def test_a_batch_s_log2_fold_changes_follow_their_definition(rule: str) -> None:
    """batch_signatures' log2 fold changes: the mean of the cases less the mean of the controls
    (the rest of the batch, or its vehicle profiles), times log2(10) for log10 profiles."""
    rng = np.random.default_rng(9)
    batch = _batch(rng, genes=120, wells=24)
    pert_type = ["ctl_vehicle"] * 6 + ["trt_cp"] * 18
    inst = pd.DataFrame({"pert_type": pert_type}, index=[f"w{i}" for i in range(24)])
    cases = [[f"w{6 + 3 * s + i}" for i in range(3)] for s in range(6)]
    sigs = pd.DataFrame({"distil_id": ["|".join(ids) for ids in cases]})
    found = batch_signatures(batch, inst, sigs, SignatureSettings(rule=rule))
    for s, ids in enumerate(cases):
        case = inst.index.isin(ids)
        control = ~case if rule == "batch" else (inst["pert_type"] == "ctl_vehicle").to_numpy()
        plain = batch[:, case].mean(axis=1) - batch[:, control].mean(axis=1)
        expected = (plain * np.log2(10.0)).astype(np.float32)
        assert np.allclose(found.log2_fold_change[:, s], expected, rtol=1e-6, atol=1e-6)
        assert found.n_controls[s] == control.sum()

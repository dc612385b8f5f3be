"""The gpu path: the rank matrix in device memory through torch gives the exact path's integers.

Without a GPU (CI), the same torch code runs with the matrix on the CPU device, and the engine's
gpu branch is driven through it; on a GPU (marker `gpu`) the path runs on CUDA against the float64
reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from search.engine import scores, searching
from search.engine.backends import cpu, torch_gpu
from search.engine.backends.torch_gpu import DeviceAbsZ, DeviceRanks, check_fits
from search.engine.errors import InvalidQueryError
from tests.engine.conftest import Indexed
from tests.engine.reference import reference_scores, reference_top
from tests.engine.test_search import assert_matches_reference, query, rows_of

HAS_GPU = torch_gpu.cuda_available() or cpu.gpu_available()
FILTERS = ({}, {"pert_type": ["trt_sh"]}, {"cell_id": ["PC3"], "pert_time": [6]})


@pytest.mark.parametrize("filters", FILTERS)
def test_device_sums_equal_the_exact_kernel(
    indexed: Indexed, filters: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch_gpu, "UPLOAD_COLUMNS", 333)  # several upload blocks
    monkeypatch.setattr(torch_gpu, "GATHER_ROWS", 7)  # several gather blocks, one partial
    index = indexed.index
    device = DeviceRanks(index.ranks, device="cpu")
    assert np.array_equal(device.matrix.numpy().view(np.uint16), index.ranks)
    selection = index.table.select(filters)
    rows = np.array(rows_of(indexed, query(indexed, seed=31, n_up=40)[0]))
    sums = device.set_sums(rows, selection)
    assert sums.dtype == np.uint32
    assert np.array_equal(sums, cpu.set_sums(index.ranks, rows, selection))
    expected = indexed.ranks[rows][:, selection.positions].sum(axis=0)  # the reference ranks
    assert np.array_equal(sums, expected)


def test_a_matrix_that_cannot_be_int16_is_refused() -> None:
    with pytest.raises(ValueError, match="uint16"):
        DeviceRanks(np.zeros((3, 4), dtype=np.float32), device="cpu")


def test_the_engine_gpu_branch_gives_the_exact_results(
    indexed: Indexed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The torch branch of score_query, its device swapped for the CPU: results equal exact."""
    index = indexed.index
    monkeypatch.setattr(searching, "gpu_backend", lambda _index: "torch")
    monkeypatch.setattr(index, "_device_ranks", DeviceRanks(index.ranks, device="cpu"))
    up, down = query(indexed, seed=32)
    cases = [
        ({}, "both", (up, down), 40),
        (FILTERS[1], "mimic", (up, []), 40),
        (FILTERS[2], "reverse", ([], down), 10_000),
    ]
    for filters, mode, sides, k in cases:
        on_gpu = index.search(*sides, path="gpu", k=k, filters=filters, mode=mode)
        exact = index.search(*sides, path="exact", k=k, filters=filters, mode=mode)
        assert on_gpu.path == "gpu"
        pd.testing.assert_frame_equal(on_gpu.table, exact.table, check_exact=True)


@pytest.mark.parametrize("kind", ["strong hits", "moderate hits", "null"])
def test_the_fdr_from_device_values_equals_the_hosts(kind: str) -> None:
    """fdr_for over a tensor (the m largest, a histogram, all only when it must) gives the
    host's values bit for bit, on each of its ways: the top alone, the tail bound, the full sort."""
    rng = np.random.default_rng(5)
    z = rng.standard_normal(200_000)
    z[:50] += 12 if kind == "strong hits" else 0
    z[:400] += 4.2 if kind == "moderate hits" else 0
    abs_z = np.abs(z)
    picks = np.argsort(-abs_z, kind="stable")[:100]
    device = DeviceAbsZ(torch.from_numpy(abs_z))
    for chosen in (picks, picks[::-1][:5], np.array([0, 1, 2])):
        assert np.array_equal(
            scores.fdr_for(device, chosen, sd=1.1), scores.fdr_for(abs_z, chosen, sd=1.1)
        )


@pytest.mark.skipif(HAS_GPU, reason="a GPU is here")
def test_without_a_gpu_the_gpu_path_is_refused_with_the_reason(indexed: Indexed) -> None:
    with pytest.raises(InvalidQueryError, match="needs a CUDA GPU"):
        indexed.index.search(*query(indexed, seed=33), path="gpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch_gpu.cuda_available(), reason="no CUDA device")
@pytest.mark.parametrize("mode", ["both", "mimic", "reverse"])
def test_on_cuda_the_gpu_path_agrees_with_the_float64_reference(
    indexed: Indexed, mode: str
) -> None:
    index = indexed.index
    up, down = query(indexed, seed=34)
    result = index.search(up, down, mode=mode, k=30, path="gpu")
    assert result.path == "gpu"
    assert index.device_ranks().device.type == "cuda"
    reference = reference_scores(
        indexed.values, rows_of(indexed, up), rows_of(indexed, down), ranks=indexed.ranks
    )
    positions = reference_top(reference, mode, 30)
    assert_matches_reference(result, reference, positions, index, rtol=1e-9)
    exact = index.search(up, down, mode=mode, k=30, path="exact")
    pd.testing.assert_frame_equal(result.table, exact.table)


def test_a_matrix_too_large_for_the_gpu_is_refused_naming_both_sizes() -> None:
    check_fits(40_000_000_000, 50_000_000_000)  # fits within the headroom
    with pytest.raises(InvalidQueryError, match=r"needs 47\.2 GB .* has 24\.0 GB free"):
        check_fits(47_227_999_999, 24_000_000_000)

"""A batch's case masks: each signature's cases (its distil_id) among the batch's profiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from transform.signatures.definitions import batch_masks


def test_case_masks_mark_each_signature_s_profiles() -> None:
    inst = pd.DataFrame({"pert_type": ["ctl_vehicle"] * 2 + ["trt_cp"] * 6}, index=list("abcdefgh"))
    sigs = pd.DataFrame({"distil_id": ["c|d|e", "h", "e|f", "g|c"]})
    masks = batch_masks(inst, sigs)
    for column, distil in enumerate(sigs["distil_id"]):
        assert np.array_equal(masks[:, column], inst.index.isin(distil.split("|")))
    assert masks.shape == (8, 4)


def test_a_case_missing_from_the_batch_is_named() -> None:
    inst = pd.DataFrame({"pert_type": ["trt_cp"] * 3}, index=["a", "b", "c"])
    sigs = pd.DataFrame({"distil_id": ["a|x", "b", "y|z|c"]})
    with pytest.raises(
        KeyError, match=r"3 cases not among the batch's profiles: \['x', 'y', 'z'\]"
    ):
        batch_masks(inst, sigs)

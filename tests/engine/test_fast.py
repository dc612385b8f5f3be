"""The fast mode's candidate lists: the merge of a FAISS answer's rows."""

from __future__ import annotations

import numpy as np
import pytest

from search.engine.fast import merged


def reference_merge(scores: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Every entry in order of score (ties by place), each id at its first place, the first k."""
    seen: dict[int, None] = {}
    entries = sorted(
        (-score, place, int(id_))
        for place, (score, id_) in enumerate(zip(scores.ravel(), ids.ravel(), strict=True))
        if id_ >= 0
    )
    for _, _, id_ in entries:
        seen.setdefault(id_, None)
        if len(seen) == k:
            break
    return np.array(sorted(seen), dtype=np.int64)


@pytest.mark.parametrize("k", [1, 10, 150, 400, 1000])
def test_merged_keeps_the_k_best_distinct_ids_of_both_rows(k: int) -> None:
    rng = np.random.default_rng(k)
    ids = np.stack([rng.choice(600, 300, replace=False) for _ in range(2)])  # shared ids
    ids[1, :5] = -1  # FAISS's padding where it found fewer
    scores = rng.integers(0, 40, ids.shape).astype(np.float32)  # many ties
    got = merged(scores, ids, k)
    assert np.array_equal(got, reference_merge(scores, ids, k))
    assert np.unique(got).size == got.size

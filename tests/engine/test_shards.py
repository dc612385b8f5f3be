"""An index in shards answers as the unsplit index, bit for bit: shards written by signature range
open as indexes of their own; a sharded search equals the exact path across modes, filters (some
selecting nothing in a shard), ties, and both of its ways to an FDR (the merged summaries, or the
shards' sums when an FDR needs every signature); a shard that does not answer fails the search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from search.engine import scores
from search.engine.backends import cpu
from search.engine.errors import InvalidQueryError
from search.engine.index import SearchIndex
from search.engine.running import Running
from search.engine.searching import gene_query
from search.engine.shards import (
    LocalShard,
    ShardedIndex,
    ShardMismatchError,
    ShardUnavailableError,
    write_shards,
)
from tests.engine.conftest import Indexed
from tests.engine.test_many import FILTERS, _queries


class Counted(LocalShard):
    """A shard that counts the calls it answers."""

    calls: dict[str, int]

    def __init__(self, index: SearchIndex) -> None:
        super().__init__(index)
        self.calls = {"summary": 0, "sums": 0}
        self.sent_sums = 0  # summaries that carried the sums

    def summary(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls["summary"] += 1
        answer = super().summary(payload)
        self.sent_sums += "up" in answer
        return answer

    def sums(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls["sums"] += 1
        return super().sums(payload)


def _mixed_queries(indexed: Indexed) -> list[tuple[list[str], list[str]]]:
    """The batch tests' queries (each a signature's top genes), and random gene sets, whose FDRs
    mostly need every signature."""
    rng = np.random.default_rng(5)
    genes = np.array(indexed.index.genes)
    chosen = [rng.choice(genes, 40, replace=False) for _ in range(6)]
    return [*_queries(indexed), *((list(c[:20]), list(c[20:])) for c in chosen)]


def _sharded(indexed: Indexed, tmp_path: Path, k: int) -> tuple[ShardedIndex, list[Counted]]:
    directories = write_shards(indexed.index, tmp_path / f"shards-{k}", k)
    shards = [Counted(SearchIndex.open(directory, verify=True)) for directory in directories]
    return ShardedIndex(indexed.index, shards), shards


def test_shards_split_the_signatures_by_range_and_open_as_indexes(
    indexed: Indexed, tmp_path: Path
) -> None:
    _, shards = _sharded(indexed, tmp_path, 3)
    sizes = [shard.index.n_signatures for shard in shards]
    assert sum(sizes) == indexed.index.n_signatures
    assert max(sizes) - min(sizes) <= 1
    start = 0
    for shard in shards:
        stop = start + shard.index.n_signatures
        assert np.array_equal(shard.index.ranks, indexed.index.ranks[:, start:stop])
        assert np.array_equal(shard.index.values, indexed.index.values[:, start:stop])
        assert np.array_equal(shard.index.value_stats, indexed.index.value_stats[start:stop])
        assert list(shard.index.table.sig_ids) == list(indexed.index.table.sig_ids[start:stop])
        assert shard.index.genes == indexed.index.genes
        start = stop


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("filters", [*FILTERS, {"pert_type": ["trt_oe"], "cell_id": ["A375"]}])
@pytest.mark.parametrize("mode", ["both", "mimic", "reverse"])
@pytest.mark.parametrize("summaries", [True, False])
def test_a_sharded_search_equals_the_one_index_search(
    indexed: Indexed,
    tmp_path: Path,
    k: int,
    filters: dict | None,
    mode: str,
    summaries: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if summaries:  # FDRs from the merged summaries where they can (the 2,400 signatures stream)
        monkeypatch.setattr(scores, "FULL_SORT_BELOW", 600)
    sharded, shards = _sharded(indexed, tmp_path, k)
    for up, down in _queries(indexed)[:5]:
        found = sharded.search(up, down, mode=mode, filters=filters, k=30)
        alone = indexed.index.search(up, down, mode=mode, filters=filters, k=30, path="exact")
        pd.testing.assert_frame_equal(found.table, alone.table, check_exact=True)
        assert (found.n_searched, found.filters) == (alone.n_searched, alone.filters)
    asked = sum(shard.calls["summary"] for shard in shards)
    summed = sum(shard.calls["sums"] for shard in shards)
    assert asked == 5 * k
    if summaries and filters is None:
        assert summed < asked  # some FDRs came from the summaries alone


@pytest.mark.parametrize("sums_first", ["guess", "always", "never"])
def test_the_summaries_carry_the_sums_as_asked(
    indexed: Indexed, tmp_path: Path, sums_first: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sums sent with the summaries, asked in a second round, or guessed by each shard: the same
    answers; "always" never takes a second round, "never" takes one each time the sums are
    needed."""
    monkeypatch.setattr(scores, "FULL_SORT_BELOW", 600)
    sharded, shards = _sharded(indexed, tmp_path, 2)  # 1,200 signatures each: above the 1,024
    sharded.sums_first = sums_first  # largest |z| kept for k = 30, so a shard may guess either way
    searches = 0
    for mode in ("both", "mimic", "reverse"):
        for up, down in _mixed_queries(indexed):
            found = sharded.search(up, down, mode=mode, k=30)
            alone = indexed.index.search(up, down, mode=mode, k=30, path="exact")
            pd.testing.assert_frame_equal(found.table, alone.table, check_exact=True)
            searches += 1
    assert 0 < sharded.sums_asked < searches  # both ways to the FDRs were taken
    assert all(shard.calls["summary"] == searches for shard in shards)
    sent = [shard.sent_sums for shard in shards]
    asked = [shard.calls["sums"] for shard in shards]
    if sums_first == "always":
        assert (sent, asked, sharded.second_rounds) == ([searches] * 2, [0] * 2, 0)
    elif sums_first == "never":
        assert (sent, asked) == ([0] * 2, [sharded.sums_asked] * 2)
        assert sharded.second_rounds == sharded.sums_asked
    else:  # the guesses saved rounds, and sent sums mostly where they were needed
        assert sharded.second_rounds < sharded.sums_asked
        assert all(n <= sharded.second_rounds for n in asked)
        assert sum(sent) < 2 * searches


def test_one_shard_guesses_exactly_when_its_sums_are_needed(
    indexed: Indexed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One shard's own state is the merged one: it sends its sums exactly when they are needed
    (no ties among its top keys here, so its top k is the search's)."""
    monkeypatch.setattr(scores, "FULL_SORT_BELOW", 600)
    sharded, (shard,) = _sharded(indexed, tmp_path, 1)
    for mode in ("both", "mimic", "reverse"):
        for up, down in _mixed_queries(indexed):
            sharded.search(up, down, mode=mode, k=30)
    assert 0 < sharded.sums_asked < 3 * len(_mixed_queries(indexed))
    assert (shard.sent_sums, sharded.second_rounds) == (sharded.sums_asked, 0)


def test_a_summary_sends_its_counts_up_to_the_last_bin_used(indexed: Indexed) -> None:
    """Running.arrays cuts the fixed-bin counts after the last bin any |z| reached, and
    from_arrays restores them whole: the state that comes back equals the state sent."""
    up, down = _queries(indexed)[0]
    run = Running.empty()
    index = indexed.index
    query = gene_query(index, up, down)
    selection = index.table.select(None)
    sums = [cpu.set_sums(index.ranks, rows, selection) for rows in (query.up, query.down)]
    places = np.arange(selection.size, dtype=np.int64)
    run.add(index.n_genes, query, "both", 30, scores.largest_read(30), places, *sums)
    sent = run.arrays()
    used = np.flatnonzero(run.counts.any(axis=0))
    assert sent["counts"].shape == (3, used[-1] + 1)
    assert sent["counts"].shape[1] < run.counts.shape[1]
    back = Running.from_arrays(sent, offset=7)
    assert np.array_equal(back.counts, run.counts)
    assert np.array_equal(back.places, run.places + 7)
    assert all(np.array_equal(a, b) for a, b in zip(back.top, run.top, strict=True))
    assert Running.from_arrays(Running.empty().arrays()).counts.shape == run.counts.shape


def test_a_sharded_search_with_ties_equals_the_one_index_search(
    indexed_ties: Indexed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scores, "FULL_SORT_BELOW", 600)
    sharded, _ = _sharded(indexed_ties, tmp_path, 4)
    for up, down in _queries(indexed_ties):
        found = sharded.search(up, down, k=60)
        alone = indexed_ties.index.search(up, down, k=60, path="exact")
        pd.testing.assert_frame_equal(found.table, alone.table, check_exact=True)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("filters", [*FILTERS, {"pert_type": ["trt_oe"], "cell_id": ["A375"]}])
@pytest.mark.parametrize("mode", ["both", "mimic", "reverse"])
def test_a_sharded_cd_search_equals_the_one_index_search(
    indexed: Indexed, tmp_path: Path, k: int, filters: dict | None, mode: str
) -> None:
    sharded, shards = _sharded(indexed, tmp_path, k)
    for up, down in _queries(indexed)[:5]:
        found = sharded.search(up, down, mode=mode, score="cd", filters=filters, k=30)
        alone = indexed.index.search(
            up, down, mode=mode, score="cd", filters=filters, k=30, path="exact"
        )
        pd.testing.assert_frame_equal(found.table, alone.table, check_exact=True)
        assert (found.score, found.n_searched) == (alone.score, alone.n_searched)
    assert all(shard.calls == {"summary": 0, "sums": 0} for shard in shards)  # one call: values


@pytest.mark.parametrize("filters", [None, {"pert_type": ["trt_oe"], "cell_id": ["A375"]}])
@pytest.mark.parametrize("mode", ["both", "mimic", "reverse"])
def test_a_sharded_search_in_the_tau_order_equals_the_one_index_search(
    indexed: Indexed, tmp_path: Path, filters: dict | None, mode: str
) -> None:
    assert indexed.index.specificity is not None  # the coordinator holds the compendium
    sharded, shards = _sharded(indexed, tmp_path, 3)
    for up, down in _queries(indexed)[:5]:
        found = sharded.search(up, down, mode=mode, filters=filters, k=30, order="tau")
        alone = indexed.index.search(
            up, down, mode=mode, filters=filters, k=30, path="exact", order="tau"
        )
        pd.testing.assert_frame_equal(found.table, alone.table, check_exact=True)
    assert all(shard.calls == {"summary": 0, "sums": 5} for shard in shards)
    with pytest.raises(InvalidQueryError, match="ordering by tau"):
        sharded.search(*_queries(indexed)[0], score="cd", order="tau")


def test_a_cd_search_on_shards_without_values_is_refused(indexed: Indexed, tmp_path: Path) -> None:
    sharded, shards = _sharded(indexed, tmp_path, 2)
    for shard in shards:  # as shards of an index built without values
        shard.index.values = shard.index.value_stats = None
    with pytest.raises(InvalidQueryError, match="no signature values"):
        sharded.search(*_queries(indexed)[0], score="cd")


class Lost(LocalShard):
    def summary(self, payload: dict[str, Any]) -> dict[str, Any]:
        raise ShardUnavailableError("shard 1 did not answer")


def test_a_shard_that_does_not_answer_fails_the_search(indexed: Indexed, tmp_path: Path) -> None:
    _, shards = _sharded(indexed, tmp_path, 2)
    broken = ShardedIndex(indexed.index, [shards[0], Lost(shards[1].index)])
    with pytest.raises(ShardUnavailableError, match="did not answer"):
        broken.search(*_queries(indexed)[0])
    partial = ShardedIndex(indexed.index, [shards[0]])  # a shard missing from the list
    with pytest.raises(ShardMismatchError, match="asked for shard 0 of 1 "):
        partial.search(*_queries(indexed)[0])
    unchecked = ShardedIndex(indexed.index, [Unchecked(shards[0].index)])
    with pytest.raises(ShardUnavailableError, match="do not cover"):  # the counts are checked too
        unchecked.search(*_queries(indexed)[0])


class Unchecked(LocalShard):
    """A shard told it is the whole index, whichever part it serves."""

    def summary(self, payload: dict[str, Any]) -> dict[str, Any]:
        part = self.index.manifest["shard"]
        return super().summary({**payload, "part": {**payload["part"], "of": part["of"]}})


def test_a_shard_serving_another_part_or_index_is_refused(indexed: Indexed, tmp_path: Path) -> None:
    """Each shard is told which part of which index it is asked as, and one that serves another
    refuses: shards of one size swapped (two workers' SEARCH_SHARD_DIR exchanged) would otherwise
    answer with each other's signatures in their places, which no count can tell, and so would
    shards left from an earlier build of the same signatures."""
    _, shards = _sharded(indexed, tmp_path, 2)
    query = _queries(indexed)[0]
    expected = indexed.index.search(*query, path="exact").table
    swapped = ShardedIndex(indexed.index, [shards[1], shards[0]])
    with pytest.raises(ShardMismatchError, match=r"shard 0 of 2 .*, this one is shard 1 of 2"):
        swapped.search(*query)
    _, three = _sharded(indexed, tmp_path, 3)
    with pytest.raises(ShardMismatchError, match="this one is shard 0 of 3"):
        ShardedIndex(indexed.index, three[:2]).search(*query)
    rebuilt = SearchIndex.open(indexed.directory)  # as a new build of the same signatures
    rebuilt.version = "20261207T120000Z-0123456789"
    with pytest.raises(ShardMismatchError, match="write the shards again") as refused:
        ShardedIndex(rebuilt, shards).search(*query)
    assert refused.value.payload["serves"]["index"] == indexed.index.version
    found = ShardedIndex(indexed.index, three).search(*query).table
    pd.testing.assert_frame_equal(found, expected, check_exact=True)


def test_shards_on_the_gpu_path_sum_as_on_the_cpu(
    indexed: Indexed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard worker that sees a GPU sums on the device (here torch's CPU device, as on CUDA)."""
    torch_gpu = pytest.importorskip("search.engine.backends.torch_gpu")
    from search.engine.shards import answering as shards_module

    sharded, shards = _sharded(indexed, tmp_path, 2)
    for shard in shards:
        device = torch_gpu.DeviceRanks(np.asarray(shard.index.ranks), device="cpu")
        monkeypatch.setattr(shard.index, "device_ranks", lambda device=device: device)
    monkeypatch.setattr(shards_module, "gpu_backend", lambda index: "torch")
    for up, down in _queries(indexed)[:3]:
        found = sharded.search(up, down, k=30)
        alone = indexed.index.search(up, down, k=30, path="exact")
        pd.testing.assert_frame_equal(found.table, alone.table, check_exact=True)

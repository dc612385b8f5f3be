"""Many queries at once (search/engine/many.py) answer what one-by-one searches answer, bit for bit:
the same signatures, integers, z, p and FDR, with ties, filters, an empty side and a block size
that splits the queries; a query that cannot be scored keeps its error in its place."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from search.engine import many, running, scores
from search.engine.backends import tiles
from search.engine.errors import InvalidQueryError, UnknownSignatureError
from search.engine.metadata import Selection
from tests.engine.conftest import Indexed
from tests.engine.test_search import query

FILTERS = (None, {"pert_type": ["trt_sh"]}, {"cell_id": ["PC3"], "pert_time": [6]})


def _queries(indexed: Indexed) -> list[tuple[list[str], list[str]]]:
    asked = [query(indexed, seed=s) for s in range(7)]
    asked.append((query(indexed, seed=8)[0], []))  # up only
    asked.append(([], query(indexed, seed=9)[1]))  # down only
    return asked


@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("mode", ["both", "mimic", "reverse"])
def test_many_queries_equal_one_by_one_searches(
    indexed: Indexed, filters: dict | None, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(many, "QUERY_BLOCK", 4)  # blocks of 4: three blocks, the last partial
    asked = _queries(indexed)
    found = many.search_many(indexed.index, asked, mode=mode, filters=filters, k=40)
    for (up, down), answer in zip(asked, found, strict=True):
        alone = indexed.index.search(up, down, mode=mode, filters=filters, k=40, path="exact")
        assert not isinstance(answer, InvalidQueryError)
        pd.testing.assert_frame_equal(answer.table, alone.table, check_exact=True)
        assert (answer.n_searched, answer.path) == (alone.n_searched, "exact")
        assert answer.report.as_dict() == alone.report.as_dict()


def test_ties_give_the_same_answers(indexed_ties: Indexed) -> None:
    asked = _queries(indexed_ties)
    found = many.search_many(indexed_ties.index, asked, k=60)
    for (up, down), answer in zip(asked, found, strict=True):
        alone = indexed_ties.index.search(up, down, k=60, path="exact")
        pd.testing.assert_frame_equal(answer.table, alone.table, check_exact=True)


def test_a_query_that_cannot_run_keeps_its_error_and_the_others_run(indexed: Indexed) -> None:
    good = query(indexed, seed=3)
    found = many.search_many(indexed.index, [good, (["NOT_A_GENE"], []), good], k=5)
    assert isinstance(found[1], InvalidQueryError)
    assert "no query gene" in str(found[1])
    assert found[0].table.equals(found[2].table)


def test_the_block_kernel_sums_every_set_as_a_plain_sum(indexed: Indexed) -> None:
    ranks = indexed.index.ranks
    rng = np.random.default_rng(5)
    sets = [np.sort(rng.choice(ranks.shape[0], 30, replace=False)) for _ in range(9)]
    start, stop = 17, ranks.shape[1] - 5  # several column blocks, the first and last partial
    assert stop - start > 2 * tiles.TILE
    out = np.empty((len(sets), stop - start), dtype=np.uint32)
    tiles.tile_rank_sums(ranks, *many.side_layout(sets), start, stop, out)
    for t, rows in enumerate(sets):
        expected = np.asarray(ranks[rows][:, start:stop], dtype=np.uint32).sum(axis=0)
        assert np.array_equal(out[t], expected)


def test_positions_of_many_signatures_in_one_lookup_name_the_missing(indexed: Indexed) -> None:
    table = indexed.index.table
    ids = [str(table.sig_ids[i]) for i in (5, 0, 77)]
    assert table.positions(ids).tolist() == [table.position(s) for s in ids]
    with pytest.raises(UnknownSignatureError, match="1 signatures not in the index: NOPE"):
        table.positions([ids[0], "NOPE"])


def _streaming(monkeypatch: pytest.MonkeyPatch, indexed: Indexed, threads: int) -> None:
    """Make the 2,400-signature test index stream: the FDR's full sort only below 600 signatures,
    spans of 300 (not a whole number of tiles), the index's threads as asked."""
    monkeypatch.setattr(scores, "FULL_SORT_BELOW", 600)
    monkeypatch.setattr(many, "SPAN", 300)
    monkeypatch.setattr(indexed.index, "threads", threads)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("filters", [None, {"pert_time": [24]}])  # over 1,024: the FDR's tail
@pytest.mark.parametrize("mode", ["both", "mimic", "reverse"])
def test_streamed_answers_equal_one_by_one_searches(
    indexed: Indexed, filters: dict | None, mode: str, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _streaming(monkeypatch, indexed, threads)
    asked = _queries(indexed)
    stats = many.ManyStats()
    found = many.search_many(
        indexed.index, asked, mode=mode, filters=filters, k=40, stats=stats, stream=True
    )
    assert indexed.index.table.select(filters).size >= scores.FULL_SORT_BELOW  # it streamed
    assert len(stats.run_alone) < len(asked) // 2  # most FDRs came from what the spans kept
    for (up, down), answer in zip(asked, found, strict=True):
        alone = indexed.index.search(up, down, mode=mode, filters=filters, k=40, path="exact")
        assert not isinstance(answer, InvalidQueryError)
        pd.testing.assert_frame_equal(answer.table, alone.table, check_exact=True)


def test_a_streamed_query_whose_fdr_needs_every_signature_runs_alone(
    indexed: Indexed, monkeypatch: pytest.MonkeyPatch
) -> None:
    _streaming(monkeypatch, indexed, 2)
    monkeypatch.setattr(
        running, "PER_UNIT", 1
    )  # bins a whole unit wide: the tail is rarely bounded
    asked = _queries(indexed)
    stats = many.ManyStats()
    found = many.search_many(indexed.index, asked, k=40, stats=stats, stream=True)
    assert stats.run_alone  # some ran alone, and still answer as one by one
    for (up, down), answer in zip(asked, found, strict=True):
        alone = indexed.index.search(up, down, k=40, path="exact")
        assert not isinstance(answer, InvalidQueryError)
        pd.testing.assert_frame_equal(answer.table, alone.table, check_exact=True)


def _plain_tail(values: np.ndarray, m: int, sd: float) -> float:
    """min over ranks j > m of n p_(j) / j, from every value sorted (BH's definition)."""
    p = np.sort(scores.two_sided_p(values / sd))
    ranks = np.arange(1, p.size + 1)
    return float((p.size * p / ranks)[m:].min())


@pytest.mark.parametrize("seed", range(4))
def test_fixed_bins_bound_the_tail_no_higher_than_drawn_bins(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.abs(rng.standard_normal(20_000)) * rng.uniform(0.5, 3)
    values[: 30 * seed] += rng.uniform(3, 40, 30 * seed)  # strong hits, some past the last bin
    counts = np.zeros(running.TOP_BIN * running.PER_UNIT + 1, dtype=np.int64)
    tiles.add_histogram(values, float(running.PER_UNIT), counts)
    plain_counts = np.minimum((values * running.PER_UNIT).astype(np.int64), counts.size - 1)
    assert np.array_equal(counts, np.bincount(plain_counts, minlength=counts.size))
    m, sd = 1024, 1.3
    top = np.sort(values)[::-1][:m]
    streamed = running.StreamedAbsZ(values.size, np.arange(0), np.empty(0), top, counts)
    fixed = scores._tail_bound(streamed, float(top[-1]), m, sd)
    drawn = scores._tail_bound(scores.HostAbsZ(values), float(top[-1]), m, sd)
    assert fixed <= drawn <= _plain_tail(values, m, sd)
    assert fixed > 0.9 * drawn  # and not much lower: the bins are fine enough to pass


@pytest.mark.parametrize("genes", [300, 301])  # a gene count that the int8 shapes must pad
def test_the_device_integer_products_sum_every_set_exactly(
    genes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """many_sums (int8 products: 256 A H + A L + 128 |set|) against plain sums, on the CPU
    device here; the ranks go up to 32,767, where the split's bytes are at their widest."""
    torch_gpu = pytest.importorskip("search.engine.backends.torch_gpu")
    rng = np.random.default_rng(genes)
    ranks = rng.integers(1, 32768, size=(genes, 1000), dtype=np.uint16)
    ranks[:, 0] = 32767
    sets = [np.sort(rng.choice(genes, size, replace=False)) for size in (1, 5, 60, genes, 0)]
    selection = Selection(np.sort(rng.choice(1000, 777, replace=False)), 0, 1000)
    device = torch_gpu.DeviceRanks(ranks, device="cpu")
    monkeypatch.setattr(torch_gpu, "MANY_COLUMNS", 256)  # several blocks, the last partial
    found = device.many_sums(sets, selection).numpy()
    for at, rows in enumerate(sets):
        expected = ranks[rows][:, selection.positions].astype(np.int64).sum(axis=0)
        assert np.array_equal(found[at], expected)
    with pytest.raises(ValueError, match="twice"):
        device.many_sums([np.array([3, 3])], selection)


def _on_cpu_device(monkeypatch: pytest.MonkeyPatch, indexed: Indexed) -> None:
    """The gpu path's torch code on the CPU device, as on a CUDA one."""
    torch_gpu = pytest.importorskip("search.engine.backends.torch_gpu")
    device = torch_gpu.DeviceRanks(np.asarray(indexed.index.ranks), device="cpu")
    monkeypatch.setattr(indexed.index, "device_ranks", lambda: device)
    monkeypatch.setattr(many, "gpu_backend", lambda index: "torch")


@pytest.mark.parametrize("filters", FILTERS[:2])
@pytest.mark.parametrize("mode", ["both", "reverse"])
def test_the_gpu_batch_equals_one_by_one_searches(
    indexed: Indexed, filters: dict | None, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _on_cpu_device(monkeypatch, indexed)
    monkeypatch.setattr(many, "GPU_BLOCK", 4)
    asked = _queries(indexed)
    found = many.search_many(indexed.index, asked, mode=mode, filters=filters, k=40, path="gpu")
    for (up, down), answer in zip(asked, found, strict=True):
        alone = indexed.index.search(up, down, mode=mode, filters=filters, k=40, path="exact")
        assert not isinstance(answer, InvalidQueryError)
        assert answer.path == "gpu"
        pd.testing.assert_frame_equal(answer.table, alone.table, check_exact=True)


@pytest.mark.gpu
def test_the_gpu_batch_on_cuda_equals_one_by_one_searches(indexed: Indexed) -> None:
    torch_gpu = pytest.importorskip("search.engine.backends.torch_gpu")
    if not torch_gpu.cuda_available():
        pytest.skip("needs a CUDA GPU")
    asked = _queries(indexed)
    found = many.search_many(indexed.index, asked, k=40, path="gpu")
    for (up, down), answer in zip(asked, found, strict=True):
        alone = indexed.index.search(up, down, k=40, path="exact")
        assert not isinstance(answer, InvalidQueryError)
        pd.testing.assert_frame_equal(answer.table, alone.table, check_exact=True)

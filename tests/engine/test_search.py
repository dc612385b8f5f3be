from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from search.engine.backends import cpu, torch_gpu
from search.engine.build import ranks_of
from search.engine.errors import InvalidQueryError
from search.engine.fast import FastSettings
from tests.engine.conftest import Indexed
from tests.engine.reference import reference_scores, reference_top

P_RTOL = 2e-7  # the engine's vectorized erfc against math.erfc
COLUMNS = ["score", "z_up", "z_down", "z_sum", "p_up", "p_down", "p", "fdr_up", "fdr_down", "fdr"]


def query(indexed: Indexed, seed: int, n_up: int = 25, n_down: int = 20) -> tuple[list, list]:
    """A query like a real one: one signature's strongest genes, some swapped at random."""
    rng = np.random.default_rng(seed)
    column = indexed.values[:, rng.integers(indexed.values.shape[1])]
    order = np.argsort(column)
    up, down = list(order[::-1][:n_up]), list(order[:n_down])
    up[:5] = rng.choice(order[100:200], 5, replace=False)
    return [indexed.genes[g] for g in up], [indexed.genes[g] for g in down]


def rows_of(indexed: Indexed, genes: list[str]) -> list[int]:
    return [indexed.genes.index(g) for g in genes]


def assert_matches_reference(
    result,
    reference: pd.DataFrame,
    positions: np.ndarray,
    index,
    rtol: float,
    columns: list[str] = COLUMNS,
) -> None:
    expected = reference.iloc[positions]
    assert result.table["sig_id"].tolist() == index.table.sig_ids[positions].tolist()
    for column in columns:
        tolerance = max(rtol, P_RTOL) if column.startswith(("p", "fdr")) else rtol
        assert np.allclose(
            result.table[column], expected[column], rtol=tolerance, atol=1e-12, equal_nan=True
        ), column


@pytest.mark.parametrize("mode", ["both", "mimic", "reverse"])
@pytest.mark.parametrize("path", ["exact", "flat", "fast"])
def test_every_path_agrees_with_the_float64_reference(
    indexed: Indexed, mode: str, path: str
) -> None:
    index = indexed.index
    up, down = query(indexed, seed=11)
    if path == "fast":  # candidates enough to hold the true top 30: the path must then be exact
        index = _with_candidates(index, 600)
    result = index.search(up, down, mode=mode, k=30, path=path)
    reference = reference_scores(
        indexed.values, rows_of(indexed, up), rows_of(indexed, down), ranks=indexed.ranks
    )
    assert result.path == path
    assert result.n_searched == indexed.values.shape[1]
    rtol = 1e-6 if path == "flat" else 1e-9
    columns = [c for c in COLUMNS if "fdr" not in c] if path == "fast" else COLUMNS  # upper bounds
    positions = reference_top(reference, mode, 30)
    assert_matches_reference(result, reference, positions, index, rtol, columns)


def _with_candidates(index, candidates: int):
    clone = object.__new__(type(index))
    clone.__dict__.update(index.__dict__)
    clone.fast_settings = FastSettings(candidates=candidates)
    return clone


def test_the_cd_score_agrees_with_the_reference(indexed: Indexed) -> None:
    up, down = query(indexed, seed=12)
    result = indexed.index.search(up, down, score="cd", k=25)
    reference = reference_scores(
        indexed.values,
        rows_of(indexed, up),
        rows_of(indexed, down),
        score="cd",
        ranks=indexed.ranks,
    )
    positions = reference_top(reference, "both", 25)
    assert_matches_reference(result, reference, positions, indexed.index, rtol=1e-5)
    for column in ("cd_up", "cd_down"):
        assert np.allclose(result.table[column], reference[column].iloc[positions], rtol=1e-5)


def test_an_empty_side_is_scored_by_the_other_alone(indexed: Indexed) -> None:
    up, _ = query(indexed, seed=13)
    result = indexed.index.search(up, [], mode="mimic", k=10)
    reference = reference_scores(indexed.values, rows_of(indexed, up), [], ranks=indexed.ranks)
    assert_matches_reference(
        result, reference, reference_top(reference, "mimic", 10), indexed.index, rtol=1e-9
    )
    assert result.table["z_down"].isna().all()


def test_filters_apply_before_ranking_and_the_fdr_is_over_the_filtered_set(
    indexed: Indexed,
) -> None:
    up, down = query(indexed, seed=14)
    filters = {"pert_type": ["trt_sh", "trt_oe"], "cell_id": ["MCF7"], "pert_dose": ["10"]}
    result = indexed.index.search(up, down, filters=filters, k=15)
    meta = indexed.index.table.rows(np.arange(indexed.values.shape[1]))
    keep = np.flatnonzero(
        meta["pert_type"].isin(["trt_sh", "trt_oe"])
        & (meta["cell_id"] == "MCF7")
        & (meta["pert_dose"] == 10.0)
    )
    reference = reference_scores(
        indexed.values[:, keep],
        rows_of(indexed, up),
        rows_of(indexed, down),
        ranks=indexed.ranks[:, keep],
    )
    assert result.n_searched == keep.size > 15
    expected = reference.iloc[reference_top(reference, "both", 15)]
    assert result.table["sig_id"].tolist() == meta["sig_id"].iloc[keep[expected.index]].tolist()
    for column in ("fdr", "fdr_up", "fdr_down"):
        assert np.allclose(result.table[column], expected[column], rtol=P_RTOL), column
    assert set(result.table["cell_id"]) == {"MCF7"}


@pytest.mark.parametrize("mode", ["both", "mimic", "reverse"])
def test_a_k_beyond_the_selection_returns_all_of_it_in_order(indexed: Indexed, mode: str) -> None:
    up, down = query(indexed, seed=16)
    filters = {"cell_id": ["MCF7"], "pert_type": ["trt_sh"]}
    result = indexed.index.search(up, down, mode=mode, filters=filters, k=10_000, path="exact")
    meta = indexed.index.table.rows(np.arange(indexed.values.shape[1]))
    keep = np.flatnonzero((meta["cell_id"] == "MCF7") & (meta["pert_type"] == "trt_sh"))
    reference = reference_scores(
        indexed.values[:, keep],
        rows_of(indexed, up),
        rows_of(indexed, down),
        ranks=indexed.ranks[:, keep],
    )
    assert len(result.table) == result.n_searched == keep.size
    expected = reference.iloc[reference_top(reference, mode, keep.size)]
    assert result.table["sig_id"].tolist() == meta["sig_id"].iloc[keep[expected.index]].tolist()
    assert np.allclose(result.table["z_sum"], expected["z_sum"], rtol=1e-9)
    assert np.allclose(result.table["fdr"], expected["fdr"], rtol=P_RTOL)


def test_a_dose_range_filter_and_a_filter_matching_nothing(indexed: Indexed) -> None:
    up, down = query(indexed, seed=15)
    ranged = indexed.index.search(up, down, filters={"pert_dose": {"min": 0.5}}, k=50)
    assert (ranged.table["pert_dose"] >= 0.5).all()
    nothing = indexed.index.search(up, down, filters={"cell_id": ["NOPE"]})
    assert nothing.n_searched == 0
    assert nothing.table.empty


def test_it_reports_genes_outside_the_gene_space(indexed: Indexed) -> None:
    up, down = query(indexed, seed=16)
    given = [*up, "NOT_A_GENE", up[0].lower(), up[1], "NOT_A_GENE"]
    result = indexed.index.search(given, down, k=5)
    assert result.report.up.not_in_index == ["NOT_A_GENE"]
    assert result.report.up.matched == up  # a case variant is the same gene, counted once
    assert result.report.up.repeated == [up[0].lower(), up[1], "NOT_A_GENE"]  # named, not lost
    assert result.report.up.submitted == len(given)
    reported = result.report.as_dict()["down"]
    assert (reported["submitted"], reported["matched"], reported["not_in_index"]) == (
        len(down),
        down,
        [],
    )


@pytest.mark.parametrize(
    ("up", "down", "message"),
    [
        ([], [], "no query gene"),
        (["GENE0001", "GENE0002"], [], "give 5 to"),
        ([f"GENE{g:04d}" for g in range(6)], [f"GENE{g:04d}" for g in range(5, 12)], "both sides"),
    ],
)
def test_queries_that_cannot_be_scored_are_refused(
    indexed: Indexed, up: list, down: list, message: str
) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        indexed.index.search(up, down)


@pytest.mark.parametrize(
    ("option", "value"), [("mode", "sideways"), ("score", "wtcs"), ("path", "quantum"), ("k", 0)]
)
def test_unknown_options_are_refused(indexed: Indexed, option: str, value: object) -> None:
    up, down = query(indexed, seed=17)
    with pytest.raises(InvalidQueryError):
        indexed.index.search(up, down, **{option: value})
    with pytest.raises(InvalidQueryError, match="filter"):
        indexed.index.search(up, down, filters={"colour": ["red"]})


def test_fast_mode_recall_is_measured_at_build_and_reported(indexed: Indexed) -> None:
    fast = indexed.index.manifest["fast"]
    assert fast["index"] == "IndexPQFastScan"
    assert fast["queries"] == 5
    assert fast["recall_at_100"] >= 0.95
    assert fast["meets_target"] == (fast["recall_at_100"] >= 0.99)
    result = indexed.index.search(*query(indexed, seed=18), path="fast", k=100)
    assert result.recall_at_100 == fast["recall_at_100"]
    assert not result.fdr_exact
    exact = indexed.index.search(*query(indexed, seed=18), path="exact", k=100)
    assert len(set(result.table["sig_id"]) & set(exact.table["sig_id"])) >= 90


def test_the_fast_fdr_bounds_the_exact_fdr_from_above(indexed: Indexed) -> None:
    up, down = query(indexed, seed=19)
    fast = indexed.index.search(up, down, path="fast", k=40).table.set_index("sig_id")
    exact = indexed.index.search(up, down, path="exact", k=40).table.set_index("sig_id")
    common = fast.index.intersection(exact.index)
    assert len(common) > 30
    for column in ("fdr", "fdr_up", "fdr_down"):
        assert (fast.loc[common, column] >= exact.loc[common, column] * (1 - 1e-12)).all()


def test_auto_takes_exact_on_a_small_index(indexed: Indexed) -> None:
    assert indexed.index.search(*query(indexed, seed=20)).path == "exact"


@pytest.mark.gpu
@pytest.mark.skipif(
    not (cpu.gpu_available() or torch_gpu.cuda_available()), reason="needs a CUDA GPU"
)
def test_the_gpu_path_equals_the_cpu_paths(indexed: Indexed) -> None:
    up, down = query(indexed, seed=21)
    gpu = indexed.index.search(up, down, path="gpu", k=50).table
    cpu = indexed.index.search(up, down, path="exact", k=50).table
    assert gpu["sig_id"].tolist() == cpu["sig_id"].tolist()
    assert np.allclose(gpu["z_sum"], cpu["z_sum"], rtol=1e-6)


def test_a_filtered_fast_search_keeps_the_filter_or_falls_back_to_exact(indexed: Indexed) -> None:
    up, down = query(indexed, seed=22)
    broad = indexed.index.search(up, down, path="fast", filters={"pert_type": ["trt_cp"]}, k=20)
    assert broad.path == "fast"
    assert set(broad.table["pert_type"]) == {"trt_cp"}
    narrow = {"pert_type": ["trt_oe"], "cell_id": ["PC3"]}  # too few for the fast scan
    result = indexed.index.search(up, down, path="fast", filters=narrow, k=5)
    exact = indexed.index.search(up, down, path="exact", filters=narrow, k=5)
    assert result.path == "exact"
    assert result.rows == exact.rows


def test_text_filters_match_regardless_of_case_and_report_what_matched_nothing(
    indexed: Indexed,
) -> None:
    up, down = query(indexed, seed=16)
    exact = indexed.index.search(up, down, filters={"cell_id": ["MCF7"]}, k=20)
    folded = indexed.index.search(up, down, filters={"cell_id": ["mcf7", "NOPE"]}, k=20)
    assert folded.n_searched == exact.n_searched > 0
    assert folded.table["sig_id"].tolist() == exact.table["sig_id"].tolist()
    assert folded.filters == {"cell_id": {"read_as": {"mcf7": "MCF7"}, "unmatched": ["NOPE"]}}
    assert exact.filters == {}
    doses = indexed.index.search(up, down, filters={"pert_dose": ["7", "10"]}, k=5)
    assert doses.filters == {"pert_dose": {"read_as": {}, "unmatched": ["7"]}}
    none = indexed.index.search(up, down, filters={"pert_dose": {"min": 10**6}}, k=5)
    assert none.filters["pert_dose"]["unmatched"] == ["1000000.."]


def test_tied_values_share_the_largest_rank_as_sigcom_ranks_them(indexed_ties: Indexed) -> None:
    stored = np.asarray(indexed_ties.index.ranks[:, :]).astype(np.int64)
    assert np.array_equal(stored, indexed_ties.ranks)  # the reference written from SigCom's code
    column = indexed_ties.values[:, 0]
    distinct, counts = np.unique(column, return_counts=True)
    shared = distinct[counts > 1][0]
    tied = np.flatnonzero(column == shared)
    assert len(tied) > 1
    assert set(stored[tied, 0]) == {int((column <= shared).sum())}  # the run's largest rank


@pytest.mark.parametrize("path", ["exact", "flat"])
def test_scores_over_tied_values_agree_with_the_reference(indexed_ties: Indexed, path: str) -> None:
    up, down = query(indexed_ties, seed=21)
    result = indexed_ties.index.search(up, down, k=30, path=path)
    reference = reference_scores(
        indexed_ties.values,
        rows_of(indexed_ties, up),
        rows_of(indexed_ties, down),
        ranks=indexed_ties.ranks,
    )
    positions = reference_top(reference, "both", 30)
    rtol = 1e-6 if path == "flat" else 1e-9
    assert_matches_reference(result, reference, positions, indexed_ties.index, rtol, COLUMNS)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_ranks_of_gives_ties_their_runs_largest_rank_and_keeps_the_gene_order(dtype) -> None:
    values = np.array([[0.5, -1, 0, 0.5, 2, 0, 0], [3, 2, 1, 0, -1, -2, -3]], dtype=dtype)
    ranks, order = ranks_of(values)
    assert ranks.tolist() == [[6, 1, 4, 6, 7, 4, 4], [7, 6, 5, 4, 3, 2, 1]]
    assert order[0].tolist() == [1, 2, 5, 6, 0, 3, 4]  # ties in gene order: the top genes


def _reference_ranks(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From the definition: a value's rank is how many values of its row are at most it (a tied
    run's largest rank); the order is numpy's stable argsort (ties in gene order)."""
    ordered = np.sort(row)
    return np.searchsorted(ordered, row, side="right"), np.argsort(row, kind="stable")


def test_float32_rows_rank_by_radix_as_the_definition_ranks_them() -> None:
    rng = np.random.default_rng(5)
    values = rng.standard_normal((40, 3000)).astype(np.float32)
    values[:10] = np.round(values[:10], 1)  # runs of ties
    values[10, :500], values[10, 500:1000] = -0.0, 0.0  # equal as numbers: one run
    values[11] = 0.0
    values[12, ::2] = np.finfo(np.float32).max
    values[13, ::3] = -np.finfo(np.float32).max
    values[14, ::5], values[14, 1::5] = 1e-45, -1e-45  # the smallest subnormals
    values[15] = np.arange(3000)[::-1]
    ranks, order = ranks_of(values)
    assert ranks.dtype == np.uint16
    for row, (got_ranks, got_order) in enumerate(zip(ranks, order, strict=True)):
        want_ranks, want_order = _reference_ranks(values[row])
        assert got_ranks.tolist() == want_ranks.tolist(), row
        assert got_order.tolist() == want_order.tolist(), row

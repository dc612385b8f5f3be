from __future__ import annotations

import numpy as np
import pytest

from search.engine.errors import InvalidQueryError, UnknownGeneError, UnknownSignatureError
from tests.engine.conftest import Indexed


def spearman(indexed: Indexed, at: int) -> np.ndarray:
    centred = indexed.ranks - (indexed.ranks.shape[0] + 1) / 2
    return np.corrcoef(centred.T)[at]


@pytest.mark.parametrize("path", ["exact", "flat", "fast"])
def test_similar_signatures_are_ranked_by_spearman_correlation(indexed: Indexed, path: str) -> None:
    at = 37
    sig_id = indexed.index.table.sig_ids[at]
    rho = spearman(indexed, at)
    rho[at] = -np.inf
    expected = np.argsort(-rho, kind="stable")[:10]
    rows = indexed.index.similar(sig_id, k=10, path=path)
    assert [row["sig_id"] for row in rows] == indexed.index.table.sig_ids[expected].tolist()
    assert np.allclose([row["rho"] for row in rows], rho[expected], rtol=1e-5)


def test_similar_takes_filters_and_refuses_unknown_ids(indexed: Indexed) -> None:
    sig_id = indexed.index.table.sig_ids[5]
    rows = indexed.index.similar(sig_id, k=5, filters={"pert_type": ["trt_oe"]})
    assert {row["pert_type"] for row in rows} == {"trt_oe"}
    with pytest.raises(UnknownSignatureError):
        indexed.index.similar("NO-SUCH-SIGNATURE")
    with pytest.raises(InvalidQueryError):
        indexed.index.similar(sig_id, path="psychic")


def test_a_signature_lists_its_most_raised_and_lowered_genes(indexed: Indexed) -> None:
    at = 101
    sig_id = indexed.index.table.sig_ids[at]
    detail = indexed.index.signature(sig_id, n=8)
    column = indexed.values[:, at]
    order = np.argsort(column, kind="stable")
    assert [g["gene"] for g in detail["top_up"]] == [indexed.genes[g] for g in order[::-1][:8]]
    assert [g["gene"] for g in detail["top_down"]] == [indexed.genes[g] for g in order[:8]]
    assert detail["top_up"][0]["value"] == pytest.approx(column.max(), rel=1e-6)
    assert detail["sig_id"] == sig_id
    assert detail["pert_type"] in {"trt_cp", "trt_sh", "trt_oe"}
    assert isinstance(detail["pert_time"], int | np.integer)


@pytest.mark.parametrize("direction", ["up", "down"])
def test_a_gene_lists_the_signatures_that_move_it_most(indexed: Indexed, direction: str) -> None:
    gene = indexed.genes[17]
    rows = indexed.index.gene_signatures(
        gene, direction=direction, pert_type="trt_cp", cell_id="A375", limit=6
    )
    meta = indexed.index.table.rows(np.arange(indexed.values.shape[1]))
    keep = np.flatnonzero((meta["pert_type"] == "trt_cp") & (meta["cell_id"] == "A375"))
    values = indexed.values[17, keep]
    best = keep[np.argsort(-values if direction == "up" else values, kind="stable")[:6]]
    assert [row["sig_id"] for row in rows] == meta["sig_id"].iloc[best].tolist()
    assert np.allclose([row["value"] for row in rows], indexed.values[17, best], rtol=1e-6)
    ranks = indexed.ranks[17, best]
    expected_rank = 300 + 1 - ranks if direction == "up" else ranks
    assert [row["rank"] for row in rows] == expected_rank.tolist()


def test_a_gene_can_be_listed_by_its_rank_in_each_signature(indexed: Indexed) -> None:
    rows = indexed.index.gene_signatures(indexed.genes[3], direction="up", by="rank", limit=20)
    assert [row["rank"] for row in rows] == sorted(row["rank"] for row in rows)
    assert rows[0]["rank"] == 1


def test_gene_values_cover_every_signature_with_metadata(indexed: Indexed) -> None:
    values = indexed.index.gene_values(indexed.genes[5])
    assert np.allclose(values["values"], indexed.values[5], rtol=1e-6)
    assert np.array_equal(values["rank"], indexed.ranks[5])
    assert len(values["pert_type"]) == len(values["cell_id"]) == indexed.values.shape[1]
    filtered = indexed.index.gene_values(indexed.genes[5], filters={"cell_id": ["PC3"]})
    assert set(filtered["cell_id"]) == {"PC3"}
    with pytest.raises(UnknownGeneError):
        indexed.index.gene_values("NOT_A_GENE")


def test_genes_are_found_exactly_then_regardless_of_case(indexed: Indexed) -> None:
    assert indexed.index.has_gene("GENE0003")
    assert indexed.index.has_gene("gene0003")
    assert not indexed.index.has_gene("GENE9999")


@pytest.mark.parametrize("by", ["value", "rank"])
@pytest.mark.parametrize("direction", ["up", "down"])
def test_a_gene_list_holds_only_signatures_that_move_it_that_way(
    indexed: Indexed, direction: str, by: str
) -> None:
    gene, n = indexed.genes[17], indexed.values.shape[1]
    rows = indexed.index.gene_signatures(gene, direction=direction, by=by, limit=n)
    counts = indexed.index.gene_side_counts(gene, by=by)
    if by == "value":
        moved = indexed.values[17] > 0 if direction == "up" else indexed.values[17] < 0
    else:
        middle = (indexed.ranks.shape[0] + 1) / 2
        moved = indexed.ranks[17] > middle if direction == "up" else indexed.ranks[17] < middle
    meta = indexed.index.table.rows(np.arange(n))
    assert {row["sig_id"] for row in rows} == set(meta["sig_id"][moved])
    assert len(rows) == counts[direction] == int(moved.sum()) < n
    assert counts["searched"] == n
    if by == "value":
        values = np.array([row["value"] for row in rows])
        assert (values > 0).all() if direction == "up" else (values < 0).all()

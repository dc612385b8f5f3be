"""A head (the index without its matrices, beside its shards) answers as the unsplit index: its
gene rows, signature pages, slices, similar signatures and searches are read from the shards,
bit for bit; without its shards it refuses, naming them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from search.engine.errors import IndexArtifactError, InvalidQueryError
from search.engine.index import SearchIndex
from search.engine.shards import HEAD, LocalShard, ShardedIndex, write_shards
from search.engine.slices import gene_blocks, signature_blocks
from tests.engine.conftest import Indexed
from tests.engine.test_many import FILTERS, _queries


class Logged(LocalShard):
    """A shard that notes each cells call's signature columns (None: all of them)."""

    def __init__(self, index: SearchIndex) -> None:
        super().__init__(index)
        self.columns: list[int | None] = []

    def cells(self, payload: dict) -> dict:
        asked = payload.get("columns")
        self.columns.append(None if asked is None else int(np.prod(asked["shape"])))
        return super().cells(payload)


def _head(indexed: Indexed, tmp_path: Path, k: int) -> tuple[SearchIndex, list[Logged]]:
    directories = write_shards(indexed.index, tmp_path / f"shards-{k}", k)
    head = SearchIndex.open(tmp_path / f"shards-{k}" / HEAD, verify=True)
    shards = [Logged(SearchIndex.open(directory)) for directory in directories]
    ShardedIndex(head, shards)
    return head, shards


def test_a_head_holds_all_but_the_matrices(indexed: Indexed, tmp_path: Path) -> None:
    write_shards(indexed.index, tmp_path, 3)
    manifest = json.loads((tmp_path / HEAD / "index.json").read_text())
    folder = tmp_path / HEAD / manifest["folder"]
    assert not (folder / "ranks.npy").exists()
    assert not (folder / "values.npy").exists()
    assert (folder / "top_genes.npy").exists()
    assert (folder / "metadata.h5").exists()
    assert manifest["version"] == indexed.index.version
    assert manifest["in_shards"]["bounds"] == [0, 800, 1600, 2400]
    assert manifest["in_shards"]["matrices"] == {"ranks": "uint16", "values": "float32"}
    head = SearchIndex.open(tmp_path / HEAD, verify=True)
    assert head.ranks.shape == indexed.index.ranks.shape
    assert list(head.table.sig_ids) == list(indexed.index.table.sig_ids)
    assert head.describe()["has_values"]


def test_a_head_without_its_shards_refuses_and_names_them(indexed: Indexed, tmp_path: Path) -> None:
    directories = write_shards(indexed.index, tmp_path, 2)
    head = SearchIndex.open(tmp_path / HEAD)
    gene = indexed.genes[0]
    for read in (
        lambda: head.gene_values(gene),
        lambda: head.signature(str(head.table.sig_ids[0])),
        lambda: head.search(indexed.genes[:10], indexed.genes[10:20]),
        lambda: head.similar(str(head.table.sig_ids[0])),
    ):
        with pytest.raises(IndexArtifactError, match="2 shards"):
            read()
    one = [LocalShard(SearchIndex.open(directories[0]))]
    with pytest.raises(IndexArtifactError, match="in 2 shards, and 1 are given"):
        ShardedIndex(head, one)
    with pytest.raises(InvalidQueryError, match="is a head"):
        write_shards(head, tmp_path / "again", 2)


@pytest.mark.parametrize("k", [2, 3])
def test_a_heads_gene_rows_equal_the_index(indexed: Indexed, tmp_path: Path, k: int) -> None:
    head, shards = _head(indexed, tmp_path, k)
    index = indexed.index
    for gene in indexed.genes[:: len(indexed.genes) // 5]:
        for filters in FILTERS:
            found, alone = (
                head.gene_values(gene, filters=filters),
                index.gene_values(gene, filters=filters),
            )
            assert found.keys() == alone.keys()
            for name in alone:
                np.testing.assert_array_equal(found[name], alone[name], strict=True)
        assert head.gene_tables(gene, limit=7) == index.gene_tables(gene, limit=7)
        by_rank = {"direction": "down", "by": "rank", "pert_type": "trt_sh", "limit": 9}
        assert head.gene_signatures(gene, **by_rank) == index.gene_signatures(gene, **by_rank)
        assert head.gene_side_counts(gene) == index.gene_side_counts(gene)
    assert all(column is None for shard in shards for column in shard.columns)  # whole rows


def test_a_heads_signature_pages_read_one_shard(indexed: Indexed, tmp_path: Path) -> None:
    head, shards = _head(indexed, tmp_path, 3)
    for at in (0, 799, 800, 1999, 2399):
        sig_id = str(indexed.index.table.sig_ids[at])
        for shard in shards:
            shard.columns.clear()
        assert head.signature(sig_id, n=20) == indexed.index.signature(sig_id, n=20)
        asked = [len(shard.columns) for shard in shards]
        assert asked == [int(at // 800 == n) for n in range(3)]  # the shard holding it, once


def test_a_heads_slices_equal_the_index_in_the_order_asked(
    indexed: Indexed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import search.engine.slices as slices

    monkeypatch.setattr(slices, "BLOCK_CELLS", 4_000)  # several blocks, each across the shards
    head, _ = _head(indexed, tmp_path, 3)
    rng = np.random.default_rng(3)
    rows = rng.choice(indexed.index.n_genes, 40, replace=False).astype(np.int64)
    positions = rng.choice(indexed.index.n_signatures, 300, replace=False).astype(np.int64)
    for blocks in (gene_blocks, signature_blocks):
        found = list(blocks(head, rows, positions))
        alone = list(blocks(indexed.index, rows, positions))
        assert len(found) == len(alone) > 1
        for (at, block), (at_alone, block_alone) in zip(found, alone, strict=True):
            np.testing.assert_array_equal(at, at_alone)
            np.testing.assert_array_equal(block, block_alone, strict=True)


@pytest.mark.parametrize("filters", [None, {"pert_type": ["trt_oe"], "cell_id": ["A375"]}])
def test_a_heads_similar_signatures_equal_the_index(
    indexed: Indexed, tmp_path: Path, filters: dict | None
) -> None:
    head, _ = _head(indexed, tmp_path, 3)
    for at in (5, 1200, 2398):
        sig_id = str(indexed.index.table.sig_ids[at])
        found = head.similar(sig_id, k=15, filters=filters)
        alone = indexed.index.similar(sig_id, k=15, filters=filters, path="exact")
        pd.testing.assert_frame_equal(pd.DataFrame(found), pd.DataFrame(alone), check_exact=True)


@pytest.mark.parametrize("score", ["rank", "cd"])
def test_a_heads_searches_equal_the_index(indexed: Indexed, tmp_path: Path, score: str) -> None:
    head, _ = _head(indexed, tmp_path, 2)
    for up, down in _queries(indexed)[:3]:
        for filters in FILTERS:
            found = head.search(up, down, score=score, filters=filters, k=25, path="fast")
            alone = indexed.index.search(up, down, score=score, filters=filters, k=25, path="exact")
            pd.testing.assert_frame_equal(found.table, alone.table, check_exact=True)
            assert found.n_searched == alone.n_searched


def test_a_shard_refuses_a_read_larger_than_its_bound(
    indexed: Indexed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from search.engine.shards import answering

    head, _ = _head(indexed, tmp_path, 2)
    monkeypatch.setattr(answering, "MAX_CELLS", 1_000)
    with pytest.raises(InvalidQueryError, match="1,200 cells in one call: at most 1,000"):
        head.gene_values(indexed.genes[0])
    assert head.signature(str(head.table.sig_ids[0]), n=5)["top_up"]  # 10 cells


def test_a_matrix_in_shards_refuses_indexing_it_does_not_serve(
    indexed: Indexed, tmp_path: Path
) -> None:
    head, _ = _head(indexed, tmp_path, 2)
    with pytest.raises(TypeError, match="reads a row, a column"):
        head.ranks[0:5]
    with pytest.raises(IndexError, match="outside 0 to 2399"):
        head.ranks[np.ix_(np.array([0]), np.array([2400]))]


def test_a_heads_many_searches_equal_the_index(indexed: Indexed, tmp_path: Path) -> None:
    from search.engine.many import search_many

    head, _ = _head(indexed, tmp_path, 2)
    queries = [*_queries(indexed)[:3], (["NOT-A-GENE"], [])]
    found = search_many(head, queries, filters={"pert_type": ["trt_sh"]}, k=10)
    alone = search_many(indexed.index, queries, filters={"pert_type": ["trt_sh"]}, k=10)
    for one, other in zip(found, alone, strict=True):
        if isinstance(other, InvalidQueryError):
            assert isinstance(one, InvalidQueryError)
            assert str(one) == str(other)
        else:
            assert not isinstance(one, InvalidQueryError)
            pd.testing.assert_frame_equal(one.table, other.table, check_exact=True)


@pytest.mark.parametrize("filters", [None, {"cell_id": ["MCF7"]}])
def test_a_heads_fast_similar_rescores_only_the_candidates_as_the_index_does(
    indexed: Indexed, tmp_path: Path, filters: dict | None
) -> None:
    """The head keeps the fast mode's files: its `similar` takes the index's candidates and asks
    each shard for the products of its own candidates only."""
    head, shards = _head(indexed, tmp_path, 3)
    assert head.faiss is not None
    assert head.manifest["fast"] == indexed.index.manifest["fast"]
    asked: list[int] = []
    for shard in shards:
        products = shard.products

        def counted(payload: dict, products=products) -> dict:
            asked.append(int(np.prod(payload["columns"]["shape"])) if "columns" in payload else -1)
            return products(payload)

        shard.products = counted  # type: ignore[method-assign]
    for at in (3, 1500, 2390):
        sig_id = str(indexed.index.table.sig_ids[at])
        found = head.similar(sig_id, k=10, filters=filters, path="fast")
        alone = indexed.index.similar(sig_id, k=10, filters=filters, path="fast")
        pd.testing.assert_frame_equal(pd.DataFrame(found), pd.DataFrame(alone), check_exact=True)
    assert asked
    assert -1 not in asked  # never every signature
    assert sum(asked) <= 3 * head.fast_settings.candidates

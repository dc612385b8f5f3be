from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from search.engine import gene_major, layout
from search.engine.build import build_index
from search.engine.errors import IndexArtifactError
from search.engine.index import IndexError_, SearchIndex
from search.engine.index_state import index_state
from search.engine.sources import FrameSource
from tests.engine.conftest import TEST_BUILD, signature_metadata
from tests.engine.reference import reference_ranks, structured_signatures
from transform.io import GeneMatrix, write_gctx

SMALL = replace(TEST_BUILD, pq_from=10_000, recall_queries=4, sample=200)


def small_source(n_sigs: int = 200, seed: int = 0) -> FrameSource:
    genes = [f"G{g:03d}" for g in range(60)]
    values = structured_signatures(60, n_sigs, seed=seed)
    return FrameSource(pd.DataFrame(values, index=genes), signature_metadata(n_sigs, seed))


@pytest.fixture
def built(tmp_path: Path) -> Path:
    build_index(small_source(), tmp_path / "index", SMALL)
    return tmp_path / "index"


def test_a_build_writes_a_versioned_folder_and_a_manifest(built: Path) -> None:
    manifest = json.loads((built / "index.json").read_text())
    folder = built / manifest["folder"]
    assert manifest["version"] == folder.name
    assert manifest["n_signatures"] == 200
    assert manifest["gene_space"]["n_genes"] == 60
    assert manifest["fast"]["recall_at_100"] > 0
    assert {"ranks.npy", "values.npy", "fast.faiss", "metadata.h5", "genes.txt"} <= set(
        manifest["files"]
    )
    assert manifest["files"]["ranks.npy"] == {
        **manifest["files"]["ranks.npy"],
        "dtype": "uint16",
        "shape": [60, 200],
    }
    state = index_state(built)
    assert (state.state, state.n_signatures, state.version) == ("ready", 200, manifest["version"])
    index = SearchIndex.open(built)
    assert index.version == manifest["version"]
    assert index.n_signatures == 200


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def folder_of(built: Path) -> Path:
    return built / json.loads((built / "index.json").read_text())["folder"]


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "missing", "shape"])
def test_a_damaged_index_is_refused_with_the_reason(built: Path, damage: str) -> None:
    ranks = folder_of(built) / "ranks.npy"
    if damage == "flipped byte":
        flip_byte(ranks, ranks.stat().st_size - 10)  # inside the last sampled block
        reason = "sampled sha256"
    elif damage == "truncated":
        ranks.write_bytes(ranks.read_bytes()[:-100])
        reason = "bytes"
    elif damage == "missing":
        ranks.unlink()
        reason = "missing"
    else:
        np.save(ranks, np.zeros((200, 60), dtype=np.uint16))  # same bytes, transposed
        reason = r"\[200, 60\]"
    with pytest.raises(IndexArtifactError, match=reason):
        SearchIndex.open(built)


def test_a_byte_outside_the_samples_is_caught_by_the_full_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layout, "SAMPLE_BYTES", 64)  # so that most bytes go unsampled
    build_index(small_source(), tmp_path, SMALL)
    values = folder_of(tmp_path) / "values.npy"
    flip_byte(values, values.stat().st_size // 2 + 7)
    index = SearchIndex.open(tmp_path)  # sampled checks pass
    with pytest.raises(IndexError_, match="sha256"):
        index.verify()


def test_another_format_version_or_a_missing_folder_is_refused(built: Path) -> None:
    manifest_path = built / "index.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(IndexArtifactError, match="format version 99"):
        SearchIndex.open(built)
    manifest_path.write_text(json.dumps({**manifest, "folder": "gone"}))
    with pytest.raises(IndexArtifactError, match="missing"):
        SearchIndex.open(built)
    manifest_path.write_text("{not json")
    with pytest.raises(IndexArtifactError, match="unreadable"):
        SearchIndex.open(built)


def test_a_rebuild_publishes_a_new_version_and_keeps_the_previous_one(built: Path) -> None:
    first = SearchIndex.open(built)
    build_index(small_source(seed=1), built, SMALL)
    second = SearchIndex.open(built)
    assert second.version != first.version
    assert first.folder.exists()
    assert first.search(["G001", "G002", "G003", "G004", "G005"], []).n_searched == 200
    build_index(small_source(seed=2), built, SMALL)
    assert not first.folder.exists()
    assert second.folder.exists()


def signature_folder(folder: Path, source: FrameSource) -> Path:
    """`folder` holding source's signatures as the signature pipeline writes them."""
    n = len(source.metadata)
    genes = pd.DataFrame({"pr_gene_symbol": source.genes}, index=[f"{i}_at" for i in range(60)])
    folder.mkdir()
    write_gctx(
        folder / "signatures.gctx",
        GeneMatrix(source.read(np.arange(n)).T, genes, source.metadata.set_index("sig_id")),
    )
    return folder


@pytest.mark.django_db
def test_the_command_builds_from_a_signature_folder_and_verifies(tmp_path: Path) -> None:
    source = small_source(120)
    signature_folder(tmp_path / "sigs", source)
    out = tmp_path / "index"
    call_command(
        "build_search_index",
        signatures=tmp_path / "sigs",
        out=out,
        embedding_dim=8,
        stdout=(log := _Log()),
    )
    assert "120 signatures x 60 genes" in log.text
    index = SearchIndex.open(out)
    assert index.genes == source.genes
    assert index.has_gene("G007")
    assert index.manifest["source"]["signatures"].endswith("signatures.gctx")
    from search.models import Signature  # the command also loads the metadata, in index order

    rows = Signature.objects.filter(signature_set__version=index.version).order_by("position")
    assert list(rows.values_list("sig_id", flat=True)) == list(index.table.sig_ids)
    call_command("build_search_index", out=out, verify=True, stdout=_Log())
    shutil.rmtree(out / index.manifest["folder"])
    with pytest.raises(CommandError, match="missing"):
        call_command("build_search_index", out=out, verify=True, stdout=_Log())
    with pytest.raises(CommandError, match=r"signatures\.gctx"):
        call_command("build_search_index", signatures=tmp_path / "nothing", out=out)


@pytest.mark.django_db
def test_the_command_writes_shards_after_a_build_or_of_the_index_it_has(tmp_path: Path) -> None:
    """--shards K: the index's signatures in K shard indexes by range, each opening on its own
    with every checksum, the ranks of all of them the index's, and the head beside them; without
    --signatures the index already in --out is split (a head is refused)."""
    signatures = signature_folder(tmp_path / "sigs", small_source(120))
    out, shards = tmp_path / "index", tmp_path / "shards"
    call_command(
        "build_search_index",
        signatures=signatures,
        out=out,
        embedding_dim=8,
        shards=2,
        shards_out=shards,
        stdout=(log := _Log()),
    )
    index = SearchIndex.open(out)
    assert "2 shards of search index" in log.text
    assert "SEARCH_SHARDS=2" in log.text
    for k in (2, 3):
        if k == 3:
            call_command("build_search_index", out=out, shards=3, shards_out=shards, stdout=_Log())
        parts = [SearchIndex.open(shards / f"shard-{n}", verify=True) for n in range(k)]
        assert [p.manifest["shard"]["of"] for p in parts] == [k] * k
        assert all(p.manifest["folder"] == index.version for p in parts)
        assert np.array_equal(np.hstack([p.ranks for p in parts]), index.ranks)
        assert index.values is not None
        assert np.array_equal(np.hstack([p.values for p in parts]), index.values)
        head = SearchIndex.open(shards / "head", verify=True)  # the web process's, if it likes
        assert head.n_shards == k
        assert head.version == index.version
    assert f"SEARCH_INDEX_DIR={out} (the whole index) or {shards / 'head'}" in log.text
    with pytest.raises(CommandError, match="is a head: split the index it came from"):
        call_command("build_search_index", out=shards / "head", shards=2, shards_out=tmp_path)
    with pytest.raises(CommandError, match="give 1 to 120"):
        call_command("build_search_index", out=out, shards=121, shards_out=shards, stdout=_Log())
    with pytest.raises(CommandError, match="--shards 0: give 1 or more"):
        call_command("build_search_index", signatures=signatures, out=out, shards=0)
    with pytest.raises(CommandError, match="--signatures is required"):
        call_command("build_search_index", out=out)


class _Log:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_signatures_with_nothing_but_ids_build_and_load(tmp_path: Path) -> None:
    genes = [f"G{g:03d}" for g in range(60)]
    values = pd.DataFrame(structured_signatures(60, 60, seed=1), index=genes)
    bare = FrameSource(values, pd.DataFrame({"sig_id": [f"S{i}" for i in range(60)]}))
    manifest = build_index(bare, tmp_path / "index", SMALL)
    index = SearchIndex.open(tmp_path / "index")
    assert manifest["n_signatures"] == index.n_signatures == 60
    assert index.table.rows(np.arange(3)).columns.tolist() == ["sig_id"]
    assert list((tmp_path / "index").glob(".build-*")) == []


def test_a_failed_build_leaves_no_partial_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the calibration failed")

    monkeypatch.setattr("search.engine.build.recall.calibrate", broken)
    with pytest.raises(RuntimeError, match="calibration failed"):
        build_index(small_source(n_sigs=60), tmp_path / "index", SMALL)
    assert list((tmp_path / "index").iterdir()) == []


def test_gene_major_matrices_written_in_several_runs_hold_every_signature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gene-major ranks and values go to disk a buffer at a time (positioned writes): with a
    buffer of 3 blocks, 200 signatures take 4 full writes and a partial one, and every column
    must land where the index's order puts it."""
    monkeypatch.setattr(gene_major, "FLUSH_BYTES", 48 * 60 * 2)  # 48 columns of 60 uint16 ranks
    source = small_source(200)
    build_index(source, tmp_path / "index", replace(SMALL, block=16, threads=1))
    index = SearchIndex.open(tmp_path / "index")
    values = source.read(np.arange(200)).T  # (genes, signatures) in the source's order
    where = pd.Index(source.metadata["sig_id"]).get_indexer(list(index.table.sig_ids))
    assert np.array_equal(np.asarray(index.ranks), reference_ranks(values)[:, where])
    assert index.values is not None
    assert np.array_equal(np.asarray(index.values), values[:, where])


def test_a_build_failing_midway_leaves_no_file_open(tmp_path: Path) -> None:
    """The gene-major files are written through descriptors of their own: a source that fails
    after some blocks are written leaves neither open (a worker builds many times). The other
    arrays are memory maps, released with the build's frames."""
    source = small_source(200)
    reads = iter(range(1_000))
    read = source.read

    def failing(positions: np.ndarray) -> np.ndarray:
        if next(reads) == 13 + 4:  # the basis's sample takes 13 reads, then 4 blocks written
            raise RuntimeError("the source failed")
        return read(positions)

    source.read = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="the source failed"):
        build_index(source, tmp_path / "index", replace(SMALL, block=16, threads=1))
    opened = [os.readlink(link) for link in Path("/proc/self/fd").iterdir() if link.is_symlink()]
    gene_major = [n for n in opened if n.startswith(str(tmp_path)) and "/ranks.npy" in n]
    assert opened
    assert not gene_major  # "... (deleted)" ones too

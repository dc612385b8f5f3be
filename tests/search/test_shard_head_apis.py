"""A web process that serves a head (SEARCH_INDEX_DIR = the index without its matrices,
SEARCH_SHARDS = K) answers every API as the unsplit index does: gene pages, signature pages,
similar signatures, slices, perturbagens and searches, reading the matrices from the shards;
with SEARCH_SHARDS not K it refuses to serve, naming the number it needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from search.engine.index import SearchIndex
from search.engine.shards import HEAD, LocalShard, write_shards
from search.runtime.index_access import search_index
from tests.search.conftest import PortalIndex

pytestmark = pytest.mark.django_db


def _answers(api: APIClient, portal: PortalIndex) -> dict[str, Any]:
    """What a user would ask of the portal, each answer's JSON (or the slice's text)."""
    genes, sig_ids = portal.genes, list(portal.meta["sig_id"])
    gene, sig_id = genes[7], sig_ids[len(sig_ids) // 2 + 1]
    pert_id = str(portal.meta["pert_id"].iloc[0]) if "pert_id" in portal.meta else None
    slice_body = {"sig_ids": [sig_ids[-1], sig_ids[0], sig_id], "genes": genes[:6], "format": "tsv"}
    exported = api.post("/api/export", slice_body, format="json")
    answers = {
        "gene": api.get(f"/api/genes/{gene}/signatures", {"limit": 8}).json(),
        "signature": api.get(f"/api/signatures/{sig_id}").json(),
        "signature genes": api.get(f"/api/signatures/{sig_id}/genes", {"n": 30}).json(),
        "similar": api.get(f"/api/signatures/{sig_id}/similar", {"k": 12}).json(),
        "search": api.post(
            "/api/search", {"up": genes[:10], "down": genes[10:20], "limit": 15}, format="json"
        ).json()["results"],
        "export": b"".join(exported.streaming_content).decode(),
    }
    if pert_id:
        answers["perturbagen"] = api.get(f"/api/perturbagens/{pert_id}").json()
    return answers


def test_a_head_served_with_its_shards_answers_as_the_index(
    serve_portal_index: PortalIndex, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    api = APIClient()
    whole = _answers(api, serve_portal_index)
    directories = write_shards(search_index(), tmp_path, 2)
    shards = [LocalShard(SearchIndex.open(directory)) for directory in directories]
    monkeypatch.setattr("search.runtime.shards.queue_shards", lambda: shards)
    settings.SEARCH_INDEX_DIR, settings.SEARCH_SHARDS = tmp_path / HEAD, 2
    head = search_index()
    assert head.in_shards is not None
    assert head.sharded is not None
    split = _answers(api, serve_portal_index)
    assert split.keys() == whole.keys()
    for name in whole:
        assert split[name] == whole[name], name
    health = api.get("/api/health").json()["search_index"]
    assert health["ok"], health
    assert health["shards"] == 2


def test_a_head_without_the_right_number_of_shards_is_not_served(
    serve_portal_index: PortalIndex, settings: Any, tmp_path: Path
) -> None:
    write_shards(search_index(), tmp_path, 2)
    settings.SEARCH_INDEX_DIR, settings.SEARCH_SHARDS = tmp_path / HEAD, 0
    response = APIClient().post("/api/search", {"up": serve_portal_index.genes[:10]}, format="json")
    assert response.status_code == 503
    assert "SEARCH_SHARDS=2" in response.json()["detail"]
    health = APIClient().get("/api/health")
    assert health.status_code == 503
    assert health.json()["search_index"]["shards"] == 2
    assert "set SEARCH_SHARDS=2" in health.json()["search_index"]["detail"]

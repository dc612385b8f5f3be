"""The perturbagen page and its API: its signatures, their consensus, similar perturbagens.

The consensus is checked against a plain count of the signatures' stored top genes (its
definition), and the similar perturbagens against the portal's own search with the consensus's
genes, aggregated by hand.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from rest_framework.test import APIClient

from search.engine.index import SearchIndex
from search.models import Signature
from tests.search.conftest import PortalIndex

pytestmark = pytest.mark.django_db
PERT = "BRD-007"


def _reference_consensus(index: SearchIndex, sig_ids: list[str]) -> dict[str, float]:
    """Per gene: (signatures with it among their top raised - among their top lowered) / n."""
    raised, lowered = Counter(), Counter()
    for sig_id in sig_ids:
        at = index.table.position(sig_id)
        raised.update(index.genes[g] for g in index.top_genes[at, 0])
        lowered.update(index.genes[g] for g in index.top_genes[at, 1])
    return {g: (raised[g] - lowered[g]) / len(sig_ids) for g in set(raised) | set(lowered)}


def test_the_api_lists_the_signatures_and_their_consensus_by_its_definition(
    serve_portal_index: PortalIndex,
) -> None:
    body = APIClient().get(f"/api/perturbagens/{PERT}", {"n": 30}).json()
    rows = Signature.objects.filter(pert_id=PERT)
    assert body["n_signatures"] == rows.count() > 1
    assert {row["sig_id"] for row in body["signatures"]} == {row.sig_id for row in rows}
    keys = [(r["cell_id"], r["pert_dose"], r["pert_time"]) for r in body["signatures"]]
    assert keys == sorted(keys)
    assert body["cell_lines"] == sorted({row.cell_id for row in rows})
    index = SearchIndex.open(serve_portal_index.directory)
    expected = _reference_consensus(index, [row.sig_id for row in rows])
    for side, sign in (("top_up", 1), ("top_down", -1)):
        listed = body["consensus"][side]
        assert listed
        for item in listed:
            assert item["score"] == pytest.approx(expected[item["gene"]])
            assert sign * item["score"] > 0
        scores = [sign * item["score"] for item in listed]
        assert scores == sorted(scores, reverse=True)
        best = max(sign * value for value in expected.values())
        assert sign * listed[0]["score"] == pytest.approx(best)
    assert "share of the perturbagen's signatures" in body["consensus"]["method"]


def test_similar_perturbagens_are_the_search_with_the_consensus_genes(
    serve_portal_index: PortalIndex,
) -> None:
    api = APIClient()
    body = api.get(f"/api/perturbagens/{PERT}").json()
    query = body["similar"]["query"]
    assert len(query["up"]) == len(query["down"]) == 50
    found = api.post("/api/search", {**query, "mode": "mimic", "limit": 300}, format="json").json()[
        "results"
    ]
    first: dict[str, dict] = {}
    for row in found:
        if row["pert_id"] != PERT:
            first.setdefault(row["pert_id"], row)
    listed = body["similar"]["results"]
    assert [item["pert_id"] for item in listed] == list(first)[: len(listed)]
    for item in listed:
        assert item["best_sig_id"] == first[item["pert_id"]]["sig_id"]
        assert item["n_signatures"] == sum(r["pert_id"] == item["pert_id"] for r in found)
    assert PERT not in {item["pert_id"] for item in listed}


def test_the_page_links_both_ways_and_offers_the_search(serve_portal_index: PortalIndex) -> None:
    client = APIClient()
    page = client.get(f"/perturbagens/{PERT}").content.decode()
    sig_id = Signature.objects.filter(pert_id=PERT).order_by("position").first().sig_id
    assert f'href="/signatures/{sig_id}"' in page
    assert 'id="consensus-up"' in page
    assert 'id="search-with"' in page
    assert "/?up=" in page
    signature_page = client.get(f"/signatures/{sig_id}").content.decode()
    assert f'href="/perturbagens/{PERT}" id="perturbagen"' in signature_page
    detail = client.get(f"/api/signatures/{sig_id}").json()
    up = detail["links"]["search"].split("up=")[1].split("&")[0].split("%2C")
    assert up == [g["gene"] for g in detail["top_up"]]


def test_an_unknown_perturbagen_is_a_clear_404(serve_portal_index: PortalIndex) -> None:
    client = APIClient()
    answer = client.get("/api/perturbagens/NOT-A-PERT")
    assert answer.status_code == 404
    assert "no signature of perturbagen 'NOT-A-PERT'" in answer.json()["detail"]
    assert client.get("/perturbagens/NOT-A-PERT").status_code == 404


def test_a_consensus_by_votes_counts_places_for_ties() -> None:
    from search.engine.consensus import votes

    top = np.array([[[1, 2, 3], [4, 5, 6]], [[2, 1, 7], [5, 4, 8]]], dtype=np.uint16)
    found = votes(top, np.array([0, 1]), 10, 5)
    assert found.up == [(1, 1.0), (2, 1.0), (3, 0.5), (7, 0.5)]
    assert found.down == [(4, -1.0), (5, -1.0), (6, -0.5), (8, -0.5)]
    with pytest.raises(ValueError, match="at least one signature"):
        votes(top, np.array([], dtype=np.int64), 10, 5)

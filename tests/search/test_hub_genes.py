"""Hub genes: per gene, the fraction of signatures with it among their top raised (lowered)
genes, stored at build; the gene page and API show it, a search flags the query's hub genes and
offers the query without them.

The fractions are checked by counting the stored top lists signature by signature; which genes a
search flags, against the definition (at least HUB_FACTOR times the chance fraction T / G).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from rest_framework.test import APIClient

from search.engine import hubs
from search.engine.index import SearchIndex
from tests.search.conftest import PortalIndex

pytestmark = pytest.mark.django_db


def _counted(index: SearchIndex) -> np.ndarray:
    counts = np.zeros((2, index.n_genes))
    for at in range(index.n_signatures):
        for side in (0, 1):
            for gene in index.top_genes[at, side]:
                counts[side, gene] += 1
    return counts / index.n_signatures


def test_the_index_stores_each_genes_top_set_fractions(serve_portal_index: PortalIndex) -> None:
    index = SearchIndex.open(serve_portal_index.directory)
    assert index.hub is not None
    assert np.allclose(index.hub, _counted(index))
    expected = index.top_genes.shape[2] / index.n_genes
    assert hubs.expected_fraction(index) == pytest.approx(expected)
    assert np.allclose(index.hub.sum(axis=1), index.top_genes.shape[2])  # T genes a signature


def test_a_search_flags_its_hub_genes_and_offers_the_query_without_them(
    serve_portal_index: PortalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = SearchIndex.open(serve_portal_index.directory)
    fractions = _counted(index).max(axis=0)
    expected = hubs.expected_fraction(index)
    factor = float(np.quantile(fractions, 0.9) / expected)  # the top tenth of genes are hubs
    monkeypatch.setattr(hubs, "HUB_FACTOR", factor)
    monkeypatch.setattr("search.services.searches.HUB_FACTOR", factor)
    order = np.argsort(-fractions)
    up = [index.genes[g] for g in order[:3]] + [index.genes[g] for g in order[-10:-4]]
    down = [index.genes[g] for g in order[-20:-14]]
    filters = {"cell_id": ["mcf7"], "pert_dose": {"min": 0.5}}  # read as MCF7
    query = {"up": up, "down": down, "mode": "mimic", "limit": 7, "filters": filters}
    body = APIClient().post("/api/search", query, format="json").json()
    flagged = [item["gene"] for item in body["report"]["up"]["hubs"]]
    assert flagged == [g for g in up if fractions[index.gene_row(g)] >= factor * expected]
    assert flagged == up[:3]
    assert body["report"]["down"]["hubs"] == []
    summary = body["report"]["hubs"]
    assert summary["n"] == 3
    assert summary["share"] == pytest.approx(3 / (len(up) + len(down)))
    without = parse_qs(urlparse(summary["without"]).query)
    assert without["up"][0].split(",") == up[3:]
    assert without["down"][0].split(",") == down
    # the search's options and the filters the form holds come along; the range is named
    assert (without["mode"], without["limit"], without["cell_id"]) == (["mimic"], ["7"], ["MCF7"])
    assert "pert_dose" not in without
    assert summary["without_lacks"] == ["pert_dose"]
    page = APIClient().get(f"/search/{body['id']}").content.decode()
    assert 'id="hub-report"' in page
    assert 'id="without-hubs"' in page
    export = APIClient().get(f"/api/search/{body['id']}/export").content.decode()
    assert f"# hub genes in the query (move in many signatures): {', '.join(up[:3])}" in export


def test_the_gene_api_and_page_give_the_genes_fractions(serve_portal_index: PortalIndex) -> None:
    index = SearchIndex.open(serve_portal_index.directory)
    gene = index.genes[7]
    hub = APIClient().get(f"/api/genes/{gene}/signatures").json()["hub"]
    counted = _counted(index)
    assert hub["fraction_up"] == pytest.approx(counted[0, 7])
    assert hub["fraction_down"] == pytest.approx(counted[1, 7])
    assert hub["expected"] == pytest.approx(hubs.expected_fraction(index))
    page = APIClient().get(f"/genes/{gene}").content.decode()
    assert 'id="gene-hub"' in page
    assert "Among the top raised genes of" in page


def test_an_index_without_hub_fractions_says_so(serve_portal_index: PortalIndex, settings) -> None:
    index = SearchIndex.open(serve_portal_index.directory)
    index.hub = None
    assert hubs.gene_hub(index, index.genes[0]) is None
    assert hubs.hub_genes(index, index.genes[:5]) is None

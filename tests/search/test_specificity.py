"""Specificity (tau): each result's signed percentile among its signature's scores for the
reference queries, checked against the definition computed through the public search.

The reference |z_sum| of every signature is recomputed here by searching each reference query over
every signature (index.search, k = all) and compared with the stored compendium; tau is then
recomputed from its definition for the API's rows.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from rest_framework.test import APIClient

from search.engine import specificity
from search.engine.cli import main
from search.engine.index import SearchIndex
from tests.search.conftest import PortalIndex

pytestmark = pytest.mark.django_db


def _reference(index: SearchIndex) -> np.ndarray:
    """(N, Q): |z_sum| of every signature for every reference query, by the public search."""
    names = (index.folder / specificity.DESCRIPTION).read_text()
    queries = specificity.reference_queries(index, index.specificity.shape[1])
    assert next(q.name for q in queries if not q.name.startswith("gene set")) in names
    out = np.empty((index.n_signatures, len(queries)))
    for j, query in enumerate(queries):
        up = [index.genes[g] for g in query.up]
        down = [index.genes[g] for g in query.down]
        table = index.search(up, down, k=index.n_signatures, path="exact").table
        at = [index.table.position(s) for s in table["sig_id"]]
        out[at, j] = np.abs(table["z_sum"].to_numpy())
    return out


def _tau(refs: np.ndarray, z: float) -> float:
    """The definition: sign(z) x 100 x (refs below |z| + half of those equal) / Q."""
    below = (refs < abs(z)).sum() + 0.5 * (refs == abs(z)).sum()
    return float(np.sign(z) * 100 * below / refs.size)


def test_the_compendium_holds_each_signatures_sorted_reference_scores(
    serve_portal_index: PortalIndex,
) -> None:
    index = SearchIndex.open(serve_portal_index.directory)
    assert index.specificity is not None
    expected = np.sort(_reference(index), axis=1).astype(np.float16)
    assert np.array_equal(index.specificity, expected)
    kinds = {
        (str(index.table.columns["pert_type"][i]), str(index.table.columns["cell_id"][i]))
        for i in range(index.n_signatures)
    }
    drawn = specificity.reference_queries(index, len(kinds))
    strata = {
        (str(index.table.columns["pert_type"][i]), str(index.table.columns["cell_id"][i]))
        for i in (index.table.position(q.name) for q in drawn)
    }
    assert strata == kinds  # one query from each stratum before a second from any


def test_each_result_has_its_tau_by_the_definition(serve_portal_index: PortalIndex) -> None:
    index = SearchIndex.open(serve_portal_index.directory)
    cd = serve_portal_index.cd.iloc[:, 9].sort_values()
    up, down = list(cd.index[-15:]), list(cd.index[:15])
    body = APIClient().post("/api/search", {"up": up, "down": down, "limit": 40}, format="json")
    rows = body.json()["results"]
    for row in rows:
        refs = index.specificity[index.table.position(row["sig_id"])].astype(np.float64)
        assert row["tau"] == pytest.approx(_tau(refs, row["z_sum"]))
        assert -100 <= row["tau"] <= 100
        assert np.sign(row["tau"]) == np.sign(row["z_sum"])
    export = APIClient().get(f"/api/search/{body.json()['id']}/export").content.decode()
    table = pd.read_csv(io.StringIO(export), sep="\t", comment="#")
    assert np.allclose(table["tau"], [row["tau"] for row in rows])
    out = io.StringIO()
    assert (
        main(
            [
                "query",
                "--index",
                str(serve_portal_index.directory),
                "--up",
                *up,
                "--down",
                *down,
                "--limit",
                "40",
            ],
            out=out,
        )
        == 0
    )
    cli = pd.read_csv(io.StringIO(out.getvalue()), sep="\t", comment="#")
    assert np.allclose(cli["tau"], [row["tau"] for row in rows])


def test_the_cd_score_has_no_tau(serve_portal_index: PortalIndex) -> None:
    cd = serve_portal_index.cd.iloc[:, 2].sort_values()
    body = (
        APIClient()
        .post(
            "/api/search",
            {"up": list(cd.index[-10:]), "down": list(cd.index[:10]), "score": "cd", "limit": 5},
            format="json",
        )
        .json()
    )
    assert [row["tau"] for row in body["results"]] == [None] * 5


def test_a_search_ordered_by_tau_ranks_every_signature_by_its_tau(
    serve_portal_index: PortalIndex,
) -> None:
    index = SearchIndex.open(serve_portal_index.directory)
    cd = serve_portal_index.cd.iloc[:, 11].sort_values()
    up, down = list(cd.index[-15:]), list(cd.index[:15])
    every = index.search(up, down, mode="mimic", k=index.n_signatures, path="exact").table
    refs = index.specificity.astype(np.float64)
    taus = [
        _tau(refs[index.table.position(s)], z)
        for s, z in zip(every.sig_id, every.z_sum, strict=True)
    ]
    expected = every.assign(tau=taus).sort_values(["tau", "z_sum"], ascending=False, kind="stable")
    body = (
        APIClient()
        .post(
            "/api/search",
            {"up": up, "down": down, "mode": "mimic", "order": "tau", "limit": 25},
            format="json",
        )
        .json()
    )
    assert [row["sig_id"] for row in body["results"]] == list(expected["sig_id"][:25])
    assert [row["tau"] for row in body["results"]] == pytest.approx(list(expected["tau"][:25]))
    by_z = index.search(up, down, mode="mimic", k=25, path="exact").table
    shown = {row["sig_id"]: row for row in body["results"]}
    for row in by_z.itertuples():  # z, p and FDR are the search's, whatever the order
        if row.sig_id in shown:
            assert shown[row.sig_id]["fdr"] == pytest.approx(row.fdr)
    cd_order = APIClient().post(
        "/api/search", {"up": up, "down": down, "score": "cd", "order": "tau"}, format="json"
    )
    assert cd_order.status_code == 400
    assert "ordering by tau needs the rank score" in cd_order.content.decode()

"""One source of signature metadata: every page and API shows what the `Signature` table holds.

The index scores and filters on its own copy (metadata.h5), from which the table is loaded. The
tests change a signature's row in the table and look for the change in each answer that shows that
signature; and an index whose metadata is not loaded is refused with the reason.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from search.models import Signature, SignatureSet
from search.runtime.index_access import search_index
from tests.search.conftest import PortalIndex

pytestmark = pytest.mark.django_db
RENAMED = "renamed-in-the-table"


def _rename(sig_id: str) -> None:
    assert Signature.objects.filter(sig_id=sig_id).update(pert_iname=RENAMED, cell_id="CELLX") == 1


def _gene_and_query(portal: PortalIndex, sig_id: str) -> tuple[str, list[str], list[str]]:
    """A gene the signature raises most of all, and its top 10 raised and lowered genes."""
    cd = portal.cd[sig_id].sort_values()
    return str(cd.index[-1]), list(map(str, cd.index[-10:])), list(map(str, cd.index[:10]))


def test_signature_page_and_api_show_the_tables_metadata(serve_portal_index: PortalIndex) -> None:
    sig_id = str(serve_portal_index.meta["sig_id"].iloc[7])
    _rename(sig_id)
    body = APIClient().get(f"/api/signatures/{sig_id}").json()
    assert (body["pert_iname"], body["cell_id"]) == (RENAMED, "CELLX")
    row = Signature.objects.get(sig_id=sig_id)
    assert (body["pert_id"], body["pert_type"], body["batch"]) == (
        row.pert_id,
        row.pert_type,
        row.batch,
    )
    page = APIClient().get(f"/signatures/{sig_id}").content.decode()
    assert RENAMED in page


def test_search_results_neighbours_and_reverse_search_show_the_tables_metadata(
    serve_portal_index: PortalIndex,
) -> None:
    sig_id = str(serve_portal_index.meta["sig_id"].iloc[3])
    gene, up, down = _gene_and_query(serve_portal_index, sig_id)
    _rename(sig_id)
    api = APIClient()
    found = api.post(
        "/api/search", {"up": up, "down": down, "mode": "mimic", "limit": 1000}, format="json"
    ).json()["results"]
    shown = {row["sig_id"]: row for row in found}
    assert (shown[sig_id]["pert_iname"], shown[sig_id]["cell_id"]) == (RENAMED, "CELLX")
    others = [row for row in found if row["sig_id"] != sig_id]
    assert others
    assert RENAMED not in {row["pert_iname"] for row in others}
    neighbour = next(row["sig_id"] for row in others)
    similar = api.get(f"/api/signatures/{neighbour}/similar", {"limit": 1000}).json()["results"]
    assert {row["pert_iname"] for row in similar if row["sig_id"] == sig_id} == {RENAMED}
    tables = api.get(f"/api/genes/{gene}/signatures", {"direction": "up", "limit": 1000}).json()
    listed = [row for kind in tables["tables"].values() for row in kind["up"]]
    assert {row["pert_iname"] for row in listed if row["sig_id"] == sig_id} == {RENAMED}


def test_an_index_whose_metadata_is_not_loaded_is_refused_with_the_reason(
    serve_portal_index: PortalIndex,
) -> None:
    SignatureSet.objects.all().delete()
    sig_id = str(serve_portal_index.meta["sig_id"].iloc[0])
    response = APIClient().get(f"/api/signatures/{sig_id}")
    assert response.status_code == 503
    version = search_index().version
    assert (
        f"signature metadata of index {version} is not in the database" in response.json()["detail"]
    )
    assert "load_signatures" in response.json()["detail"]


def test_a_signature_missing_from_the_table_is_refused_not_shown_without_metadata(
    serve_portal_index: PortalIndex,
) -> None:
    sig_id = str(serve_portal_index.meta["sig_id"].iloc[5])
    Signature.objects.filter(sig_id=sig_id).delete()
    response = APIClient().get(f"/api/signatures/{sig_id}")
    assert response.status_code == 503
    assert sig_id in response.json()["detail"]

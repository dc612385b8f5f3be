"""Search requests: validation with field-level messages, GMT queries, stored searches exported."""

from __future__ import annotations

import gzip
import uuid

import pytest
from django.test import Client
from rest_framework.exceptions import ValidationError
from rest_framework.test import APIClient

from search.apis.searches import _gmt_sides
from search.engine.query_resolution import QueryError
from search.models import StoredSearch
from search.services.batches import batch_queries
from tests.conftest import REPO
from transform.io.gmt import read_gmt

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "up", "give up genes, down genes or both"),
        ({"up": ["TP53"], "mode": "sideways"}, "mode", "not a valid choice"),
        ({"up": ["TP53"], "limit": 0}, "limit", "greater than or equal to 1"),
        ({"up": ["TP53"], "filters": {"colour": ["red"]}}, "filters", "unknown filter field"),
        ({"up": ["G"] * 2001}, "up", "no more than 2000"),
        ({"gmt": "just one field"}, "gmt", "expected name, description and genes"),
        ({"gmt": "a\t\tTP53", "up": ["MDM2"]}, "gmt", "either gmt or up/down"),
    ],
)
def test_bad_requests_get_400_naming_the_field(api, body, field, message) -> None:
    response = api.post("/api/search", body, format="json")
    assert response.status_code == 400
    assert message in str(response.json()[field])


def test_a_body_that_is_not_json_is_400(api) -> None:
    response = api.generic("POST", "/api/search", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_batch_queries_pair_up_and_down_sets_by_name() -> None:
    gmt = "A_up\td\tTP53\tMDM2\nB\td\tEGFR\nA_down\td\tCDKN1A\nC_DN\td\tMYC\n"
    queries = batch_queries(gmt)
    assert queries == [
        {"name": "A", "up": ["TP53", "MDM2"], "down": ["CDKN1A"]},
        {"name": "B", "up": ["EGFR"], "down": []},
        {"name": "C", "up": [], "down": ["MYC"]},
    ]


def test_a_batch_gmt_that_is_empty_or_malformed_is_refused() -> None:
    with pytest.raises(QueryError, match="no gene set"):
        batch_queries("\n\n")
    with pytest.raises(QueryError, match="line 2"):
        batch_queries("A\td\tTP53\nbroken\n")


def _stored() -> StoredSearch:
    rows = [
        {
            "rank": 1,
            "sig_id": "B1:X:10",
            "pert_iname": "drug-x",
            "cell_id": "A375",
            "z_up": 5.5,
            "z_down": -4.1,
            "z_sum": 9.6,
            "score": 9.6,
            "p": 1e-9,
            "fdr": 2e-7,
            "direction": "mimic",
            "pert_type": "trt_cp",
            "url": "/signatures/B1:X:10",
        },
        {
            "rank": 2,
            "sig_id": "B1:Y:10",
            "pert_iname": "drug-y",
            "cell_id": "MCF7",
            "z_up": -3.0,
            "z_down": 2.0,
            "z_sum": -5.0,
            "score": -5.0,
            "p": 1e-4,
            "fdr": None,
            "direction": "reverse",
            "pert_type": "trt_cp",
            "url": "/signatures/B1:Y:10",
        },
    ]
    side = {
        "submitted": 6,
        "matched": ["TP53", "MDM2", "CDKN1A", "BAX", "FAS"],
        "unknown": ["NOT_A_GENE"],
        "ambiguous": [],
        "repeated": [],
        "in_both": [],
        "not_in_index": [],
    }
    return StoredSearch.objects.create(
        id=uuid.uuid4(),
        index_version="v-test",
        n_searched=740,
        results=rows,
        query={"up": [], "down": [], "mode": "both", "score": "rank", "limit": 100, "filters": {}},
        report={"up": side, "down": {**side, "unknown": []}, "recall_at_100": 1.0, "path": "exact"},
    )


def test_a_stored_search_comes_back_and_exports_as_tsv_and_csv(api) -> None:
    search = _stored()
    body = api.get(f"/api/search/{search.id}").json()
    assert body["permalink"] == f"/search/{search.id}"
    assert [row["sig_id"] for row in body["results"]] == ["B1:X:10", "B1:Y:10"]
    assert body["report"]["up"]["unknown"] == ["NOT_A_GENE"]
    tsv = api.get(f"/api/search/{search.id}/export", {"format": "tsv"})
    assert tsv["Content-Type"].startswith("text/tab-separated-values")
    text = tsv.content.decode().splitlines()
    assert text[0].startswith(f"# search {search.id} on index v-test: 740 signatures")
    assert "# up (5 genes used): TP53, MDM2, CDKN1A, BAX, FAS" in text
    lines = [line for line in text if not line.startswith("#")]
    header = lines[0].split("\t")
    assert header[-3:] == ["batch", "n_cases", "n_controls"]
    first = dict(zip(header, lines[1].split("\t"), strict=True))
    assert (first["rank"], first["sig_id"], first["z_sum"], first["direction"]) == (
        "1",
        "B1:X:10",
        "9.6",
        "mimic",
    )
    assert lines[2].split("\t")[header.index("fdr")] == ""
    csv = api.get(f"/api/search/{search.id}/export", {"format": "csv"}).content.decode()
    assert csv.splitlines()[0].startswith("rank,sig_id,")  # a plain table: no comment lines
    assert api.get(f"/api/search/{search.id}/export", {"format": "xls"}).status_code == 400


def test_unknown_search_ids_are_404(api) -> None:
    assert api.get(f"/api/search/{uuid.uuid4()}").status_code == 404
    assert Client().get(f"/search/{uuid.uuid4()}").status_code == 404


def test_the_results_page_shows_the_query_report_and_embeds_the_rows() -> None:
    search = _stored()
    html = Client().get(f"/search/{search.id}").content.decode()
    assert "5 of 6 genes searched" in html
    assert "unknown: NOT_A_GENE" in html
    assert '"sig_id": "B1:Y:10"' in html
    assert "plotly-cartesian.min.js" in html


@pytest.mark.parametrize(
    "gmt",
    [
        "X_up\td\tTP53\tMDM2\nX_dn\td\tCDKN1A\n",
        "X_dn\td\tCDKN1A\nX_up\td\tTP53\tMDM2\n",
        "x_DOWN\td\tCDKN1A\nx_Up\td\tTP53\tMDM2\n",
    ],
)
def test_a_search_gmt_pairs_its_sides_by_name_in_any_order(gmt: str) -> None:
    up, down = _gmt_sides(gmt)
    assert (up, down) == (["TP53", "MDM2"], ["CDKN1A"])
    batch = batch_queries(gmt)
    assert len(batch) == 1
    assert (batch[0]["up"], batch[0]["down"]) == (up, down)  # one rule for both


def test_a_search_gmt_of_several_queries_is_refused_naming_them() -> None:
    with pytest.raises(ValidationError, match=r"makes 2 \(A, B\)"):
        _gmt_sides("A\td\tTP53\nB\td\tMDM2\n")


def test_a_query_with_two_sets_of_one_side_is_refused() -> None:
    with pytest.raises(QueryError, match="two down sets"):
        batch_queries("A_dn\td\tTP53\nA_down\td\tMDM2\n")


def test_a_gmt_starting_with_a_byte_order_mark_names_its_first_query_plainly() -> None:
    queries = batch_queries("\ufeffDUP_up\td\tTP53\nDUP_dn\td\tMDM2\n")
    assert [query["name"] for query in queries] == ["DUP"]
    assert (queries[0]["up"], queries[0]["down"]) == (["TP53"], ["MDM2"])


def test_enrichrs_weighted_entries_are_read_as_their_genes() -> None:
    """Enrichr's geneSetLibrary text gives some libraries' genes a weight (TP53,1.0); an entry
    whose part after the comma is no number is kept whole, to be reported unknown."""
    gmt = "X_up\t\tTP53,1.0\tMDM2,0.5\tCDKN1A\tBAX,heavy\t\nX_dn\t\tMYC,1\t\n"
    assert _gmt_sides(gmt) == (["TP53", "MDM2", "CDKN1A", "BAX,heavy"], ["MYC"])


def test_a_gzipped_library_reads_as_its_plain_text(tmp_path) -> None:
    """read_gmt knows a gzip file by its signature: Enrichr's GO library, shipped gzipped in the
    tests, reads as the same sets as its text."""
    packed = REPO / "tests" / "data" / "genesets" / "enrichr_GO_Biological_Process_2023.gmt.gz"
    plain = tmp_path / "go.gmt"
    plain.write_bytes(gzip.decompress(packed.read_bytes()))
    sets = read_gmt(packed)
    assert len(sets) == 5407
    assert sets == read_gmt(plain)

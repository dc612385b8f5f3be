"""The gene APIs: autocomplete, detail, bulk resolution, and their refusals."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.conftest import REFERENCE_DIR

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def _symbols(response) -> list[str]:
    return [gene["symbol"] for gene in response.json()["results"]]


def test_autocomplete_ranks_the_exact_symbol_first(api: APIClient) -> None:
    response = api.get("/api/genes", {"q": "tp53"})
    assert response.status_code == 200
    symbols = _symbols(response)
    assert symbols[0] == "TP53"
    assert all(symbol.upper().startswith("TP53") for symbol in symbols)
    assert {"TP53BP1", "TP53I3"} <= set(symbols)


def test_autocomplete_puts_landmarks_before_other_prefix_matches(api: APIClient) -> None:
    results = api.get("/api/genes", {"q": "TP5", "limit": 50}).json()["results"]
    flags = [gene["is_landmark"] for gene in results]
    assert flags[0] is True
    assert flags == sorted(flags, reverse=True)


def test_autocomplete_finds_an_entrez_id_and_honours_the_limit(api: APIClient) -> None:
    assert _symbols(api.get("/api/genes", {"q": "7157"}))[0] == "TP53"
    assert len(_symbols(api.get("/api/genes", {"q": "A", "limit": 7}))) == 7


def test_autocomplete_of_digits_that_name_no_entrez_id_answers_empty(api: APIClient) -> None:
    """ "¹" is a digit to str.isdigit but not to int; 30 digits overflow the id column (the
    fuzzing found both as 500s)."""
    for query in ("\u00b9", "\u0663", "9" * 30):
        response = api.get("/api/genes", {"q": query})
        assert response.status_code == 200, query
        assert _symbols(response) == []


def test_autocomplete_refuses_a_missing_query_or_a_bad_limit(api: APIClient) -> None:
    assert api.get("/api/genes").json() == {"q": ["This field is required."]}
    response = api.get("/api/genes", {"q": "TP", "limit": 5000})
    assert response.status_code == 400
    assert "limit" in response.json()


@pytest.mark.parametrize(
    ("identifier", "matched_by"),
    [
        ("TP53", "symbol"),
        ("7157", "entrez_id"),
        ("ENSG00000141510", "ensembl_id"),
        ("p53", "alias"),
    ],
)
def test_gene_detail_accepts_any_identifier(
    api: APIClient, identifier: str, matched_by: str
) -> None:
    response = api.get(f"/api/genes/{identifier}")
    assert response.status_code == 200
    body = response.json()
    assert (body["entrez_id"], body["symbol"], body["matched_by"]) == (7157, "TP53", matched_by)
    assert body["l1000_type"] == "landmark"


def test_gene_detail_answers_an_ambiguous_alias_with_its_candidates(api: APIClient) -> None:
    response = api.get("/api/genes/MDR1")
    assert response.status_code == 300
    body = response.json()
    assert {gene["symbol"] for gene in body["candidates"]} == {"ABCB1", "TBC1D9"}
    assert body["identifier"] == "MDR1"


def test_gene_detail_answers_404_for_an_unknown_identifier(api: APIClient) -> None:
    response = api.get("/api/genes/NOT_A_GENE")
    assert response.status_code == 404
    assert "NOT_A_GENE" in response.json()["detail"]


def test_resolve_answers_for_all_978_landmarks_by_2017_symbol_and_entrez_id(api: APIClient) -> None:
    with (REFERENCE_DIR / "l1000_landmark_genes_978.tsv").open(newline="") as handle:
        landmarks = list(csv.DictReader(handle, delimiter="\t"))
    for column in ("pr_gene_symbol", "pr_gene_id"):
        queries = [row[column] for row in landmarks]
        response = api.post("/api/genes/resolve", {"identifiers": queries}, format="json")
        assert response.status_code == 200
        body = response.json()
        assert body["summary"] == {"resolved": 978, "ambiguous": 0, "unknown": 0}
        assert [r["query"] for r in body["results"]] == queries
        assert [r["gene"]["entrez_id"] for r in body["results"]] == [
            int(row["pr_gene_id"]) for row in landmarks
        ]
        assert all(r["gene"]["is_landmark"] for r in body["results"])


def test_resolve_reports_each_item_resolved_ambiguous_or_unknown(api: APIClient) -> None:
    queries = ["TP53", "MDR1", "NOT_A_GENE", "tp53"]
    body = api.post("/api/genes/resolve", {"identifiers": queries}, format="json").json()
    assert body["summary"] == {"resolved": 2, "ambiguous": 1, "unknown": 1}
    resolved, ambiguous, unknown, again = body["results"]
    assert resolved["gene"]["symbol"] == again["gene"]["symbol"] == "TP53"
    assert ambiguous["gene"] is None
    assert ambiguous["matched_by"] == "alias"
    assert [c["symbol"] for c in ambiguous["candidates"]] == ["ABCB1", "TBC1D9"]
    assert unknown == {
        "query": "NOT_A_GENE",
        "status": "unknown",
        "matched_by": None,
        "gene": None,
        "candidates": [],
    }


@pytest.mark.parametrize(
    ("body", "field_error"),
    [
        ({"identifiers": ["TP53"] * 5001}, "no more than 5000"),
        ({"identifiers": ["TP53", 7157]}, "Not a string: got int."),
        ({"identifiers": ["TP53", None]}, "may not be null"),
        ({"identifiers": []}, "may not be empty"),
        ({"identifiers": "TP53"}, "Expected a list"),
        ({"genes": ["TP53"], "identifiers": ["TP53"]}, None),  # a key it does not take
        ({"identifiers": ["x" * 101]}, "no more than 100 characters"),
    ],
)
def test_resolve_refuses_malformed_input_with_a_field_message(
    api: APIClient, body: dict, field_error: str
) -> None:
    response = api.post("/api/genes/resolve", body, format="json")
    assert response.status_code == 400
    if field_error is None:
        assert response.json()["genes"] == ["not a field of this request; it takes identifiers"]
    else:
        assert field_error in str(response.json()["identifiers"])


def test_resolve_refuses_a_body_that_is_not_json(api: APIClient) -> None:
    response = api.post("/api/genes/resolve", "TP53,MDR1", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_a_classic_cmap_query_of_probe_sets_resolves_gene_by_gene(api: APIClient) -> None:
    """CMap's 2006 HDAC inhibitor query (cmapR's query_up.gmt): 14 HG-U133A probe sets of 8
    genes, CDKN1A (p21) among them; a second probe of a gene resolves to the same gene."""
    path = Path(__file__).resolve().parents[1] / "data" / "genesets" / "cmapR_query_up.gmt"
    (fields,) = [line.split("\t") for line in path.read_text().splitlines() if "GLASER" in line]
    probes = [probe for probe in fields[2:] if probe]
    body = api.post("/api/genes/resolve", {"identifiers": probes}, format="json").json()
    assert body["summary"] == {"resolved": 14, "ambiguous": 0, "unknown": 0}
    assert {item["matched_by"] for item in body["results"]} == {"probe_id"}
    symbols = [item["gene"]["symbol"] for item in body["results"]]
    assert len(set(symbols)) == 8
    assert "CDKN1A" in symbols
    tp53 = api.get("/api/genes/TP53").json()
    assert {"201746_at", "211300_s_at"} <= set(tp53["probe_ids"])

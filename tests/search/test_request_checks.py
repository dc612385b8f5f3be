"""What a request says is what runs, or it is refused naming what is wrong: keys an operation does
not take, JSON nested past the decoder, filter values no signature has, ranges of numbers, and
choices for identifiers that are not ambiguous. Then what the pages and exports carry of it."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from search.runtime.index_access import search_index
from tests.search.conftest import PortalIndex

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def _query(portal: PortalIndex, **more: object) -> dict:
    return {"up": portal.genes[:8], "down": portal.genes[10:18], "limit": 500, **more}


@pytest.mark.parametrize("path", ["/api/search", "/api/genes/resolve", "/api/export"])
def test_json_nested_past_the_decoder_is_a_400_not_a_500(api: APIClient, path: str) -> None:
    body = '{"up":' + "[" * 5000 + "]" * 5000 + "}"
    response = api.generic("POST", path, body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deep" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        ("/api/search", {"up": ["TP53"] * 5, "dn": ["MYC"] * 5}, "dn"),
        ("/api/search", {"up": ["TP53"] * 5, "filter": {"cell_id": ["A375"]}}, "filter"),
        ("/api/search", {"up": ["TP53"] * 5, "offset": 10}, "offset"),
        ("/api/search/batch", {"gmt": "A\t\tTP53", "limits": 5}, "limits"),
        ("/api/genes/resolve", {"identifiers": ["TP53"], "species": "human"}, "species"),
    ],
)
def test_a_key_the_operation_does_not_take_is_refused_by_name(
    api: APIClient, path: str, body: dict, key: str
) -> None:
    response = api.post(path, body, format="json")
    assert response.status_code == 400
    assert response.json()[key] == [
        response.json()[key][0]  # one message, naming the fields the operation takes
    ]
    assert response.json()[key][0].startswith("not a field of this request; it takes ")


def test_a_filter_value_no_signature_has_is_refused_naming_it_and_some_that_exist(
    api: APIClient, serve_portal_index: PortalIndex
) -> None:
    response = api.post(
        "/api/search", _query(serve_portal_index, filters={"cell_id": ["HELA"]}), format="json"
    )
    assert response.status_code == 400
    cells = ", ".join(sorted(set(serve_portal_index.meta["cell_id"])))
    assert response.json()["detail"] == f"no signature has cell_id HELA; the index has {cells}"
    for wanted in (["inf"], ["nan"], {"min": 1000}):
        refused = api.post(
            "/api/search", _query(serve_portal_index, filters={"pert_dose": wanted}), format="json"
        )
        assert refused.status_code == 400, wanted
        assert "pert_dose" in refused.json()["detail"]


def test_filters_that_keep_nothing_together_are_refused(
    api: APIClient, serve_portal_index: PortalIndex
) -> None:
    meta = serve_portal_index.meta
    cell = meta["cell_id"].iloc[0]
    absent = sorted(set(meta["pert_iname"]) - set(meta.loc[meta["cell_id"] == cell, "pert_iname"]))
    filters = {"cell_id": [cell], "pert_iname": [absent[0]]}
    response = api.post("/api/search", _query(serve_portal_index, filters=filters), format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("no signature passes these filters together")


def test_a_value_among_others_that_matches_nothing_is_reported_and_the_rest_searched(
    api: APIClient, serve_portal_index: PortalIndex
) -> None:
    filters = {"cell_id": ["mcf7", "HELA"]}
    response = api.post("/api/search", _query(serve_portal_index, filters=filters), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["report"]["filters"]["cell_id"] == {
        "read_as": {"mcf7": "MCF7"},
        "unmatched": ["HELA"],
    }
    assert body["n_searched"] == int((serve_portal_index.meta["cell_id"] == "MCF7").sum())
    page = Client().get(body["permalink"]).content.decode()
    assert "cell_id = mcf7 or HELA" in page
    assert "no signature has HELA" in page


def test_a_dose_range_searches_the_signatures_inside_it(
    api: APIClient, serve_portal_index: PortalIndex
) -> None:
    meta = serve_portal_index.meta
    ranged = api.post(
        "/api/search",
        _query(serve_portal_index, filters={"pert_dose": {"min": 0.5, "max": 20}}),
        format="json",
    )
    assert ranged.status_code == 201, ranged.content
    listed = api.post(
        "/api/search",
        _query(serve_portal_index, filters={"pert_dose": ["1", "10"]}),
        format="json",
    ).json()
    body = ranged.json()
    inside = meta["pert_dose"].between(0.5, 20)
    assert body["n_searched"] == listed["n_searched"] == int(inside.sum())
    assert [row["sig_id"] for row in body["results"]] == [
        row["sig_id"] for row in listed["results"]
    ]
    assert {row["sig_id"] for row in body["results"]} <= set(meta.loc[inside, "sig_id"])
    assert "pert_dose from 0.5 to 20" in Client().get(body["permalink"]).content.decode()
    for bad in ({"min": "a"}, {"low": 1}, {}, "1"):
        refused = api.post(
            "/api/search", _query(serve_portal_index, filters={"pert_dose": bad}), format="json"
        )
        assert refused.status_code == 400, bad


def test_the_tsv_export_says_the_query_and_filters_and_the_csv_is_a_plain_table(
    api: APIClient, serve_portal_index: PortalIndex
) -> None:
    query = _query(serve_portal_index, filters={"cell_id": ["MCF7"]}, limit=5)
    body = api.post("/api/search", query, format="json").json()
    tsv = api.get(f"/api/search/{body['id']}/export").content.decode().splitlines()
    assert f"# up (8 genes used): {', '.join(query['up'])}" in tsv
    assert "# filter: cell_id = MCF7" in tsv
    assert "# mode both, order z, top 5" in tsv
    rows = [line.split("\t") for line in tsv if not line.startswith("#")]
    header, first = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert len(rows) == 6
    assert first["batch"] == body["results"][0]["batch"]
    assert first["n_cases"] == str(body["results"][0]["n_cases"])
    csv = api.get(f"/api/search/{body['id']}/export", {"format": "csv"}).content.decode()
    assert csv.splitlines()[0].split(",") == header


def test_the_gene_api_reads_a_perturbation_type_in_any_case_and_reports_an_unknown_one(
    api: APIClient, serve_portal_index: PortalIndex
) -> None:
    gene = serve_portal_index.genes[2]
    lower = api.get(f"/api/genes/{gene}/signatures", {"pert_type": "trt_cp"}).json()
    upper = api.get(f"/api/genes/{gene}/signatures", {"pert_type": "TRT_CP"}).json()
    assert list(upper["tables"]) == ["trt_cp"]
    for part in ("tables", "counts", "volcano", "by_cell_line"):
        assert upper[part] == lower[part], part
    assert upper["volcano"]
    assert upper["by_cell_line"]
    assert upper["filter_report"] == {
        "pert_type": {"read_as": {"TRT_CP": "trt_cp"}, "unmatched": []}
    }
    for params in ({"pert_type": "bogus"}, {"cell_id": "HELA"}):
        refused = api.get(f"/api/genes/{gene}/signatures", params)
        assert refused.status_code == 400
        key, value = next(iter(params.items()))
        assert refused.json()["detail"].startswith(f"no signature has {key} {value}; the index")
    page = Client().get(f"/genes/{gene}", {"cell_id": "HELA"})
    assert page.status_code == 200  # the page without the filter, saying why
    assert "no signature has cell_id HELA" in page.content.decode()


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/genes/{gene}/signatures?cell=A375", "cell"),
        ("/api/signatures/{sig}/similar?k=5", "k"),
        ("/api/signatures/{sig}/genes?limit=5", "limit"),
        ("/api/perturbagens/{pert}?limit=5", "limit"),
        ("/api/genes?q=TP5&max=3", "max"),
    ],
)
def test_a_query_parameter_the_operation_does_not_take_is_refused_by_name(
    api: APIClient, serve_portal_index: PortalIndex, path: str, key: str
) -> None:
    meta = serve_portal_index.meta
    url = path.format(
        gene=serve_portal_index.genes[0], sig=meta["sig_id"].iloc[0], pert=meta["pert_id"].iloc[0]
    )
    response = api.get(url)
    assert response.status_code == 400
    assert response.json()[key][0].startswith("not a field of this request; it takes ")


def test_the_gene_page_keeps_its_filters_in_its_links_and_offers_every_type(
    serve_portal_index: PortalIndex,
) -> None:
    gene = serve_portal_index.genes[2]
    page = Client().get(f"/genes/{gene}", {"pert_type": "trt_cp", "cell_id": "MCF7"})
    html = page.content.decode()
    assert f"/api/genes/{gene}/signatures?limit=1000&amp;pert_type=trt_cp&amp;cell_id=MCF7" in html
    for kind in sorted(set(serve_portal_index.meta["pert_type"])):
        assert f"<option{' selected' if kind == 'trt_cp' else ''}>{kind}</option>" in html
    hub = search_index().hub
    assert hub is not None
    assert " 0 % of signatures" not in html  # fractions below 1 % are not rounded to 0


def test_a_registry_gene_outside_the_index_gets_a_page_saying_so(
    serve_portal_index: PortalIndex,
) -> None:
    outside = next(g for g in ("TP53", "MKI67", "GAPDH") if g not in serve_portal_index.genes)
    response = Client().get(f"/genes/{outside}")  # in the registry, not in the test index
    assert response.status_code == 404
    html = response.content.decode()
    assert f"{outside} is not in the search index&#x27;s gene space" in html
    assert "in the gene registry but not among the genes" in html
    unknown = Client().get("/genes/NOT_A_GENE_AT_ALL")
    assert unknown.status_code == 404
    assert "NOT_A_GENE_AT_ALL" in unknown.content.decode()


def test_the_home_page_gives_the_index_gene_count(serve_portal_index: PortalIndex) -> None:
    html = Client().get("/").content.decode()
    assert f"{len(serve_portal_index.genes)} genes; perturbation signatures" in html

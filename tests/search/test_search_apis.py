"""The search, batch and signature APIs end to end on a small real index, on both databases.

Scores are checked against the plain float64 reference of tests/engine/reference.py.
"""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.test import Client
from rest_framework.test import APIClient

from search.models import BatchSearch, BatchStatus, StoredSearch
from search.runtime.index_access import search_index
from search.selectors.batches import UNRESOLVED, batch_folder
from search.services.batches import MAX_QUERIES, batch_search_run
from search.services.searches import SearchOptions
from tests.engine.reference import reference_scores, reference_top
from tests.engine.test_search import P_RTOL
from tests.search.conftest import PortalIndex

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> APIClient:
    return APIClient()


GO_LIBRARY = (  # Enrichr's GO Biological Process 2023, as blitzgsea ships it (tests/data/genesets)
    Path(__file__).resolve().parents[1]
    / "data"
    / "genesets"
    / "enrichr_GO_Biological_Process_2023.gmt.gz"
)


@pytest.fixture
def run_batch(
    api: APIClient,
    serve_portal_index: PortalIndex,
    settings,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    """Post a batch GMT (queued on commit, run in process by Celery here) and give its status."""
    settings.BATCHES_DIR = tmp_path

    def run(gmt: str, limit: int = 3) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post("/api/search/batch", {"gmt": gmt, "limit": limit}, format="json")
        assert response.status_code == 202, response.content
        return api.get(response.json()["status_url"]).json()

    return run


def _tsv_rows(api: APIClient, status: dict) -> list[dict[str, str]]:
    """The rows of a finished batch's TSV, by its header."""
    lines = _text(api.get(status["results_url"]))
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def _text(response) -> list[str]:
    return b"".join(response.streaming_content).decode().splitlines()


def _rows(index: PortalIndex, symbols: list[str]) -> list[int]:
    return [index.genes.index(symbol) for symbol in symbols]


def test_a_search_answers_the_reference_scores_and_reports_unknown_genes(
    api: APIClient, serve_portal_index: PortalIndex
) -> None:
    index = serve_portal_index
    up, down = index.genes[:20], index.genes[40:60]
    response = api.post(
        "/api/search", {"up": [*up, "NOT_A_GENE"], "down": down, "limit": 25}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["report"]["up"]["unknown"] == ["NOT_A_GENE"]
    assert sorted(body["report"]["up"]["matched"]) == sorted(up)
    assert body["n_searched"] == len(index.meta)
    reference = reference_scores(
        index.cd.to_numpy(np.float64), _rows(index, up), _rows(index, down)
    )
    reference.index = index.meta["sig_id"]
    top = reference.iloc[reference_top(reference.reset_index(drop=True), "both", 25)]
    assert [row["sig_id"] for row in body["results"]] == list(top.index)
    for row in body["results"]:
        expected = reference.loc[row["sig_id"]]
        for key in ("z_up", "z_down", "z_sum"):
            assert row[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-12), key
        for key in ("p_up", "p_down", "p", "fdr_up", "fdr_down", "fdr"):  # erfc: rel. < 1.2e-7
            assert row[key] == pytest.approx(expected[key], rel=P_RTOL), key
    again = api.get(f"/api/search/{body['id']}").json()
    assert again["results"] == body["results"]
    text = api.get(f"/api/search/{body['id']}/export").content.decode().splitlines()
    lines = [line for line in text if not line.startswith("#")]
    header = lines[0].split("\t")
    exported = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    for row, line in zip(body["results"], exported, strict=True):  # each side's p and FDR too
        for key in ("p_up", "p_down", "fdr_up", "fdr_down"):
            assert float(line[key]) == row[key], key


def test_filters_apply_before_ranking_and_modes_keep_one_direction(
    api: APIClient, serve_portal_index: PortalIndex
) -> None:
    index = serve_portal_index
    query = {"up": index.genes[:15], "down": index.genes[15:30], "limit": 10}
    shrna = api.post(
        "/api/search", {**query, "filters": {"pert_type": ["trt_sh"]}}, format="json"
    ).json()
    assert shrna["n_searched"] == int((index.meta["pert_type"] == "trt_sh").sum())
    assert {row["pert_type"] for row in shrna["results"]} == {"trt_sh"}
    mimic = api.post("/api/search", {**query, "mode": "mimic"}, format="json").json()
    reverse = api.post("/api/search", {**query, "mode": "reverse"}, format="json").json()
    assert all(row["z_sum"] > 0 for row in mimic["results"])
    assert all(row["z_sum"] < 0 for row in reverse["results"])
    z = [row["z_sum"] for row in mimic["results"]]
    assert z == sorted(z, reverse=True)


def test_a_batch_runs_to_the_end_and_its_tsv_has_a_row_per_result_and_refusal(
    api: APIClient,
    serve_portal_index: PortalIndex,
    settings,
    tmp_path,
    django_capture_on_commit_callbacks,
) -> None:
    settings.BATCHES_DIR = tmp_path
    genes = serve_portal_index.genes
    gmt = "\n".join(
        [
            "A_up\tx\t" + "\t".join(genes[:10]),
            "A_down\tx\t" + "\t".join(genes[10:20]),
            "B\tx\t" + "\t".join([*genes[30:40], "NOTAGENE1"]),
            "SMALL\tx\t" + genes[50],
        ]
    )
    with django_capture_on_commit_callbacks(execute=True):  # the task is queued on commit
        response = api.post("/api/search/batch", {"gmt": gmt, "limit": 7}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert [(q["name"], q["n_up"], q["n_down"]) for q in body["queries"]] == [
        ("A", 10, 10),
        ("B", 11, 0),
        ("SMALL", 1, 0),
    ]
    status = api.get(body["status_url"]).json()  # Celery runs in process here: done already
    assert (status["status"], status["n_done"]) == ("done", 3)
    outcomes = {q["name"]: q for q in status["queries"]}
    assert all(q["done"] for q in outcomes.values())
    assert (outcomes["A"]["n_results"], outcomes["A"]["error"], outcomes["A"]["unknown"]) == (
        7,
        "",
        [],
    )
    assert (outcomes["B"]["n_results"], outcomes["B"]["unknown"]) == (7, ["NOTAGENE1"])
    assert outcomes["SMALL"]["n_results"] == 0
    assert "at least 5" in outcomes["SMALL"]["error"]
    page = api.get(status["page"]).content.decode()
    assert "NOTAGENE1" in page
    assert "at least 5" in page
    lines = _text(api.get(status["results_url"]))
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    assert [row["query"] for row in rows] == ["A"] * 7 + ["B"] * 7 + ["SMALL"]
    assert "at least 5" in rows[-1]["error"]
    single = api.post(
        "/api/search", {"up": genes[:10], "down": genes[10:20], "limit": 7}, format="json"
    ).json()
    assert [row["sig_id"] for row in rows[:7]] == [row["sig_id"] for row in single["results"]]


def test_a_batch_not_done_answers_409_and_a_restarted_run_keeps_finished_queries(
    api: APIClient, serve_portal_index: PortalIndex, settings, tmp_path
) -> None:
    settings.BATCHES_DIR = tmp_path
    genes = serve_portal_index.genes
    queries = [
        {"name": name, "up": genes[i : i + 10], "down": []}
        for name, i in (("Q1", 0), ("Q2", 20), ("Q3", 40))
    ]
    batch = BatchSearch.objects.create(
        id=uuid.uuid4(), options=SearchOptions(limit=3).as_dict(), queries=queries, n_queries=3
    )
    assert api.get(f"/api/search/batch/{batch.id}/results").status_code == 409
    folder = batch_folder(batch)  # as a run that died after its first query left it
    folder.mkdir(parents=True)
    (folder / "00000.tsv").write_text("Q1\tkept from the first run\n")
    BatchSearch.objects.filter(id=batch.id).update(status=BatchStatus.RUNNING, n_done=1)
    done = batch_search_run(batch_id=str(batch.id))
    assert (done.status, done.n_done) == (BatchStatus.DONE, 3)
    lines = _text(api.get(f"/api/search/batch/{batch.id}/results"))
    assert lines[1] == "Q1\tkept from the first run"
    assert [line.split("\t")[0] for line in lines[2:]] == ["Q2"] * 3 + ["Q3"] * 3
    assert batch_search_run(batch_id=str(batch.id)).finished_at == done.finished_at


def test_the_signature_apis_give_metadata_top_genes_and_neighbours(
    api: APIClient, serve_portal_index: PortalIndex
) -> None:
    index = serve_portal_index
    sig_id = index.meta["sig_id"].iloc[7]
    detail = api.get(f"/api/signatures/{sig_id}").json()
    assert detail["pert_iname"] == index.meta["pert_iname"].iloc[7]
    genes = api.get(f"/api/signatures/{sig_id}/genes", {"n": 5}).json()
    column = index.cd[sig_id]
    assert [g["gene"] for g in genes["up"]] == list(column.sort_values(ascending=False).index[:5])
    assert [g["gene"] for g in genes["down"]] == list(column.sort_values().index[:5])
    similar = api.get(f"/api/signatures/{sig_id}/similar", {"limit": 5}).json()
    rho = [row["rho"] for row in similar["results"]]
    ranks = index.cd.rank()
    expected = ranks.corrwith(ranks[sig_id]).drop(sig_id).sort_values(ascending=False)
    assert rho == pytest.approx(list(expected.iloc[:5]), abs=1e-9)
    assert api.get("/api/signatures/NOT-A-SIGNATURE").status_code == 404


def test_search_path_gpu_scores_the_portals_searches_on_the_device(
    api: APIClient, serve_portal_index: PortalIndex, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SEARCH_PATH=gpu (a GPU host): the API's answers come from the gpu path, equal to auto's;
    the device is the CPU here, through the same torch code."""
    from search.engine import searching
    from search.engine.backends.torch_gpu import DeviceRanks
    from search.runtime import warm_up as warm_up_module
    from search.runtime.index_access import search_index
    from search.runtime.warm_up import warm_up

    # warm_up closes the worker's connections; here they hold the test's transaction
    monkeypatch.setattr(warm_up_module.connections, "close_all", lambda: None)
    genes = serve_portal_index.genes
    query = {"up": genes[:12], "down": genes[12:24], "limit": 15}
    auto = api.post("/api/search", query, format="json").json()
    settings.SEARCH_PATH = "gpu"
    assert "gpu path fails: the gpu path needs a CUDA GPU" in warm_up()  # no GPU: said, not raised
    index = search_index()
    monkeypatch.setattr(searching, "gpu_backend", lambda _index: "torch")
    monkeypatch.setattr(index, "_device_ranks", DeviceRanks(index.ranks, device="cpu"))
    assert "(path gpu)" in warm_up()
    on_gpu = api.post("/api/search", query, format="json").json()
    stored = StoredSearch.objects.get(id=on_gpu["id"])
    assert (stored.report["path"], auto["n_searched"]) == ("gpu", on_gpu["n_searched"])
    assert on_gpu["results"] == auto["results"]


def test_a_filter_value_that_matches_nothing_is_named_in_the_answer_and_page(
    api: APIClient, serve_portal_index: PortalIndex
) -> None:
    index = serve_portal_index
    cell = str(index.meta["cell_id"].iloc[0])
    query = {
        "up": index.genes[:15],
        "down": index.genes[15:30],
        "limit": 5,
        "filters": {"cell_id": [cell.lower(), "NO_SUCH_CELL"]},
    }
    body = api.post("/api/search", query, format="json").json()
    assert body["n_searched"] == int((index.meta["cell_id"] == cell).sum())
    assert body["report"]["filters"] == {
        "cell_id": {"read_as": {cell.lower(): cell}, "unmatched": ["NO_SUCH_CELL"]}
    }
    page = api.get(body["permalink"]).content.decode()
    assert "no signature has NO_SUCH_CELL" in page
    assert f"{cell.lower()} read as {cell}" in page


def test_more_genes_than_the_index_stores_per_signature_are_refused_with_the_limit(
    api: APIClient, serve_portal_index: PortalIndex
) -> None:
    sig_id = serve_portal_index.meta["sig_id"].iloc[7]
    stored = int(search_index().top_genes.shape[2])
    assert api.get(f"/api/signatures/{sig_id}/genes", {"n": stored}).status_code == 200
    response = api.get(f"/api/signatures/{sig_id}/genes", {"n": stored + 1})
    assert response.status_code == 400
    assert f"n is at most {stored}" in response.json()["detail"]


def test_the_202_answer_of_a_batch_run_in_process_says_what_its_queries_say(
    api: APIClient, serve_portal_index: PortalIndex, settings, tmp_path, monkeypatch
) -> None:
    """Outside a request transaction (runserver's default), on_commit runs the in-process task
    at once: the 202 answer must then say done, as each of its queries does."""
    settings.BATCHES_DIR = tmp_path
    monkeypatch.setattr("search.apis.searches.transaction.on_commit", lambda run: run())
    genes = serve_portal_index.genes
    gmt = "A_up\tx\t" + "\t".join(genes[:10]) + "\nB\tx\t" + "\t".join(genes[30:40])
    body = api.post("/api/search/batch", {"gmt": gmt, "limit": 3}, format="json").json()
    assert all(query["done"] for query in body["queries"])
    assert (body["status"], body["n_done"]) == ("done", 2)
    assert body["results_url"]


def test_the_report_says_what_each_identifier_was_read_as_and_a_choice_settles_an_alias(
    api: APIClient, serve_portal_index: PortalIndex
) -> None:
    genes = serve_portal_index.genes
    query = {"up": [*genes[:10], "IL8", "7157", "MDR1"], "down": genes[15:30], "limit": 5}
    body = api.post("/api/search", query, format="json").json()
    up = body["report"]["up"]
    read_as = {item["query"]: item["symbol"] for item in up["resolved"]}
    assert read_as == {"IL8": "CXCL8", "7157": "TP53"}
    ambiguous = {item["query"]: item["candidates"] for item in up["ambiguous"]}
    candidates = ambiguous["MDR1"]
    assert len(candidates) > 1
    chosen = api.post(
        "/api/search", {**query, "choices": {"MDR1": candidates[-1]}}, format="json"
    ).json()
    up = chosen["report"]["up"]
    assert up["ambiguous"] == []
    assert {item["query"]: item["symbol"] for item in up["resolved"]}["MDR1"] == candidates[-1]
    assert chosen["query"]["choices"] == {"MDR1": candidates[-1]}
    folded = api.post(
        "/api/search", {**query, "choices": {"mdr1": candidates[-1].lower()}}, format="json"
    )
    assert folded.json()["report"]["up"]["ambiguous"] == []  # matched regardless of case
    refused = api.post("/api/search", {**query, "choices": {"MDR1": "TP53"}}, format="json")
    assert refused.status_code == 400
    assert refused.json()["detail"] == (
        f"choices: TP53 is not a candidate of MDR1 ({', '.join(candidates)})"
    )
    idle = api.post("/api/search", {**query, "choices": {"IL8": "CXCL8"}}, format="json")
    assert idle.status_code == 400
    assert idle.json()["detail"] == "choices: IL8 is not an ambiguous identifier of this query"
    page = api.get(body["permalink"]).content.decode()
    assert "IL8 → CXCL8" in page
    assert f'data-query="MDR1" data-candidate="{candidates[-1]}"' in page


def test_a_batch_of_5000_queries_runs_through_the_api_and_answers_as_single_searches(
    api: APIClient, serve_portal_index: PortalIndex, settings, run_batch
) -> None:
    settings.BATCH_WORKERS = 3  # split: a chord of three shares of blocks, then the TSV assembled
    genes = serve_portal_index.genes
    rng = np.random.default_rng(3)
    picks = [rng.choice(len(genes), 12, replace=False) for _ in range(5000)]
    sets = [[genes[g] for g in pick] for pick in picks]
    gmt = "\n".join(
        f"Q{n:04d}_up\tx\t" + "\t".join(s[:6]) + f"\nQ{n:04d}_down\tx\t" + "\t".join(s[6:])
        for n, s in enumerate(sets)
    )
    status = run_batch(gmt)
    assert (status["status"], status["n_done"], status["n_queries"]) == ("done", 5000, 5000)
    rows = _tsv_rows(api, status)
    assert len(rows) == 5000 * 3
    for n in rng.choice(5000, 12, replace=False):  # some, searched alone through the API
        single = api.post(
            "/api/search", {"up": sets[n][:6], "down": sets[n][6:], "limit": 3}, format="json"
        ).json()
        mine = rows[3 * n : 3 * n + 3]
        assert {row["query"] for row in mine} == {f"Q{n:04d}"}
        assert [row["sig_id"] for row in mine] == [row["sig_id"] for row in single["results"]]
        for row, alone in zip(mine, single["results"], strict=True):
            for key in ("z_sum", "p", "fdr", "fdr_up", "fdr_down"):
                assert float(row[key]) == alone[key], key


def test_a_whole_real_library_is_one_batch_and_every_query_is_accounted_for(
    api: APIClient, serve_portal_index: PortalIndex, run_batch
) -> None:
    """GO Biological Process 2023 as Enrichr publishes it (5,407 sets, each an up-only query; one
    of 2,028 genes) runs as one batch against the test index (300 genes): each query is in the
    status and the TSV, with its results or the reason it could not run, and those that ran answer
    as the same search made alone."""
    text = gzip.decompress(GO_LIBRARY.read_bytes()).decode()
    sets = [line.split("\t") for line in text.splitlines()]
    status = run_batch(text)
    assert (status["status"], status["n_done"], status["n_queries"]) == ("done", 5407, 5407)
    outcomes = status["queries"]
    assert [outcome["name"] for outcome in outcomes] == [fields[0] for fields in sets]
    per_query: dict[str, list[dict[str, str]]] = {}
    for row in _tsv_rows(api, status):
        per_query.setdefault(row["query"], []).append(row)
    assert list(per_query) == [fields[0] for fields in sets]  # every query, in the GMT's order
    index_genes = set(serve_portal_index.genes)
    ran = []
    for fields, outcome in zip(sets, outcomes, strict=True):
        genes = [gene for gene in fields[2:] if gene]
        mine = per_query[fields[0]]
        assert (outcome["n_up"], outcome["n_down"]) == (len(genes), 0)
        if outcome["error"]:  # one row with the reason, no result
            assert outcome["n_results"] == 0
            assert [row["error"] for row in mine] == [outcome["error"]]
            assert not mine[0]["sig_id"]
        else:
            assert outcome["n_results"] == len(mine) == 3
            ran.append((genes, mine))
        assert not (set(outcome["unknown"]) | set(outcome["not_in_index"])) & index_genes
        if len(genes) <= 2000:  # resolved: every gene outside the index named as it was given
            named = {identifier for key in UNRESOLVED for identifier in outcome[key]}
            assert {gene for gene in genes if gene not in index_genes} <= named
    too_large = [o for o in outcomes if o["n_up"] > 2000]
    assert len(too_large) == 1
    assert "at most 2000 per side" in too_large[0]["error"]
    few = [o for o in outcomes if o["error"] and "at least" in o["error"]]
    assert len(ran) + len(few) + len(too_large) == len(sets)
    assert len(ran) >= 100  # the sets with 5 or more of the index's genes
    rng = np.random.default_rng(5)
    for at in rng.choice(len(ran), 8, replace=False):
        genes, mine = ran[at]
        single = api.post("/api/search", {"up": genes, "limit": 3}, format="json").json()
        assert [row["sig_id"] for row in mine] == [row["sig_id"] for row in single["results"]]
        for row, alone in zip(mine, single["results"], strict=True):
            assert float(row["z_sum"]) == alone["z_sum"]


def test_a_batch_names_each_gene_it_left_out_as_the_query_gave_it(
    serve_portal_index: PortalIndex, run_batch
) -> None:
    """Repeated, on both sides, outside the index under another symbol (SCAND3, which the
    registry reads as ZBED9): each is in the status, named as the GMT gave it."""
    genes = serve_portal_index.genes
    assert "ZBED9" not in genes
    up = [*genes[:6], genes[0], "SCAND3", "ZBED9", genes[20]]
    down = [*genes[10:16], genes[20]]
    gmt = "Q_up\tx\t" + "\t".join(up) + "\nQ_down\tx\t" + "\t".join(down)
    status = run_batch(gmt)
    (outcome,) = status["queries"]
    assert (outcome["error"], outcome["n_results"]) == ("", 3)
    assert outcome["repeated"] == [genes[0], "ZBED9"]  # ZBED9 is the gene SCAND3 named
    assert outcome["in_both"] == [genes[20], genes[20]]  # left out of each side
    assert outcome["not_in_index"] == ["SCAND3"]
    page = Client().get(status["page"]).content.decode()
    assert "on both sides" in page  # the column says what it holds
    unused = f"{genes[0]}, ZBED9, {genes[20]}, {genes[20]}, SCAND3"
    assert f'<td data-field="unused">{unused}</td>' in page


def test_a_query_refused_as_too_small_names_what_both_its_sides_left_out(
    serve_portal_index: PortalIndex, run_batch
) -> None:
    genes = serve_portal_index.genes
    up = [*genes[:10], "NOTAGENE4", "MDR1"]
    down = [*genes[12:15], "NOTAGENE5"]  # 3 genes: too few
    status = run_batch("Q_up\tx\t" + "\t".join(up) + "\nQ_down\tx\t" + "\t".join(down))
    (outcome,) = status["queries"]
    assert "only 3 of the 4 down genes" in outcome["error"]
    assert outcome["unknown"] == ["NOTAGENE4", "NOTAGENE5"]
    assert outcome["ambiguous"] == ["MDR1"]


def test_a_batch_says_its_filter_values_no_signature_has(
    api: APIClient, serve_portal_index: PortalIndex, run_batch, settings
) -> None:
    genes = serve_portal_index.genes
    gmt = "Q\tx\t" + "\t".join(genes[:8])
    refused = api.post(
        "/api/search/batch", {"gmt": gmt, "filters": {"cell_id": ["HELA"]}}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("no signature has cell_id HELA")
    body = api.post(
        "/api/search/batch", {"gmt": gmt, "filters": {"cell_id": ["A375", "HELA"]}}, format="json"
    ).json()
    assert body["filters"] == [
        {"filter": "cell_id = A375 or HELA", "read_as": {}, "unmatched": ["HELA"]}
    ]
    page = Client().get(body["page"]).content.decode()
    assert "Filter: cell_id = A375 or HELA" in page
    assert "no signature has HELA" in page


def test_a_batch_over_the_bound_is_refused_with_the_bound(api: APIClient) -> None:
    gmt = "\n".join(f"Q{n}\tx\tTP53" for n in range(MAX_QUERIES + 1))
    response = api.post("/api/search/batch", {"gmt": gmt}, format="json")
    assert response.status_code == 400
    assert f"{MAX_QUERIES + 1} queries: at most {MAX_QUERIES} per batch" in str(response.json())


@pytest.mark.parametrize("order", ["z", "tau"])
def test_searches_run_together_equal_single_searches_and_keep_each_error(
    serve_portal_index: PortalIndex, order: str
) -> None:
    from search.engine.errors import PortalError
    from search.services.searches import signature_search, signature_searches

    genes = serve_portal_index.genes
    options = SearchOptions(limit=20, mode="mimic", order=order)
    queries = [(genes[i : i + 8], genes[i + 30 : i + 38]) for i in (0, 9, 17)]
    queries.insert(1, (["NOT_A_GENE", *genes[:2]], []))
    found = signature_searches(queries, options)
    assert isinstance(found[1], PortalError)
    for (up, down), answer in zip(queries, found, strict=True):
        if answer is found[1]:
            continue
        alone = signature_search(up=up, down=down, options=options, store=False)
        assert not isinstance(answer, PortalError)
        assert answer.results == alone.results
        assert answer.report == alone.report
        assert answer.n_searched == alone.n_searched


def test_shards_answer_as_the_index_for_both_scores_and_tau_and_a_silent_shard_is_a_503(
    api: APIClient, serve_portal_index: PortalIndex, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from search.engine.index import SearchIndex
    from search.engine.shards import LocalShard, ShardedIndex, ShardUnavailableError, write_shards

    genes = serve_portal_index.genes
    query = {"up": genes[:10], "down": genes[10:20], "limit": 15}
    cd_query = {**query, "score": "cd"}
    tau_query = {**query, "mode": "mimic", "order": "tau"}
    whole = api.post("/api/search", query, format="json").json()
    whole_cd = api.post("/api/search", cd_query, format="json").json()
    whole_tau = api.post("/api/search", tau_query, format="json").json()
    directories = write_shards(search_index(), tmp_path, 3)
    shards = [LocalShard(SearchIndex.open(directory)) for directory in directories]
    sharded = ShardedIndex(search_index(), shards)
    monkeypatch.setattr("search.services.searches.sharded_index", lambda: sharded)
    split = api.post("/api/search", query, format="json").json()
    assert split["results"] == whole["results"]
    split_cd = api.post("/api/search", cd_query, format="json").json()
    assert split_cd["results"] == whole_cd["results"]
    assert split_cd["results"] != split["results"]  # the cd score's own answer
    split_tau = api.post("/api/search", tau_query, format="json").json()
    assert split_tau["results"] == whole_tau["results"]
    assert [row["tau"] for row in split_tau["results"]] == sorted(
        (row["tau"] for row in split_tau["results"]), reverse=True
    )

    class Silent(LocalShard):
        def summary(self, payload: dict) -> dict:
            raise ShardUnavailableError("shard 2 (queue shard-2) did not answer within 30 s")

    silent = ShardedIndex(search_index(), [*shards[:2], Silent(shards[2].index)])
    monkeypatch.setattr("search.services.searches.sharded_index", lambda: silent)
    response = api.post("/api/search", query, format="json")
    assert response.status_code == 503
    assert "shard 2" in response.json()["detail"]

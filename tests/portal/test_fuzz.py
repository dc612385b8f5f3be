"""Schemathesis fuzzes every API operation from the OpenAPI schema: no input gives a 5xx, and
every answer is one the schema declares (its status, its content type, its body).

The portal serves a small real index (300 real gene symbols, 400 signatures) so that searches,
signature and gene requests reach the engine, not only the validation.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import Client

from portal.wsgi import application
from search.engine.build import build_index
from search.engine.sources import FrameSource
from search.selectors.examples import example_queries
from search.services.signature_sets import signature_set_load_from_index
from tests.engine.conftest import TEST_BUILD, signature_metadata
from tests.engine.reference import structured_signatures

pytestmark = pytest.mark.django_db
schema = schemathesis.openapi.from_wsgi("/api/schema", application)


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dex = example_queries()[0]
    genes = sorted(set(dex.up) | set(dex.down))
    values = structured_signatures(len(genes), 400, seed=3)
    directory = tmp_path_factory.mktemp("fuzz-index")
    build_index(
        FrameSource(pd.DataFrame(values, index=genes), signature_metadata(400)),
        directory,
        TEST_BUILD,
    )
    return directory


@pytest.fixture(autouse=True)
def serve_the_small_index(small_index: Path, settings, db) -> None:
    settings.SEARCH_INDEX_DIR = small_index
    signature_set_load_from_index(directory=small_index)


@pytest.fixture(autouse=True)
def keep_the_test_transaction_open():
    """Hold the test's transaction open, as Django's test client does.

    The WSGI handler closes, after each request, a connection it finds outside autocommit: on
    PostgreSQL that is the test's own transaction.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_is_declared_and_none_is_a_server_error(case: schemathesis.Case) -> None:
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    case.call_and_validate(checks=checks)


def _valid_requests(client: Client, run_on_commit) -> list[tuple[str, str, str, dict | None]]:
    """(method, schema path, URL, JSON body): one request of every operation that succeeds."""
    dex = example_queries()[0]
    sig, gene = "SIG00007", dex.up[0]
    query = {"up": dex.up[:10], "down": dex.down[:10], "limit": 5}
    search = client.post("/api/search", json=query).get_json()["id"]
    with run_on_commit(execute=True):  # the batch task, in process
        gmt = "q_up\t\t" + "\t".join(dex.up[:8]) + "\n"
        batch_id = client.post("/api/search/batch", json={"gmt": gmt}).get_json()["id"]
    return [
        ("GET", "/api/health", "/api/health", None),
        ("GET", "/api/genes", f"/api/genes?q={gene[:2]}", None),
        ("GET", "/api/genes/{identifier}", f"/api/genes/{gene}", None),
        ("POST", "/api/genes/resolve", "/api/genes/resolve", {"identifiers": [gene, "IL8", "x"]}),
        ("GET", "/api/genes/{identifier}/signatures", f"/api/genes/{gene}/signatures", None),
        ("GET", "/api/signatures/{sig_id}", f"/api/signatures/{sig}", None),
        ("GET", "/api/signatures/{sig_id}/genes", f"/api/signatures/{sig}/genes?n=5", None),
        ("GET", "/api/signatures/{sig_id}/similar", f"/api/signatures/{sig}/similar", None),
        ("GET", "/api/downloads", "/api/downloads", None),
        ("POST", "/api/search", "/api/search", {**query, "score": "cd"}),
        ("GET", "/api/search/{search_id}", f"/api/search/{search}", None),
        ("GET", "/api/search/{search_id}/export", f"/api/search/{search}/export", None),
        ("GET", "/api/search/batch/{batch_id}", f"/api/search/batch/{batch_id}", None),
        (
            "GET",
            "/api/search/batch/{batch_id}/results",
            f"/api/search/batch/{batch_id}/results",
            None,
        ),
    ]


def test_the_answers_to_valid_requests_are_the_bodies_the_schema_declares(
    django_capture_on_commit_callbacks,
) -> None:
    """Each operation's success, validated against its declared body (fields, types, nulls):
    the fuzzing above mostly meets the errors, this meets the answers."""
    cache.clear()  # the rate limits' counts, which the fuzzing has used up
    client = Client(application)
    for method, path, url, body in _valid_requests(client, django_capture_on_commit_callbacks):
        response = client.open(url, method=method, json=body)
        assert response.status_code < 300, (url, response.get_data(as_text=True)[:300])
        schema[path][method].validate_response(response)


def test_every_operation_declares_its_body_and_the_errors_it_gives() -> None:
    """No free-form answers: each JSON success declares its properties; each operation the
    errors it can give (503 all; 404 a path with an id; 400, 413, 415 and 429 a write)."""
    for path, methods in schema.raw_schema["paths"].items():
        for method, operation in methods.items():
            codes = set(operation["responses"])
            assert "503" in codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method == "post":
                assert {"400", "413", "415", "429"} <= codes, (method, path)
            for code, answer in operation["responses"].items():
                body = answer.get("content", {}).get("application/json", {}).get("schema")
                if body is not None:
                    assert "$ref" in body, (method, path, code)

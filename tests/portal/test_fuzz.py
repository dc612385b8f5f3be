"""Schemathesis fuzzes every API operation from the OpenAPI schema: no input gives a 5xx.

The portal serves a small real index (300 real gene symbols, 400 signatures) so that searches,
signature and gene requests reach the engine, not only the validation.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from portal.wsgi import application
from search.engine.build import build_index
from search.engine.sources import FrameSource
from search.examples import example_queries
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
    build_index(FrameSource(pd.DataFrame(values, index=genes), signature_metadata(400)),
                directory, TEST_BUILD)  # fmt: skip
    return directory


@pytest.fixture(autouse=True)
def serve_the_small_index(small_index: Path, settings) -> None:
    settings.SEARCH_INDEX_DIR = small_index


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
def test_no_generated_request_gets_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])

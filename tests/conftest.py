"""Shared fixtures: the gene registry loaded once per test database, from the committed tables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from search.engine.gene_reference import read_gene_reference
from search.engine.genes import GeneRecord, GeneResolver

REPO = Path(__file__).resolve().parent.parent
REFERENCE_DIR = REPO / "search" / "reference" / "genes"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def pytest_report_header(config: pytest.Config) -> list[str]:
    database = settings.DATABASES["default"]
    where = database.get("HOST") or database["NAME"]
    return [f"database: {database['ENGINE'].rsplit('.', 1)[-1]} at {where}", f"redis: {REDIS_URL}"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> None:
    with django_db_blocker.unblock():
        call_command("load_genes", verbosity=0)


@pytest.fixture(scope="session")
def reference_genes() -> list[GeneRecord]:
    return read_gene_reference(REFERENCE_DIR)


@pytest.fixture(scope="session")
def reference_resolver(reference_genes: list[GeneRecord]) -> GeneResolver:
    return GeneResolver(reference_genes)


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """Each test starts with the rate limits' counts at zero (they live in the process's cache),
    so that a test's answers do not depend on how many requests the tests before it made."""
    from django.core.cache import cache

    cache.clear()

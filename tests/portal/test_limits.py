"""Limits: oversized bodies get 413, too many searches get 429, before any work is done."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from tests.conftest import REPO

pytestmark = pytest.mark.django_db


def test_a_body_over_the_limit_is_413_with_the_sizes(settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"up": ["TP53"] * 300}
    response = APIClient().post("/api/search", body, format="json")
    assert response.status_code == 413
    assert "at most 1,000 are accepted" in response.json()["detail"]


def test_searches_past_the_rate_limit_get_429(monkeypatch) -> None:
    rates = ScopedRateThrottle.THROTTLE_RATES  # read from the settings when DRF loads
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**rates, "search": "3/min"})
    cache.clear()
    api = APIClient()
    codes = [api.post("/api/search", {}, format="json").status_code for _ in range(5)]
    assert codes == [400, 400, 400, 429, 429]
    assert "Retry-After" in api.post("/api/search", {}, format="json")
    cache.clear()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/genes/NOT_A_GENE_AT_ALL/signatures", None),
        ("post", "/api/genes/resolve", {"identifiers": ["TP53"]}),
    ],
)
def test_the_expensive_reads_are_rate_limited_too(monkeypatch, method, path, body) -> None:
    rates = ScopedRateThrottle.THROTTLE_RATES
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**rates, "lookup": "2/min"})
    cache.clear()
    api = APIClient()
    codes = [getattr(api, method)(path, body, format="json").status_code for _ in range(4)]
    assert codes[2:] == [429, 429]
    assert 429 not in codes[:2]
    cache.clear()


def test_the_rate_limits_are_read_from_the_environment() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "THROTTLE_SEARCH": "7/min",
        "THROTTLE_BATCH": "8/hour",
        "THROTTLE_LOOKUP": "9/min",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "{'search': '7/min', 'batch': '8/hour', 'lookup': '9/min'}"

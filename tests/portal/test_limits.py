"""Limits: oversized bodies get 413, too many searches get 429, before any work is done."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

pytestmark = pytest.mark.django_db


def test_a_body_over_the_limit_is_413_with_the_sizes(settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"up": ["TP53"] * 300}
    response = APIClient().post("/api/search", body, format="json")
    assert response.status_code == 413
    assert "at most 1,000 are accepted" in response.json()["detail"]


def test_searches_past_the_rate_limit_get_429(monkeypatch) -> None:
    rates = ScopedRateThrottle.THROTTLE_RATES  # read from the settings when DRF loads
    assert rates["search"] == "120/min"
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**rates, "search": "3/min"})
    cache.clear()
    api = APIClient()
    codes = [api.post("/api/search", {}, format="json").status_code for _ in range(5)]
    assert codes == [400, 400, 400, 429, 429]
    assert "Retry-After" in api.post("/api/search", {}, format="json")
    cache.clear()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("get", "/api/genes/NOT_A_GENE_AT_ALL/signatures", None),
     ("post", "/api/genes/resolve", {"identifiers": ["TP53"]})],
)  # fmt: skip
def test_the_expensive_reads_are_rate_limited_too(monkeypatch, method, path, body) -> None:
    rates = ScopedRateThrottle.THROTTLE_RATES
    assert rates["lookup"] == "300/min"
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**rates, "lookup": "2/min"})
    cache.clear()
    api = APIClient()
    codes = [getattr(api, method)(path, body, format="json").status_code for _ in range(4)]
    assert codes[2:] == [429, 429]
    assert 429 not in codes[:2]
    cache.clear()

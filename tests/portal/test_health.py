"""GET /api/health reports the database, the broker and the search index, each for real."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from django.test import override_settings
from kombu import Connection
from rest_framework.test import APIClient

from search.models import SignatureSet
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.django_db


def _health() -> tuple[int, dict]:
    response = APIClient().get("/api/health")
    return response.status_code, response.json()


def test_the_embedded_default_is_healthy_with_eager_tasks_and_no_index(tmp_path: Path) -> None:
    with override_settings(SEARCH_INDEX_DIR=tmp_path):
        code, body = _health()
    assert code == 200
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["database"]["gene_registry"]["n_genes"] == 65191
    assert body["broker"]["mode"] == "eager"
    assert body["search_index"]["state"] == "absent"


@pytest.mark.services
def test_it_reaches_the_running_redis_broker_and_times_the_connection(monkeypatch) -> None:
    connect = Connection.ensure_connection

    def slow_connect(self: Connection, *args: object, **kwargs: object) -> object:
        time.sleep(0.05)  # the latency reported must include the connection's own time
        return connect(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "ensure_connection", slow_connect)
    with override_settings(CELERY_BROKER_URL=REDIS_URL):
        code, body = _health()
    assert code == 200
    assert body["broker"]["ok"] is True
    assert body["broker"]["mode"] == "broker"
    assert body["broker"]["latency_ms"] >= 50


def test_an_unreachable_broker_degrades_the_portal_and_hides_the_password() -> None:
    with override_settings(CELERY_BROKER_URL="redis://user:s3cret@127.0.0.1:9/0"):
        code, body = _health()
    assert code == 503
    assert body["status"] == "degraded"
    assert body["broker"]["ok"] is False
    assert body["broker"]["error"]
    assert "s3cret" not in json.dumps(body)


def test_it_reports_a_ready_or_an_invalid_index(tmp_path: Path) -> None:
    manifest = {"format_version": 1, "n_signatures": 42, "gene_space": "demo", "version": "v1"}
    (tmp_path / "index.json").write_text(json.dumps(manifest))
    with override_settings(SEARCH_INDEX_DIR=tmp_path):
        code, body = _health()
    # ready, but every search of it would be a 503: its metadata is not in the database
    assert (code, body["search_index"]["ok"]) == (503, False)
    assert "run manage.py load_signatures" in body["search_index"]["detail"]
    SignatureSet.objects.create(version="v1", source="t", source_checksum="0", n_signatures=42)
    with override_settings(SEARCH_INDEX_DIR=tmp_path):
        code, body = _health()
    assert (code, body["search_index"]["state"], body["search_index"]["n_signatures"]) == (
        200,
        "ready",
        42,
    )
    (tmp_path / "index.json").write_text("{broken")
    with override_settings(SEARCH_INDEX_DIR=tmp_path):
        code, body = _health()
    assert (code, body["search_index"]["state"]) == (503, "invalid")


def test_the_rate_limits_cache_is_reported_and_its_outage_keeps_searches_answering(
    settings,
) -> None:
    """CACHE_URL names a Redis that does not answer: health says so (503), and a rate-limited
    operation still answers, unlimited, instead of a 500."""
    settings.CACHE_URL = "redis://127.0.0.1:1/11"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.CACHE_URL,
        }
    }
    code, body = _health()
    assert (code, body["cache"]["ok"], body["cache"]["mode"]) == (503, False, "shared")
    assert body["cache"]["error"].startswith("rate limits are not applied: ")
    answer = APIClient().post("/api/genes/resolve", {"identifiers": ["TP53"]}, format="json")
    assert answer.status_code == 200  # a rate-limited operation (scope "lookup")
    assert answer.json()["summary"]["resolved"] == 1

"""Health checks of the portal's parts: database, task broker, search index."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from kombu import Connection

from portal.throttling import CACHE_ERRORS
from search.engine.index_state import index_state
from search.runtime.shards import head_setting_problem
from search.selectors.genes import gene_registry_release
from search.selectors.signatures import MetadataNotLoaded, signature_set_of_index

BROKER_TIMEOUT_S = 2.0
HEALTH_KEY = "portal-health"


def database_health() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        release = gene_registry_release()
    except DatabaseError as error:
        return {"ok": False, "vendor": connection.vendor, "error": _first_line(error)}
    return {
        "ok": True,
        "vendor": connection.vendor,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        "gene_registry": (
            {"release": release.pk, "n_genes": release.n_genes, "loaded_at": release.loaded_at}
            if release
            else None
        ),
    }


def broker_health() -> dict[str, Any]:
    url = settings.CELERY_BROKER_URL
    if not url:
        return {"ok": True, "mode": "eager", "detail": "no broker configured: tasks run in process"}
    started = time.perf_counter()
    try:
        with Connection(url, connect_timeout=BROKER_TIMEOUT_S) as broker:
            broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
    except Exception as error:  # kombu raises transport-specific errors
        return {"ok": False, "mode": "broker", "url": _redact(url), "error": _first_line(error)}
    return {
        "ok": True,
        "mode": "broker",
        "url": _redact(url),
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }


def cache_health() -> dict[str, Any]:
    """The cache the rate limits count in: Redis when CACHE_URL is set, else the process's own."""
    if not settings.CACHE_URL:
        return {"ok": True, "mode": "local", "detail": "the process's memory: limits per process"}
    try:
        cache.set(HEALTH_KEY, "1", timeout=10)
        cache.get(HEALTH_KEY)
    except CACHE_ERRORS as error:
        detail = f"rate limits are not applied: {_first_line(error)}"
        return {"ok": False, "mode": "shared", "url": _redact(settings.CACHE_URL), "error": detail}
    return {"ok": True, "mode": "shared", "url": _redact(settings.CACHE_URL)}


def search_index_health() -> dict[str, Any]:
    """The index's state. Absent is not a failure (the portal runs until one is built, its
    search saying why it cannot); an index whose signature metadata the database lacks is, for
    every search of it would answer 503."""
    read = index_state(settings.SEARCH_INDEX_DIR)
    state = read.as_dict()
    state["ok"] = state["state"] != "invalid"
    unservable = head_setting_problem(read.shards) if read.shards else ""
    if unservable:  # a head, with another number of shards than its own
        state["ok"] = False
        state["detail"] = unservable
    if state["ok"] and read.state == "ready" and read.version:
        try:
            signature_set_of_index(version=read.version)
        except MetadataNotLoaded as error:
            state["ok"] = False
            state["detail"] = str(error)
        except DatabaseError:
            pass  # the database's own part says it
    return state


def portal_health() -> dict[str, Any]:
    parts = {
        "database": database_health(),
        "broker": broker_health(),
        "cache": cache_health(),
        "search_index": search_index_health(),
    }
    healthy = all(part["ok"] for part in parts.values())
    return {"status": "ok" if healthy else "degraded", **parts}


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]

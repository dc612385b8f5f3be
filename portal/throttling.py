"""Rate limits that keep the portal answering when their cache is away.

The counts live in the cache (Redis when CACHE_URL is set, shared by the web processes). DRF's
throttle reads and writes it on every limited request, so a cache that cannot be reached made
every search a 500. Here a request is let through instead, and the outage is logged; /api/health
reports the cache as down (search/runtime/health.py) until it is back.
"""

from __future__ import annotations

import logging
from typing import Any

from rest_framework import throttling

logger = logging.getLogger(__name__)


def _cache_errors() -> tuple[type[Exception], ...]:
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover (redis comes with the search extra)
        return (ConnectionError, OSError)
    return (ConnectionError, OSError, RedisError)


CACHE_ERRORS = _cache_errors()


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's scoped throttle, open while its cache cannot be reached."""

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return bool(super().allow_request(request, view))
        except CACHE_ERRORS as error:
            logger.warning("rate limit not applied, the cache is unavailable: %s", error)
            return True

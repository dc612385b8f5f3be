"""Request plumbing: 413 for oversized bodies before any parsing, 503 while the database is away."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)


class BodySizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Content-Length is not a number"}, status=400)
        if limit is not None and length > limit:
            detail = f"the request body has {length:,} bytes; at most {limit:,} are accepted"
            return JsonResponse({"detail": detail}, status=413)
        return self.get_response(request)


class DatabaseOutageMiddleware:
    """A database that cannot be reached answers 503 (JSON on the API), never a 500 traceback.

    Django opens a fresh connection on the next request (CONN_HEALTH_CHECKS), so the server
    recovers by itself once the database is back.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable for %s: %s", request.path, exception)
        detail = "the database is unavailable; try again in a moment"
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse({"detail": detail}, status=503)
        else:
            response = HttpResponse(f"<h1>Service unavailable</h1><p>{detail}</p>", status=503)
        response["Retry-After"] = "5"
        return response

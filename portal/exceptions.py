"""One place where errors become HTTP answers: domain errors on the API, and the 404 and 500 of
URLs no view answers (JSON under /api/, as every other API answer; the project's pages else)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from search.engine.errors import (
    AmbiguousGeneError,
    PortalError,
    UnknownGeneError,
    UnknownPerturbagenError,
    UnknownSignatureError,
)
from search.engine.shards import ShardUnavailableError
from search.runtime.index_access import IndexUnavailable

STATUS_BY_ERROR: dict[type[PortalError], int] = {
    UnknownGeneError: status.HTTP_404_NOT_FOUND,
    UnknownSignatureError: status.HTTP_404_NOT_FOUND,
    UnknownPerturbagenError: status.HTTP_404_NOT_FOUND,
    IndexUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    ShardUnavailableError: status.HTTP_503_SERVICE_UNAVAILABLE,
    AmbiguousGeneError: status.HTTP_300_MULTIPLE_CHOICES,
}


def api_exception_handler(error: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(error, PortalError):
        code = next(
            (code for kind, code in STATUS_BY_ERROR.items() if isinstance(error, kind)),
            status.HTTP_400_BAD_REQUEST,
        )
        return Response({"detail": str(error), **error.payload}, status=code)
    return exception_handler(error, context)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: a path under /api/ that names no operation (or a malformed id in one) gets
    the API's JSON error, not the 404 page."""
    if request.path.startswith("/api/"):
        detail = f"no API operation answers {request.path}; see /api/docs"
        return JsonResponse({"detail": detail}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: JSON under /api/, the project's 500 page else."""
    if request.path.startswith("/api/"):
        detail = "the portal failed to answer; the error is logged"
        return JsonResponse({"detail": detail}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return defaults.server_error(request)

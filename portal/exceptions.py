"""One place where domain errors become HTTP answers."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from search.engine.errors import (
    AmbiguousGeneError,
    PortalError,
    UnknownGeneError,
    UnknownSignatureError,
)
from search.index_access import IndexUnavailable

STATUS_BY_ERROR: dict[type[PortalError], int] = {
    UnknownGeneError: status.HTTP_404_NOT_FOUND,
    UnknownSignatureError: status.HTTP_404_NOT_FOUND,
    IndexUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
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

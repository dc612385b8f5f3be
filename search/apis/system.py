"""System APIs: the portal's health and the files on offer."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from search.apis.schemas import (
    DownloadListSerializer,
    HealthSerializer,
    answers,
)
from search.runtime.health import portal_health
from search.selectors.downloads import download_files


class HealthApi(APIView):
    @extend_schema(operation_id="health", responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request: Request) -> Response:
        report = portal_health()
        code = (
            status.HTTP_200_OK if report["status"] == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE
        )
        return Response(report, status=code)


class DownloadListApi(APIView):
    @extend_schema(operation_id="downloads", responses=answers({200: DownloadListSerializer}))
    def get(self, request: Request) -> Response:
        files = download_files(folder=settings.DOWNLOADS_DIR)
        return Response(
            {
                "files": [
                    {**item.as_dict(), "url": reverse("search:download", args=[item.name])}
                    for item in files
                ]
            }
        )

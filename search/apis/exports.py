"""Sliced export API: any signatures x any genes of the index, as TSV (streamed) or GCTX."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from django.http import FileResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from portal.throttling import ScopedRateThrottle
from search.apis.bodies import StrictSerializer, filters_field
from search.apis.schemas import WRITE_ERRORS, answers
from search.engine.query import FILTER_FIELDS
from search.selectors.exports import (
    MAX_CELLS,
    MAX_LISTED,
    gctx_file,
    slice_plan,
    temporary_folder,
    tsv_lines,
)


class SliceInput(StrictSerializer):
    sig_ids = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        max_length=MAX_LISTED,
        help_text="signature ids, in the order wanted (or give filters)",
    )
    filters = filters_field(
        f"every signature that passes them ({', '.join(FILTER_FIELDS)}): per field a list of "
        'values, or a range {"min": a, "max": b} of a number field'
    )
    genes = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=MAX_LISTED,
        help_text="gene symbols or identifiers (default: every gene of the index)",
    )
    format = serializers.ChoiceField(choices=["tsv", "gctx"], default="tsv")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if bool(data.get("sig_ids")) == bool(data.get("filters")):
            raise serializers.ValidationError({"sig_ids": "give sig_ids or filters (one of them)"})
        unknown = set(data.get("filters") or {}) - set(FILTER_FIELDS)
        if unknown:
            raise serializers.ValidationError({"filters": f"unknown fields {sorted(unknown)}"})
        return data


class SliceExportApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "batch"

    @extend_schema(
        operation_id="slice_export",
        request=SliceInput,
        responses=answers(
            {
                (200, "text/tab-separated-values"): OpenApiResponse(
                    OpenApiTypes.STR,
                    description=f"genes x signatures; at most {MAX_CELLS:,} numbers",
                ),
                (200, "application/x-hdf5"): OpenApiResponse(
                    OpenApiTypes.BINARY, description="GCTX: genes x signatures, with metadata"
                ),
            },
            *WRITE_ERRORS,
        ),
    )
    def post(self, request: Request) -> HttpResponseBase:
        given = SliceInput(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        plan = slice_plan(
            sig_ids=data.get("sig_ids"), filters=data.get("filters"), genes=data.get("genes")
        )
        if data["format"] == "tsv":
            response = StreamingHttpResponse(
                tsv_lines(plan), content_type="text/tab-separated-values; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="{plan.name}.tsv"'
            return response
        folder = temporary_folder()
        try:
            path = gctx_file(plan, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        # FileResponse sets the length and the file's name only for a file, not for the
        # generator that removes the folder after sending it
        response = FileResponse(
            _removed_after(path.open("rb"), folder), content_type="application/x-hdf5"
        )
        response["Content-Length"] = str(path.stat().st_size)
        response["Content-Disposition"] = content_disposition_header(True, path.name)
        return response


def _removed_after(handle: BinaryIO, folder: Path) -> Iterator[bytes]:
    """The file's bytes, then its folder removed (however the answer ends)."""
    try:
        while block := handle.read(1 << 20):
            yield block
    finally:
        handle.close()
        shutil.rmtree(folder, ignore_errors=True)

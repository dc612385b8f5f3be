"""The downloads page and the file answers: validators and byte ranges (RFC 9110), or the
proxy's X-Accel-Redirect."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header, http_date, parse_http_date_safe

from search.pages.views import page
from search.selectors.downloads import DownloadFile, DownloadNotFound, download_file, download_files
from search.selectors.exports import MAX_CELLS

STREAM_BLOCK = 1 << 20
AnyResponse = TypeVar("AnyResponse", bound=HttpResponseBase)


@page
def downloads(request: HttpRequest) -> HttpResponse:
    files = download_files(folder=settings.DOWNLOADS_DIR)
    context = {"files": files, "max_cells": MAX_CELLS}
    return render(request, "search/downloads.html", context)


@page
def download(request: HttpRequest, name: str) -> HttpResponseBase:
    """One file on offer (never anything outside), with its validators (RFC 9110): 304 when the
    client's copy is current; whole, or one byte range (206) when If-Range allows; HEAD reads
    nothing. With DOWNLOADS_ACCEL_REDIRECT the proxy sends the bytes (ranges, validators, 304s
    its own): the answer names the file in X-Accel-Redirect and has no body."""
    try:
        item = download_file(folder=settings.DOWNLOADS_DIR, name=name)
    except DownloadNotFound as error:
        raise Http404(str(error)) from error
    if settings.DOWNLOADS_ACCEL_REDIRECT:
        return _accel_redirect(item, settings.DOWNLOADS_ACCEL_REDIRECT)
    head = _with_file_headers(HttpResponse(headers={"Content-Length": str(item.size)}), item)
    answer = get_conditional_response(
        request, etag=item.etag, last_modified=item.mtime, response=head
    )
    if answer is None:  # get_conditional_response returns the response given, or a 304/412
        return head
    if answer is not head or request.method == "HEAD":  # 304 or 412; HEAD: the headers alone
        return answer
    try:
        span = _span(request, item)
    except RangeNotSatisfiable:
        return HttpResponse(status=416, headers={"Content-Range": f"bytes */{item.size}"})
    if span is None:
        return _with_file_headers(FileResponse(item.path.open("rb")), item)
    first, last = span
    response = StreamingHttpResponse(_read_span(item.path, first, last), status=206)
    response["Content-Range"] = f"bytes {first}-{last}/{item.size}"
    response["Content-Length"] = str(last - first + 1)
    return _with_file_headers(response, item)


def _span(request: HttpRequest, item: DownloadFile) -> tuple[int, int] | None:
    """The byte range to send, None for the whole file: a Range is ignored when If-Range names
    another version of the file."""
    if not range_applies(request.headers.get("If-Range"), etag=item.etag, mtime=item.mtime):
        return None
    return byte_range(request.headers.get("Range"), item.size)


def _with_file_headers(
    response: AnyResponse, item: DownloadFile, validators: bool = True
) -> AnyResponse:
    """The headers of every answer carrying the file (over FileResponse's guesses): the same
    Content-Type whole or in part; the validators unless a proxy sends the file."""
    response["Content-Type"] = item.content_type
    response["Content-Disposition"] = content_disposition_header(True, item.name)
    response["Accept-Ranges"] = "bytes"
    # RFC 3230's instance digest, base64 as RFC 5843 has it (and RFC 9530's successor field)
    digest = base64.b64encode(bytes.fromhex(item.sha256)).decode("ascii")
    response["Digest"] = f"sha-256={digest}"
    response["Repr-Digest"] = f"sha-256=:{digest}:"
    if validators:
        response["ETag"] = item.etag
        response["Last-Modified"] = http_date(item.mtime)
    return response


def _accel_redirect(item: DownloadFile, location: str) -> HttpResponse:
    """Headers only: the proxy's internal `location` sends the file (docker/nginx.conf), with
    validators of its own."""
    response = _with_file_headers(HttpResponse(), item, validators=False)
    del response["Accept-Ranges"]  # nginx says it of the file it sends (twice else)
    response["X-Accel-Redirect"] = f"{location.rstrip('/')}/{quote(item.name)}"
    return response


def _read_span(path: Path, first: int, last: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(first)
        left = last - first + 1
        while left > 0:
            block = handle.read(min(STREAM_BLOCK, left))
            if not block:
                return
            left -= len(block)
            yield block


RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(ValueError):
    """A Range header outside the file."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive for a single `bytes=` range, None for the whole file."""
    if not header:
        return None
    match = RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # unsupported forms (several ranges, other units) get the whole file
    first, last = match.groups()
    if first == "":  # the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable(f"bytes=-0 of {size} bytes")
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(f"{header} outside {size} bytes")
    return start, end


def range_applies(if_range: str | None, *, etag: str, mtime: int) -> bool:
    """Whether a Range is to be honoured under an If-Range header (RFC 9110 13.1.5): always without
    one; with an entity tag, only the current strong tag (a weak tag never matches); with a date,
    only the exact Last-Modified, and only once it is a strong validator (a second old)."""
    if not if_range:
        return True
    value = if_range.strip()
    if value.startswith(('"', "W/")):
        return value == etag
    return parse_http_date_safe(value) == mtime and mtime < int(time.time())

"""Server-rendered pages. Templates format; selectors compute."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header, http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from search.batches import UNRESOLVED, batch_outcomes
from search.downloads import (
    DownloadFile,
    DownloadNotFound,
    RangeNotSatisfiable,
    byte_range,
    download_file,
    download_files,
    range_applies,
)
from search.engine.errors import AmbiguousGeneError, UnknownGeneError, UnknownSignatureError
from search.engine.index_state import index_state
from search.engine.query import MIN_GENES, SCORES
from search.examples import example_queries
from search.health import portal_health
from search.index_access import IndexUnavailable
from search.models import BatchSearch, Gene, L1000Type, StoredSearch
from search.selectors import signature_facets, signature_set_current
from search.signature_pages import gene_reverse_search, signature_detail, signature_neighbours

STREAM_BLOCK = 1 << 20
SIMILAR_ROWS = 20


def page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page: GET and HEAD only, anything else 405 with Allow. Pages change nothing, so an unsafe
    method is refused for what it is, not with a CSRF 403 (the API's writes are DRF's)."""
    return csrf_exempt(require_safe(view))


@page
def home(request: HttpRequest) -> HttpResponse:
    health = portal_health()
    index = health["search_index"]
    signature_set = signature_set_current(version=index.get("version"))
    context = {
        "health": health,
        "index": index,
        "examples": example_queries(),
        "examples_json": [example.as_dict() for example in example_queries()],
        "facets": signature_facets(signature_set=signature_set),
        "min_genes": MIN_GENES,
        **_gene_counts(),
    }
    return render(request, "search/home.html", context)


@page
def gene_lookup(request: HttpRequest) -> HttpResponse:
    return render(request, "search/gene_lookup.html", _gene_counts())


def _gene_counts() -> dict[str, int]:
    return {
        "n_genes": Gene.objects.count(),
        "n_landmarks": Gene.objects.filter(l1000_type=L1000Type.LANDMARK).count(),
    }


@page
def downloads(request: HttpRequest) -> HttpResponse:
    files = download_files(folder=settings.DOWNLOADS_DIR)
    return render(request, "search/downloads.html", {"files": files})


@page
def download(request: HttpRequest, name: str) -> HttpResponse:
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
    answer = get_conditional_response(request, etag=item.etag, last_modified=item.mtime,
                                      response=head)  # fmt: skip
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
    response: HttpResponse, item: DownloadFile, validators: bool = True
) -> HttpResponse:
    """The headers of every answer carrying the file (over FileResponse's guesses): the same
    Content-Type whole or in part; the validators unless a proxy sends the file."""
    response["Content-Type"] = item.content_type
    response["Content-Disposition"] = content_disposition_header(True, item.name)
    response["Accept-Ranges"] = "bytes"
    response["Digest"] = f"sha-256={item.sha256}"
    if validators:
        response["ETag"] = item.etag
        response["Last-Modified"] = http_date(item.mtime)
    return response


def _accel_redirect(item: DownloadFile, location: str) -> HttpResponse:
    """Headers only: the proxy's internal `location` sends the file (docker/nginx.conf), with
    validators of its own."""
    response = _with_file_headers(HttpResponse(), item, validators=False)
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


@page
def results(request: HttpRequest, search_id: str) -> HttpResponse:
    search = get_object_or_404(StoredSearch, id=search_id)
    context = {
        "search": search,
        "score_name": SCORES[search.query["score"]],
        "sides": [("up", search.report["up"]), ("down", search.report["down"])],
        "filters": search.query.get("filters") or {},
        "filter_report": search.report.get("filters") or {},
        "results": {"rows": search.results},
    }
    return render(request, "search/results.html", context)


@page
def batch(request: HttpRequest) -> HttpResponse:
    recent = BatchSearch.objects.order_by("-created_at")[:10]
    return render(request, "search/batch.html", {"recent": recent, "index": _index_state()})


@page
def batch_detail(request: HttpRequest, batch_id: str) -> HttpResponse:
    batch = get_object_or_404(BatchSearch, id=batch_id)
    queries = [{**q, "unused": [identifier for key in UNRESOLVED for identifier in q[key]]}
               for q in batch_outcomes(batch)]  # fmt: skip
    return render(request, "search/batch_detail.html", {"batch": batch, "queries": queries})


def _index_state() -> dict[str, object]:
    return index_state(settings.SEARCH_INDEX_DIR).as_dict()


@page
def signature(request: HttpRequest, sig_id: str) -> HttpResponse:
    try:
        detail = signature_detail(sig_id=sig_id)
        similar = signature_neighbours(sig_id=sig_id, k=SIMILAR_ROWS)
    except UnknownSignatureError as error:
        raise Http404(str(error)) from error
    except IndexUnavailable as error:
        return _unavailable(request, error)
    return render(request, "search/signature.html", {"sig": detail, "similar": similar})


@page
def gene(request: HttpRequest, identifier: str) -> HttpResponse:
    pert_type = request.GET.get("pert_type") or None
    cell_id = request.GET.get("cell_id") or None
    try:
        data = gene_reverse_search(identifier=identifier, pert_type=pert_type, cell_id=cell_id)
    except UnknownGeneError as error:
        raise Http404(str(error)) from error
    except IndexUnavailable as error:
        return _unavailable(request, error)
    except AmbiguousGeneError as error:
        return render(request, "search/gene_ambiguous.html",
                      {"identifier": identifier, **error.payload}, status=300)  # fmt: skip
    return render(request, "search/gene.html", {"data": data, "gene": data["gene"]})


def _unavailable(request: HttpRequest, error: Exception) -> HttpResponse:
    return render(request, "search/unavailable.html", {"reason": str(error)}, status=503)


@page
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for whatever a page's icon link says: the SVG icon."""
    return redirect(static("favicon.svg"), permanent=True)

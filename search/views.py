"""Server-rendered pages. Templates format; selectors compute."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from search.batches import UNRESOLVED, batch_outcomes
from search.downloads import (
    DownloadNotFound,
    RangeNotSatisfiable,
    byte_range,
    download_file,
    download_files,
)
from search.engine.errors import AmbiguousGeneError, UnknownGeneError, UnknownSignatureError
from search.engine.index_state import index_state
from search.examples import example_queries
from search.health import portal_health
from search.index_access import IndexUnavailable
from search.models import BatchSearch, Gene, L1000Type, StoredSearch
from search.queries import MIN_GENES
from search.searches import SCORES
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
    """One file on offer, whole or a single byte range (HTTP 206), never anything outside."""
    try:
        item = download_file(folder=settings.DOWNLOADS_DIR, name=name)
        span = byte_range(request.headers.get("Range"), item.size)
    except DownloadNotFound as error:
        raise Http404(str(error)) from error
    except RangeNotSatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{item.size}"
        return response
    if span is None:
        response = FileResponse(item.path.open("rb"), as_attachment=True, filename=item.name)
    else:
        first, last = span
        response = StreamingHttpResponse(_read_span(item.path, first, last), status=206)
        response["Content-Range"] = f"bytes {first}-{last}/{item.size}"
        response["Content-Length"] = str(last - first + 1)
        response["Content-Disposition"] = f'attachment; filename="{item.name}"'
        response["Content-Type"] = "application/octet-stream"
    response["Accept-Ranges"] = "bytes"
    response["Digest"] = f"sha-256={item.sha256}"
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

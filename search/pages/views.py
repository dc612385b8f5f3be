"""Server-rendered pages. Templates format; selectors compute."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from search.engine.errors import (
    AmbiguousGeneError,
    GeneOutsideIndexError,
    InvalidQueryError,
    UnknownGeneError,
    UnknownPerturbagenError,
    UnknownSignatureError,
)
from search.engine.index_state import index_state
from search.engine.query import MIN_GENES, SCORES
from search.models import BatchSearch, Gene, L1000Type, StoredSearch
from search.runtime.health import portal_health
from search.runtime.index_access import IndexUnavailable
from search.selectors.batches import UNRESOLVED, batch_filters, batch_outcomes
from search.selectors.examples import example_queries
from search.selectors.perturbagens import perturbagen_detail
from search.selectors.searches import filter_text
from search.selectors.signatures import (
    gene_reverse_search,
    signature_detail,
    signature_facets,
    signature_neighbours,
    signature_set_current,
)

SIMILAR_ROWS = 20


def page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
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
def results(request: HttpRequest, search_id: str) -> HttpResponse:
    search = get_object_or_404(StoredSearch, id=search_id)
    context = {
        "search": search,
        "score_name": SCORES[search.query["score"]],
        "sides": [("up", search.report["up"]), ("down", search.report["down"])],
        "filters": [filter_text(*item) for item in (search.query.get("filters") or {}).items()],
        "filter_report": search.report.get("filters") or {},
        "hubs": search.report.get("hubs") or {},
        "accuracy": search.report.get("accuracy") or {},
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
    queries = [
        {**q, "unused": [identifier for key in UNRESOLVED for identifier in q[key]]}
        for q in batch_outcomes(batch)
    ]
    context = {"batch": batch, "queries": queries, "filters": batch_filters(batch)}
    return render(request, "search/batch_detail.html", context)


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
def perturbagen(request: HttpRequest, pert_id: str) -> HttpResponse:
    try:
        detail = perturbagen_detail(pert_id=pert_id)
    except UnknownPerturbagenError as error:
        raise Http404(str(error)) from error
    except IndexUnavailable as error:
        return _unavailable(request, error)
    return render(request, "search/perturbagen.html", {"pert": detail})


@page
def gene(request: HttpRequest, identifier: str) -> HttpResponse:
    pert_type = request.GET.get("pert_type") or None
    cell_id = request.GET.get("cell_id") or None
    filter_error = ""
    try:
        try:
            data = gene_reverse_search(identifier=identifier, pert_type=pert_type, cell_id=cell_id)
        except InvalidQueryError as error:  # the page without the filter, saying why
            filter_error = str(error)
            data = gene_reverse_search(identifier=identifier)
    except UnknownGeneError as error:  # the reason on the page: unknown, or not in the index
        context = {
            "identifier": identifier,
            "reason": str(error),
            "in_registry": isinstance(error, GeneOutsideIndexError),
        }
        return render(request, "search/gene_missing.html", context, status=404)
    except IndexUnavailable as error:
        return _unavailable(request, error)
    except AmbiguousGeneError as error:
        return render(
            request,
            "search/gene_ambiguous.html",
            {"identifier": identifier, **error.payload},
            status=300,
        )
    signature_set = signature_set_current(version=data["index_version"])
    facets = signature_facets(signature_set=signature_set)
    context = {
        "data": data,
        "gene": data["gene"],
        "pert_types": facets.get("pert_type", list(data["tables"])),
        "cell_lines": facets.get("cell_id", []),
        "json_query": urlencode(
            {"limit": 1000, **{k: v for k, v in data["filters"].items() if k != "direction" and v}}
        ),
        "hub_percent": _percents(data["hub"]),
        "filter_error": filter_error,
    }
    return render(request, "search/gene.html", context)


def _percents(hub: dict[str, object] | None) -> dict[str, float]:
    """A hub entry's fractions as percentages (a fraction of 0.0027 shows as 0.27 %, not 0 %)."""
    keys = ("fraction_up", "fraction_down", "expected")
    found = {key: (hub or {}).get(key) for key in keys}
    return {key: 100 * value for key, value in found.items() if isinstance(value, int | float)}


def _unavailable(request: HttpRequest, error: Exception) -> HttpResponse:
    return render(request, "search/unavailable.html", {"reason": str(error)}, status=503)


@page
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for whatever a page's icon link says: the SVG icon."""
    return redirect(static("favicon.svg"), permanent=True)

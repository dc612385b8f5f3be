from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from search import apis, search_apis, signature_apis, views

api_patterns = [
    path("health", apis.HealthApi.as_view(), name="health"),
    path("genes", apis.GeneAutocompleteApi.as_view(), name="gene-autocomplete"),
    path("genes/resolve", apis.GeneResolveApi.as_view(), name="gene-resolve"),
    path("genes/<str:identifier>", apis.GeneDetailApi.as_view(), name="gene-detail"),
    path(
        "genes/<str:identifier>/signatures",
        signature_apis.GeneSignaturesApi.as_view(),
        name="gene-signatures",
    ),
    path(
        "signatures/<str:sig_id>",
        signature_apis.SignatureDetailApi.as_view(),
        name="signature-detail",
    ),
    path(
        "signatures/<str:sig_id>/genes",
        signature_apis.SignatureGenesApi.as_view(),
        name="signature-genes",
    ),
    path(
        "signatures/<str:sig_id>/similar",
        signature_apis.SignatureSimilarApi.as_view(),
        name="signature-similar",
    ),
    path("downloads", apis.DownloadListApi.as_view(), name="downloads"),
    path("search", search_apis.SearchApi.as_view(), name="search"),
    path("search/batch", search_apis.BatchSearchApi.as_view(), name="search-batch"),
    path(
        "search/batch/<uuid:batch_id>",
        search_apis.BatchSearchDetailApi.as_view(),
        name="search-batch-detail",
    ),
    path(
        "search/batch/<uuid:batch_id>/results",
        search_apis.BatchSearchResultsApi.as_view(),
        name="search-batch-results",
    ),
    path("search/<uuid:search_id>", search_apis.SearchDetailApi.as_view(), name="search-detail"),
    path(
        "search/<uuid:search_id>/export",
        search_apis.SearchExportApi.as_view(),
        name="search-export",
    ),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularRedocView.as_view(url_name="api:schema"), name="docs"),
]

handler404 = "portal.exceptions.not_found"
handler500 = "portal.exceptions.server_error"

urlpatterns = [
    path("api/", include((api_patterns, "api"))),
    # browsers ask for /favicon.ico whatever the page's <link rel="icon"> says
    path("favicon.ico", views.favicon),
    path("", include("search.urls")),
]

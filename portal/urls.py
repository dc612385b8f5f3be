from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from search.apis import exports, genes, perturbagens, searches, signatures, system
from search.pages import views

api_patterns = [
    path("health", system.HealthApi.as_view(), name="health"),
    path("genes", genes.GeneAutocompleteApi.as_view(), name="gene-autocomplete"),
    path("genes/resolve", genes.GeneResolveApi.as_view(), name="gene-resolve"),
    path("genes/<str:identifier>", genes.GeneDetailApi.as_view(), name="gene-detail"),
    path(
        "genes/<str:identifier>/signatures",
        genes.GeneSignaturesApi.as_view(),
        name="gene-signatures",
    ),
    path(
        "signatures/<str:sig_id>",
        signatures.SignatureDetailApi.as_view(),
        name="signature-detail",
    ),
    path(
        "signatures/<str:sig_id>/genes",
        signatures.SignatureGenesApi.as_view(),
        name="signature-genes",
    ),
    path(
        "signatures/<str:sig_id>/similar",
        signatures.SignatureSimilarApi.as_view(),
        name="signature-similar",
    ),
    path(
        "perturbagens/<str:pert_id>",
        perturbagens.PerturbagenDetailApi.as_view(),
        name="perturbagen-detail",
    ),
    path("downloads", system.DownloadListApi.as_view(), name="downloads"),
    path("export", exports.SliceExportApi.as_view(), name="slice-export"),
    path("search", searches.SearchApi.as_view(), name="search"),
    path("search/batch", searches.BatchSearchApi.as_view(), name="search-batch"),
    path(
        "search/batch/<uuid:batch_id>",
        searches.BatchSearchDetailApi.as_view(),
        name="search-batch-detail",
    ),
    path(
        "search/batch/<uuid:batch_id>/results",
        searches.BatchSearchResultsApi.as_view(),
        name="search-batch-results",
    ),
    path("search/<uuid:search_id>", searches.SearchDetailApi.as_view(), name="search-detail"),
    path(
        "search/<uuid:search_id>/export",
        searches.SearchExportApi.as_view(),
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

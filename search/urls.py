from __future__ import annotations

from django.urls import path

from search.pages import downloads, views

app_name = "search"
urlpatterns = [
    path("", views.home, name="home"),
    path("search/<uuid:search_id>", views.results, name="results"),
    path("genes/", views.gene_lookup, name="genes"),
    path("genes/<str:identifier>", views.gene, name="gene"),
    path("signatures/<str:sig_id>", views.signature, name="signature"),
    path("perturbagens/<str:pert_id>", views.perturbagen, name="perturbagen"),
    path("batch/", views.batch, name="batch"),
    path("batch/<uuid:batch_id>", views.batch_detail, name="batch-detail"),
    path("downloads/", downloads.downloads, name="downloads"),
    path("downloads/<str:name>", downloads.download, name="download"),
]

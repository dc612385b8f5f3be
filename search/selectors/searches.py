"""Reads of a stored search: the API's answer and the TSV/CSV export."""

from __future__ import annotations

import csv
import io
import math
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from search.engine.query import SCORES
from search.models import StoredSearch

EXPORT_COLUMNS = (
    "rank",
    "sig_id",
    "pert_type",
    "pert_id",
    "pert_iname",
    "cell_id",
    "pert_dose",
    "pert_dose_unit",
    "pert_time",
    "pert_time_unit",
    "z_up",
    "z_down",
    "z_sum",
    "score",
    "p_up",
    "p_down",
    "p",
    "fdr_up",
    "fdr_down",
    "fdr",
    "tau",
    "direction",
)


def search_payload(search: StoredSearch) -> dict[str, Any]:
    """The API's answer for a stored search."""
    return {
        "id": str(search.id),
        "permalink": reverse("search:results", args=[search.id]),
        "created_at": search.created_at,
        "index": {
            "version": search.index_version,
            "recall_at_100": search.report.get("recall_at_100"),
        },
        "query": search.query,
        "report": {
            "up": search.report["up"],
            "down": search.report["down"],
            "filters": search.report.get("filters", {}),
            "hubs": search.report.get("hubs", {"available": False}),
            "accuracy": search.report.get("accuracy", {"available": False}),
        },
        "n_searched": search.n_searched,
        "results": search.results,
    }


def search_table(search: StoredSearch, *, delimiter: str = "\t") -> str:
    """The results as TSV (or CSV), one row per signature, with a commented header of the query."""
    out = io.StringIO()
    score = SCORES[search.query["score"]]
    out.write(
        f"# search {search.id} on index {search.index_version}: "
        f"{search.n_searched} signatures scored; {score}\n"
    )
    hubs = [item["gene"] for side in ("up", "down") for item in search.report[side].get("hubs", [])]
    if hubs:
        out.write(f"# hub genes in the query (move in many signatures): {', '.join(hubs)}\n")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in search.results:
        writer.writerow(export_cells(row))
    return out.getvalue()


def export_cells(row: dict[str, Any]) -> list[str]:
    """A result row's EXPORT_COLUMNS as text, empty where there is no value: the one rule of
    every export (the search's TSV/CSV, the batch's TSV)."""
    return ["" if row.get(column) is None else str(row[column]) for column in EXPORT_COLUMNS]


def json_value(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def search_link(up: list[str], down: list[str]) -> str:
    """The home page with its form filled in: a signature's (or a consensus's) top genes."""
    return reverse("search:home") + "?" + urlencode({"up": ",".join(up), "down": ",".join(down)})

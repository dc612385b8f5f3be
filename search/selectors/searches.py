"""Reads of a stored search: the API's answer and the TSV/CSV export."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
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
    "batch",
    "n_cases",
    "n_controls",
)
# the search form's options a link to it carries (static/search/search-form.js reads them)
FORM_OPTIONS = ("mode", "score", "order", "limit")
FORM_FILTERS = ("pert_type", "cell_id", "pert_iname", "pert_time")


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
    """The results as TSV, one row per signature, under a commented header of the query (read
    it with `comment="#"`), or as CSV: the plain table, which readers of CSV take as it is."""
    out = io.StringIO()
    if delimiter == "\t":
        out.writelines(f"# {line}\n" for line in search_header(search))
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in search.results:
        writer.writerow(export_cells(row))
    return out.getvalue()


def search_header(search: StoredSearch) -> list[str]:
    """What was asked and how it was answered, a line each: the TSV export's commented header."""
    query, report = search.query, search.report
    lines = [
        f"search {search.id} on index {search.index_version}: "
        f"{search.n_searched} signatures scored; {SCORES[query['score']]}",
        f"mode {query['mode']}, order {query.get('order', 'z')}, top {query['limit']}",
    ]
    for side in ("up", "down"):
        matched = report[side].get("matched", [])
        lines.append(f"{side} ({len(matched)} genes used): {', '.join(matched)}")
    for name, wanted in (query.get("filters") or {}).items():
        lines.append(f"filter: {filter_text(name, wanted)}")
    for name, found in (report.get("filters") or {}).items():
        if found.get("unmatched"):
            lines.append(f"filter {name}: no signature has {', '.join(found['unmatched'])}")
    hubs = [item["gene"] for side in ("up", "down") for item in report[side].get("hubs", [])]
    if hubs:
        lines.append(f"hub genes in the query (move in many signatures): {', '.join(hubs)}")
    return lines


def filter_text(name: str, wanted: Any) -> str:
    """A filter as a reader says it: `cell_id = A375 or MCF7`, `pert_dose from 0.1 to 1`."""
    if isinstance(wanted, Mapping):
        bounds = [
            f"{word} {wanted[key]:g}"
            for key, word in (("min", "from"), ("max", "to"))
            if key in wanted
        ]
        return f"{name} {' '.join(bounds)}"
    return f"{name} = {' or '.join(str(value) for value in wanted)}"


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


def search_link(up: list[str], down: list[str], query: Mapping[str, Any] | None = None) -> str:
    """The home page with its form filled in: a signature's (or a consensus's) top genes, and,
    given a stored search's query, its options and the filters the form can hold (one value a
    field; a filter of several values or a range has no place in the form, and `form_filters`
    names it)."""
    fields = {"up": ",".join(up), "down": ",".join(down)}
    if query is not None:
        fields |= {key: str(query[key]) for key in FORM_OPTIONS if key in query}
        fields |= form_filters(query.get("filters") or {})[0]
    return reverse("search:home") + "?" + urlencode(fields)


def form_filters(filters: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The filters as the search form's fields (one value a field), and the ones it cannot hold."""
    kept, left = {}, []
    for name, wanted in filters.items():
        if name in FORM_FILTERS and isinstance(wanted, list) and len(wanted) == 1:
            kept[name] = str(wanted[0])
        else:
            left.append(name)
    return kept, left

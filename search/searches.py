"""Signature searches: resolve the query, score it on the index, keep it for its permalink.

`signature_search` is the one entry point of the API, the pages and the batch task. The engine
(search/engine) scores; this module resolves genes through the registry, joins the metadata the
database holds, and stores what was asked and answered.
"""

from __future__ import annotations

import csv
import io
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.urls import reverse

from search.engine.query import SCORES
from search.index_access import search_index
from search.models import StoredSearch
from search.queries import check_sizes, resolve_query
from search.selectors import gene_resolver

EXPORT_COLUMNS = ("rank", "sig_id", "pert_type", "pert_id", "pert_iname", "cell_id", "pert_dose",
                  "pert_dose_unit", "pert_time", "pert_time_unit", "z_up", "z_down", "z_sum",
                  "score", "p_up", "p_down", "p", "fdr_up", "fdr_down", "fdr",
                  "direction")  # fmt: skip


@dataclass(frozen=True)
class SearchOptions:
    mode: str = "both"
    score: str = "rank"
    limit: int = 100
    filters: dict[str, list[str]] = field(default_factory=dict)
    choices: dict[str, str] = field(default_factory=dict)  # ambiguous identifier -> candidate

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "score": self.score, "limit": self.limit,
                "filters": self.filters, "choices": self.choices}  # fmt: skip


def signature_search(*, up: Sequence[str], down: Sequence[str], options: SearchOptions,
                     store: bool = True) -> StoredSearch:  # fmt: skip
    """Resolve, score every (filtered) signature, keep the top `limit` of the mode asked for."""
    index = search_index()
    up_report, down_report = resolve_query(up=up, down=down, resolver=gene_resolver(),
                                           choices=options.choices)  # fmt: skip
    for report in (up_report, down_report):
        report.not_in_index = [gene for gene in report.matched if not index.has_gene(gene)]
        report.matched = [gene for gene in report.matched if index.has_gene(gene)]
    check_sizes(up_report, down_report)
    answer = index.search(
        up=up_report.matched, down=down_report.matched, mode=options.mode,
        score=options.score, filters=options.filters, k=options.limit,
        path=settings.SEARCH_PATH if options.score == "rank" else "auto",
    )  # fmt: skip
    search = StoredSearch(
        id=uuid.uuid4(), index_version=index.version,
        query={"up": list(up), "down": list(down), **options.as_dict()},
        report={"up": up_report.as_dict(), "down": down_report.as_dict(),
                "recall_at_100": index.recall_at_100, "path": answer.path,
                "filters": answer.filters},
        results=[_row(rank, row) for rank, row in enumerate(answer.rows, start=1)],
        n_searched=answer.n_searched,
    )  # fmt: skip
    if store:
        search.save()
    return search


def search_payload(search: StoredSearch) -> dict[str, Any]:
    """The API's answer for a stored search."""
    return {
        "id": str(search.id),
        "permalink": reverse("search:results", args=[search.id]),
        "created_at": search.created_at,
        "index": {"version": search.index_version,
                  "recall_at_100": search.report.get("recall_at_100")},
        "query": search.query,
        "report": {"up": search.report["up"], "down": search.report["down"],
                   "filters": search.report.get("filters", {})},
        "n_searched": search.n_searched,
        "results": search.results,
    }  # fmt: skip


def search_table(search: StoredSearch, *, delimiter: str = "\t") -> str:
    """The results as TSV (or CSV), one row per signature, with a commented header of the query."""
    out = io.StringIO()
    score = SCORES[search.query["score"]]
    out.write(f"# search {search.id} on index {search.index_version}: "
              f"{search.n_searched} signatures scored; {score}\n")  # fmt: skip
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in search.results:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in EXPORT_COLUMNS])
    return out.getvalue()


def _row(rank: int, row: dict[str, Any]) -> dict[str, Any]:
    clean = {key: json_value(value) for key, value in row.items()}
    clean["rank"] = rank
    clean["direction"] = "mimic" if clean["score"] >= 0 else "reverse"
    clean["url"] = reverse("search:signature", args=[row["sig_id"]])
    return clean


def json_value(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

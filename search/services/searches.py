"""Signature searches: resolve the query, score it on the index, keep it for its permalink.

`signature_search` is the one entry point of the API, the pages and the batch task. The engine
(search/engine) scores; this module resolves genes through the registry and stores what was asked
and answered."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.urls import reverse

from search.engine.accuracy import POOR, evaluated, poorly_predicted
from search.engine.errors import PortalError
from search.engine.hubs import HUB_FACTOR, expected_fraction, hub_genes
from search.engine.many import search_many
from search.engine.query import SideReport
from search.engine.query_resolution import check_sizes, keep_indexed, resolve_query
from search.engine.searching import gpu_backend
from search.engine.specificity import row_taus
from search.models import StoredSearch
from search.runtime.index_access import IndexUnavailable, search_index
from search.runtime.shards import sharded_index
from search.selectors.genes import gene_resolver
from search.selectors.searches import form_filters, json_value, search_link
from search.selectors.signatures import with_metadata

if TYPE_CHECKING:
    from search.engine.index import SearchIndex
    from search.engine.results import SearchResult


@dataclass(frozen=True)
class SearchOptions:
    mode: str = "both"
    score: str = "rank"
    limit: int = 100
    filters: dict[str, Any] = field(default_factory=dict)  # field -> values, or {"min", "max"}
    choices: dict[str, str] = field(default_factory=dict)  # ambiguous identifier -> candidate
    order: str = "z"  # "tau": ranked by specificity (search/engine/specificity.py)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "score": self.score,
            "limit": self.limit,
            "filters": self.filters,
            "choices": self.choices,
            "order": self.order,
        }


def signature_search(
    *, up: Sequence[str], down: Sequence[str], options: SearchOptions, store: bool = True
) -> StoredSearch:
    """Resolve, score every (filtered) signature, keep the top `limit` of the mode asked for."""
    index = search_index()
    index.table.refuse_unmatched(options.filters)
    search = _searched(index, up, down, options)
    if store:
        search.save()
    return search


def _searched(
    index: SearchIndex, up: Sequence[str], down: Sequence[str], options: SearchOptions
) -> StoredSearch:
    """One search, its filters checked already (unsaved): through the shards where the index is
    split, else on the index here."""
    reports = _resolved(index, up, down, options)
    sharded = sharded_index()
    if sharded is not None:
        answer = sharded.search(
            reports[0].matched,
            reports[1].matched,
            mode=options.mode,
            score=options.score,
            filters=options.filters,
            k=options.limit,
            order=options.order,
        )
    else:
        answer = index.search(
            up=reports[0].matched,
            down=reports[1].matched,
            mode=options.mode,
            score=options.score,
            filters=options.filters,
            k=options.limit,
            path=settings.SEARCH_PATH if options.score == "rank" else "auto",
            order=options.order,
        )
    return _stored(index, up, down, options, reports, answer)


def signature_searches(
    queries: Sequence[tuple[Sequence[str], Sequence[str]]], options: SearchOptions
) -> list[StoredSearch | PortalError]:
    """Many searches with the same options, unsaved, each a StoredSearch or the error it raised,
    in order. The rank score in the z order runs them together through the engine's block kernel
    (search/engine/many.py: the exact answers of one-by-one searches, on the GPU when torch sees
    one); other options, and an index in shards, one by one."""
    index = search_index()
    index.table.refuse_unmatched(options.filters)
    if options.score != "rank" or options.order != "z" or sharded_index() is not None:
        return [_one_of_many(index, up, down, options) for up, down in queries]
    answers: list[StoredSearch | PortalError] = []
    resolved: list[tuple[int, tuple[SideReport, SideReport]]] = []
    for at, (up, down) in enumerate(queries):
        try:
            resolved.append((at, _resolved(index, up, down, options)))
            answers.append(PortalError("not run"))  # replaced below
        except PortalError as error:
            answers.append(error)
    on_gpu = settings.SEARCH_PATH in ("auto", "gpu") and gpu_backend(index) == "torch"
    found = search_many(
        index,
        [(up.matched, down.matched) for _, (up, down) in resolved],
        mode=options.mode,
        filters=options.filters,
        k=options.limit,
        path="gpu" if on_gpu else "exact",
    )
    for (at, reports), answer in zip(resolved, found, strict=True):
        up, down = queries[at]
        if isinstance(answer, PortalError):
            answers[at] = answer
        else:
            answers[at] = _stored(index, up, down, options, reports, answer)
    return answers


def _one_of_many(
    index: SearchIndex, up: Sequence[str], down: Sequence[str], options: SearchOptions
) -> StoredSearch | PortalError:
    """One query of a batch whose filters were checked once for all of them."""
    try:
        return _searched(index, up, down, options)
    except IndexUnavailable:  # not the query's fault
        raise
    except PortalError as error:
        return error


def _resolved(
    index: SearchIndex, up: Sequence[str], down: Sequence[str], options: SearchOptions
) -> tuple[SideReport, SideReport]:
    """The query's two sides resolved through the gene registry and kept to the index's genes,
    with their hub and poorly-predicted genes; a QueryError when a side is too small."""
    up_report, down_report = resolve_query(
        up=up, down=down, resolver=gene_resolver(), choices=options.choices
    )
    keep_indexed((up_report, down_report), index.has_gene)
    check_sizes(up_report, down_report)
    for report in (up_report, down_report):
        report.hubs = hub_genes(index, report.matched) or []
        report.poorly_predicted = poorly_predicted(index, report.matched) or []
    return up_report, down_report


def _stored(
    index: SearchIndex,
    up: Sequence[str],
    down: Sequence[str],
    options: SearchOptions,
    reports: tuple[SideReport, SideReport],
    answer: SearchResult,
) -> StoredSearch:
    """What was asked and answered, as kept for the permalink (unsaved)."""
    up_report, down_report = reports
    query = {"up": list(up), "down": list(down), **options.as_dict()}
    linked = {**query, "filters": _as_read(options.filters, answer.filters)}
    return StoredSearch(
        id=uuid.uuid4(),
        index_version=index.version,
        query=query,
        report={
            "up": up_report.as_dict(),
            "down": down_report.as_dict(),
            "recall_at_100": index.recall_at_100,
            "path": answer.path,
            "filters": answer.filters,
            "hubs": hub_summary(index, up_report, down_report, linked),
            "accuracy": accuracy_summary(index, up_report, down_report, linked),
        },
        results=[
            _row(rank, row)
            for rank, row in enumerate(
                with_tau(index, with_metadata(answer.rows, index=index), options.score), start=1
            )
        ],
        n_searched=answer.n_searched,
    )


def _as_read(filters: dict[str, Any], report: dict[str, dict[str, object]]) -> dict[str, Any]:
    """The filters with each value as the index read it (a375 -> A375), for the search form,
    whose choices are the index's own values."""
    read: dict[str, Any] = {}
    for name, wanted in filters.items():
        read_as = report.get(name, {}).get("read_as") or {}
        assert isinstance(read_as, dict), "filter_report's read_as"
        read[name] = (
            [read_as.get(str(v), v) for v in wanted] if isinstance(wanted, list) else wanted
        )
    return read


def with_tau(index: SearchIndex, rows: list[dict[str, Any]], score: str) -> list[dict[str, Any]]:
    """Each row with its specificity (tau, -100..100; search/engine/specificity.py): None for the
    cd score (the compendium holds rank-test scores) or an index built without a compendium."""
    found = None
    if score == "rank" and rows:
        z_sum = np.array([row["z_sum"] for row in rows], dtype=np.float64)
        found = row_taus(index, [str(row["sig_id"]) for row in rows], z_sum)
    if found is None:
        return [{**row, "tau": None} for row in rows]
    return [{**row, "tau": float(t)} for row, t in zip(rows, found, strict=True)]


def accuracy_summary(
    index: SearchIndex, up: SideReport, down: SideReport, query: dict[str, Any]
) -> dict[str, Any]:
    """What the results page says of the query genes the model predicts poorly (per-gene r on
    its paired evaluation below POOR), and the query without them; unavailable where the index
    carries no evaluation."""
    if not evaluated(index):
        return {"available": False}
    poor, without = _flagged(up.poorly_predicted, down.poorly_predicted, up, down, query)
    return {"available": True, "threshold": POOR, "n": len(poor), **without}


def hub_summary(
    index: SearchIndex, up: SideReport, down: SideReport, query: dict[str, Any]
) -> dict[str, Any]:
    """What the results page says of the query's hub genes: how many, their share of the query,
    and the query without them (None where the index has no hub fractions)."""
    if index.hub is None:
        return {"available": False}
    hubs, without = _flagged(up.hubs, down.hubs, up, down, query)
    n_query = len(up.matched) + len(down.matched)
    return {
        "available": True,
        "factor": HUB_FACTOR,
        "expected": expected_fraction(index),
        "n": len(hubs),
        "share": len(hubs) / n_query if n_query else 0.0,
        **without,
    }


def _flagged(
    up_items: list[dict[str, object]],
    down_items: list[dict[str, object]],
    up: SideReport,
    down: SideReport,
    query: dict[str, Any],
) -> tuple[set[str], dict[str, Any]]:
    """The genes the report flags on either side, and the search form filled with the query
    without them, its options and filters (`without`: None when none is flagged), with the
    filters the form cannot hold named (`without_lacks`)."""
    flagged = {str(item["gene"]) for item in [*up_items, *down_items]}
    if not flagged:
        return flagged, {"without": None, "without_lacks": []}
    kept_up, kept_down = ([g for g in r.matched if g not in flagged] for r in (up, down))
    lacks = form_filters(query.get("filters") or {})[1]
    return flagged, {"without": search_link(kept_up, kept_down, query), "without_lacks": lacks}


def _row(rank: int, row: dict[str, Any]) -> dict[str, Any]:
    clean = {key: json_value(value) for key, value in row.items()}
    clean["rank"] = rank
    clean["direction"] = "mimic" if clean["score"] >= 0 else "reverse"
    clean["url"] = reverse("search:signature", args=[row["sig_id"]])
    return clean

"""Reads of a batch search: where its files are and what became of each query so far."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings

from search.engine.query_resolution import LEFT_OUT
from search.models import BatchSearch
from search.runtime.index_access import IndexUnavailable, search_index
from search.selectors.searches import filter_text

RESULT_NAME = "results.tsv"


def batch_folder(batch: BatchSearch) -> Path:
    return Path(settings.BATCHES_DIR) / str(batch.id)


def batch_outcomes(batch: BatchSearch) -> list[dict[str, Any]]:
    """Each query (name, n_up, n_down) and what became of it so far: done (False while it
    waits), n_results, error, and the identifiers it could not use (UNRESOLVED)."""
    folder = batch_folder(batch)
    outcomes = []
    for number, query in enumerate(batch.queries):
        record = folder / f"{number:05d}.json"
        done = (folder / f"{number:05d}.tsv").exists()
        try:
            outcome = json.loads(record.read_text(encoding="utf-8")) if done else {}
        except (OSError, ValueError):  # a query finished before outcomes were recorded
            outcome = {}
        outcomes.append(
            {
                "name": query["name"],
                "n_up": len(query["up"]),
                "n_down": len(query["down"]),
                "done": done,
                "n_results": outcome.get("n_results"),
                "error": outcome.get("error", ""),
                **{key: outcome.get(key, []) for key in UNRESOLVED},
            }
        )
    return outcomes


# the identifiers a query could not use, as it gave them
UNRESOLVED = LEFT_OUT


def batch_filters(batch: BatchSearch) -> list[dict[str, Any]]:
    """The batch's filters, each as a reader says it, with the values of it no signature of the
    index has and those read in another case (a filter no value of which matches is refused when
    the batch is posted; these are the partly matched ones)."""
    filters = batch.options.get("filters") or {}
    try:
        report = search_index().table.filter_report(filters) if filters else {}
    except IndexUnavailable:
        report = {}
    return [
        {"filter": filter_text(name, wanted), **report.get(name, {"read_as": {}, "unmatched": []})}
        for name, wanted in filters.items()
    ]

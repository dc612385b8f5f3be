"""Batch searches: many up/down queries from one GMT, run by a Celery task, results as one TSV.

A GMT's sets pair up by name, by the rule of `search.engine.gmt_queries` (the single search's too):
`X_up` with `X_down` (or `X_dn`) make query X; a set without such a suffix is an up-only query. The
task is resumable and idempotent: each query's rows are written to BATCHES_DIR/<id>/NNNNN.tsv (to a
temporary name, then renamed) and a retried or restarted task skips the queries whose file is there;
the final TSV is assembled the same way. Beside each query's rows, NNNNN.json (written first) says
what became of it: the number of results, the identifiers that were unknown, ambiguous or outside
the index, or why it could not run.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from search.engine.errors import PortalError
from search.engine.gmt_queries import GmtPairingError, gmt_queries
from search.engine.query_resolution import QueryError, left_out_as_given
from search.models import BatchSearch, BatchStatus, StoredSearch
from search.runtime.index_access import search_index
from search.selectors.batches import RESULT_NAME, batch_folder
from search.selectors.searches import EXPORT_COLUMNS, export_cells
from search.services.searches import SearchOptions, signature_searches
from transform.io.gmt import GmtFormatError, parse_gmt

# A whole library is one batch: GO Biological Process 2023 is 5,407 up-only sets, MSigDB's GO:BP
# about 7,600; the bound keeps a batch's stored queries and its status answer (every query's
# outcome) bounded.
MAX_QUERIES = 10_000
BLOCK = 256  # queries searched together (search/engine/many.py), then written; progress a block


def batch_queries(text: str) -> list[dict[str, Any]]:
    """The queries of a GMT, in the order their first set appears."""
    try:
        sets = parse_gmt(text, source="GMT")
    except GmtFormatError as error:
        raise QueryError(str(error), field="gmt") from error
    try:
        queries = gmt_queries((gene_set.name, gene_set.genes) for gene_set in sets)
    except GmtPairingError as error:
        raise QueryError(str(error), field="gmt") from error
    if not queries:
        raise QueryError("the GMT holds no gene set", field="gmt")
    if len(queries) > MAX_QUERIES:
        raise QueryError(f"{len(queries)} queries: at most {MAX_QUERIES} per batch", field="gmt")
    return [query.as_dict() for query in queries]


def batch_search_create(*, gmt: str, options: SearchOptions) -> BatchSearch:
    queries = batch_queries(gmt)
    if options.filters:  # refused now, not as every query's error later
        search_index().table.refuse_unmatched(options.filters)
    return BatchSearch.objects.create(
        id=uuid.uuid4(), options=options.as_dict(), queries=queries, n_queries=len(queries)
    )


def batch_search_run(*, batch_id: str) -> BatchSearch:
    """Run every query not yet done, then assemble the TSV; safe to call again at any point."""
    batch = BatchSearch.objects.get(id=batch_id)
    if batch.status == BatchStatus.DONE:
        return batch
    for numbers in batch_search_blocks(batch_id=batch_id, parts=1):
        batch_search_run_queries(batch_id=batch_id, numbers=numbers)
    return batch_search_finish(batch_id=batch_id)


def batch_search_blocks(*, batch_id: str, parts: int) -> list[list[int]]:
    """The batch's queries not yet done, in `parts` shares of whole blocks (for that many
    workers); marks the batch running."""
    batch = BatchSearch.objects.get(id=batch_id)
    BatchSearch.objects.filter(id=batch.id).update(status=BatchStatus.RUNNING)
    folder = batch_folder(batch)
    folder.mkdir(parents=True, exist_ok=True)
    pending = [n for n in range(len(batch.queries)) if not (folder / f"{n:05d}.tsv").exists()]
    BatchSearch.objects.filter(id=batch.id).update(n_done=len(batch.queries) - len(pending))
    blocks = [pending[first : first + BLOCK] for first in range(0, len(pending), BLOCK)]
    shares = max(1, min(parts, len(blocks)))
    return [[n for block in blocks[at::shares] for n in block] for at in range(shares)]


def batch_search_run_queries(*, batch_id: str, numbers: list[int]) -> None:
    """Run these queries of the batch, a block at a time, each written as it finishes (a query
    whose file is there already is skipped: a retried share resumes)."""
    batch = BatchSearch.objects.get(id=batch_id)
    folder = batch_folder(batch)
    options = SearchOptions(**batch.options)
    numbers = [n for n in numbers if not (folder / f"{n:05d}.tsv").exists()]
    for first in range(0, len(numbers), BLOCK):
        block = numbers[first : first + BLOCK]
        asked = [batch.queries[n] for n in block]
        found = signature_searches([(query["up"], query["down"]) for query in asked], options)
        for number, query, answer in zip(block, asked, found, strict=True):
            part = folder / f"{number:05d}.tsv"
            rows, outcome = _outcome(query, answer)
            _write_atomic(part.with_suffix(".json"), json.dumps(outcome))
            _write_atomic(part, rows)
            BatchSearch.objects.filter(id=batch.id).update(n_done=F("n_done") + 1)


def batch_search_finish(*, batch_id: str) -> BatchSearch:
    """Assemble the TSV from every query's rows and mark the batch done."""
    batch = BatchSearch.objects.get(id=batch_id)
    folder = batch_folder(batch)
    missing = [n for n in range(len(batch.queries)) if not (folder / f"{n:05d}.tsv").exists()]
    if missing:
        raise RuntimeError(f"{len(missing)} queries of the batch have no results yet")
    result = folder / RESULT_NAME
    header = "\t".join(("query", *EXPORT_COLUMNS, "error")) + "\n"
    parts = (folder / f"{n:05d}.tsv" for n in range(len(batch.queries)))
    _write_atomic(result, header + "".join(part.read_text() for part in parts))
    with transaction.atomic():
        BatchSearch.objects.filter(id=batch.id).update(
            status=BatchStatus.DONE,
            result_file=str(result),
            finished_at=timezone.now(),
            n_done=len(batch.queries),
        )
    return BatchSearch.objects.get(id=batch.id)


def batch_search_fail(*, batch_id: str, error: str) -> None:
    BatchSearch.objects.filter(id=batch_id).update(status=BatchStatus.FAILED, error=error)


def _outcome(
    query: dict[str, Any], answer: StoredSearch | PortalError
) -> tuple[str, dict[str, Any]]:
    """The query's result rows and its outcome; a query that could not run gives one row with
    the reason."""
    name = _clean(query["name"])
    if isinstance(answer, PortalError):
        row = f"{name}" + "\t" * len(EXPORT_COLUMNS) + f"\t{_clean(str(answer))}\n"
        reports = answer.payload.get("reports")  # a side too small to search: both as resolved
        sides = list(reports.values()) if isinstance(reports, dict) else []
        return row, {"n_results": 0, "error": str(answer), **left_out_as_given(sides)}
    lines = []
    for row in answer.results:
        lines.append("\t".join([name, *map(_clean, export_cells(row)), ""]) + "\n")
    sides = [answer.report["up"], answer.report["down"]]
    outcome = {"n_results": len(lines), "error": "", **left_out_as_given(sides)}
    return "".join(lines), outcome


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ")


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)

"""Celery tasks: take ids or paths, call one selector or service.

Bound to the portal's app (not shared_task): another Celery app made current in the same process
(a client, the conversion workers' app) must not take them over, eager settings and all.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any, TypeVar

from celery import chord
from django.conf import settings

from portal.celery import app
from search.runtime.health import search_index_health
from search.runtime.index_access import search_index
from search.services.batches import (
    batch_search_blocks,
    batch_search_fail,
    batch_search_finish,
    batch_search_run,
    batch_search_run_queries,
)


@app.task(name="search.tasks.search_index_check")
def search_index_check() -> dict[str, Any]:
    """The search index state as this worker sees it, with the worker's host and process."""
    return {**search_index_health(), "host": socket.gethostname(), "pid": os.getpid()}


T = TypeVar("T")
BATCH_TASK = {"bind": True, "acks_late": True, "reject_on_worker_lost": True, "max_retries": 3}


@app.task(name="search.tasks.batch_search_run", **BATCH_TASK)
def batch_search_run_task(self: Any, batch_id: str) -> str:
    """Run one batch search (resumable: finished queries are kept and skipped on a retry).

    With settings.BATCH_WORKERS = W > 1 and more than one block of queries left, the batch is
    split: a chord of W tasks, each a share of whole blocks (batch_search_share), then one that
    assembles the TSV (batch_search_finish). A batch that cannot finish is marked failed with the
    reason, retries spent or not: never left running.
    """
    return _or_failed(self, batch_id, lambda: _run_or_split(batch_id))


def _run_or_split(batch_id: str) -> str:
    if settings.BATCH_WORKERS > 1:
        shares = batch_search_blocks(batch_id=batch_id, parts=settings.BATCH_WORKERS)
        if len(shares) > 1:
            header = [batch_search_share_task.si(batch_id, numbers) for numbers in shares]
            chord(header)(batch_search_finish_task.si(batch_id))
            return "split"
    return str(batch_search_run(batch_id=batch_id).status)


@app.task(name="search.tasks.batch_search_share", **BATCH_TASK)
def batch_search_share_task(self: Any, batch_id: str, numbers: list[int]) -> int:
    """Run a share of a split batch's queries (resumable as a whole batch is)."""
    _or_failed(self, batch_id, lambda: batch_search_run_queries(batch_id=batch_id, numbers=numbers))
    return len(numbers)


@app.task(name="search.tasks.batch_search_finish", **BATCH_TASK)
def batch_search_finish_task(self: Any, batch_id: str) -> str:
    """Assemble a split batch's TSV once every share has run."""
    return _or_failed(self, batch_id, lambda: str(batch_search_finish(batch_id=batch_id).status))


def _or_failed(task: Any, batch_id: str, work: Callable[[], T]) -> T:
    """work(); a disk fault is retried; past the retries, or on any other error, the batch is
    marked failed with the reason and the error raised."""
    try:
        return work()
    except OSError as error:  # a full or unavailable disk: transient, retried
        if task.request.retries >= task.max_retries:
            reason = f"could not be written ({error.strerror or error})"
            tries = f"retried {task.max_retries} times"
            batch_search_fail(batch_id=batch_id, error=f"the batch's files {reason}, {tries}")
            raise
        raise task.retry(exc=error, countdown=settings.BATCH_RETRY_DELAY_SECONDS) from error
    except Exception as error:
        batch_search_fail(batch_id=batch_id, error=str(error))
        raise


@app.task(name="search.tasks.shard_summary", acks_late=True, reject_on_worker_lost=True)
def shard_summary_task(payload: dict[str, Any]) -> dict[str, Any]:
    """This worker's shard's summary of a query (search/engine/shards/)."""
    from search.engine.shards import shard_summary

    return _on_this_shard(shard_summary, payload)


@app.task(name="search.tasks.shard_sums", acks_late=True, reject_on_worker_lost=True)
def shard_sums_task(payload: dict[str, Any]) -> dict[str, Any]:
    """This worker's shard's rank sums of a query's selected signatures."""
    from search.engine.shards import shard_sums

    return _on_this_shard(shard_sums, payload)


@app.task(name="search.tasks.shard_value_sums", acks_late=True, reject_on_worker_lost=True)
def shard_value_sums_task(payload: dict[str, Any]) -> dict[str, Any]:
    """This worker's shard's sums of CD values (the 'cd' score) of a query's selected
    signatures."""
    from search.engine.shards import shard_value_sums

    return _on_this_shard(shard_value_sums, payload)


@app.task(name="search.tasks.shard_cells", acks_late=True, reject_on_worker_lost=True)
def shard_cells_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Cells of this worker's shard's matrices, for a head's gene and signature pages."""
    from search.engine.shards import shard_cells

    return _on_this_shard(shard_cells, payload)


@app.task(name="search.tasks.shard_products", acks_late=True, reject_on_worker_lost=True)
def shard_products_task(payload: dict[str, Any]) -> dict[str, Any]:
    """A signature's centred ranks times this worker's shard's selected signatures (similar)."""
    from search.engine.shards import shard_products

    return _on_this_shard(shard_products, payload)


def _on_this_shard(
    call: Callable[[Any, dict[str, Any]], dict[str, Any]], payload: dict[str, Any]
) -> dict[str, Any]:
    """call(this worker's shard index, payload), packed to travel back (runtime/shards.py)."""
    from search.runtime.shards import packed

    answer = call(search_index(settings.SEARCH_SHARD_DIR), payload)
    return packed(answer, blobs=payload.get("blobs", True))

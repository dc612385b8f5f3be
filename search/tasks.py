"""Celery tasks: take ids or paths, call one selector or service.

Bound to the portal's app (not shared_task): another Celery app made current in the same process
(a client, the conversion workers' app) must not take them over, eager settings and all.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from django.conf import settings

from portal.celery import app
from search.runtime.health import search_index_health
from search.runtime.index_access import search_index
from search.services.batches import batch_search_fail, batch_search_run


@app.task(name="search.tasks.search_index_check")
def search_index_check() -> dict[str, Any]:
    """The search index state as this worker sees it, with the worker's host and process."""
    return {**search_index_health(), "host": socket.gethostname(), "pid": os.getpid()}


@app.task(
    name="search.tasks.batch_search_run",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=3,
)
def batch_search_run_task(self: Any, batch_id: str) -> str:
    """Run one batch search (resumable: finished queries are kept and skipped on a retry).

    A batch that cannot finish is marked failed with the reason, retries spent or not: never left
    running.
    """
    try:
        batch = batch_search_run(batch_id=batch_id)
    except OSError as error:  # a full or unavailable disk: transient, retried
        if self.request.retries >= self.max_retries:
            reason = f"could not be written ({error.strerror or error})"
            tries = f"retried {self.max_retries} times"
            batch_search_fail(batch_id=batch_id, error=f"the batch's files {reason}, {tries}")
            raise
        raise self.retry(exc=error, countdown=settings.BATCH_RETRY_DELAY_SECONDS) from error
    except Exception as error:
        batch_search_fail(batch_id=batch_id, error=str(error))
        raise
    return str(batch.status)


@app.task(name="search.tasks.shard_summary", acks_late=True, reject_on_worker_lost=True)
def shard_summary_task(payload: dict[str, Any]) -> dict[str, Any]:
    """This worker's shard's summary of a query (search/engine/shards.py)."""
    from search.engine.shards import shard_summary

    return shard_summary(search_index(settings.SEARCH_SHARD_DIR), payload)


@app.task(name="search.tasks.shard_sums", acks_late=True, reject_on_worker_lost=True)
def shard_sums_task(payload: dict[str, Any]) -> dict[str, Any]:
    """This worker's shard's rank sums of a query's selected signatures."""
    from search.engine.shards import shard_sums

    return shard_sums(search_index(settings.SEARCH_SHARD_DIR), payload)

"""Imported by a test's worker (`celery worker -I tests.portal.shards_from_a_task`): a task that
searches an index through its shard queues from inside a worker, as a batch search's task does in
a sharded deployment (there Celery refuses, by default, to wait on another task's result)."""

from __future__ import annotations

from typing import Any

from portal.celery import app
from search.engine.index import SearchIndex
from search.engine.shards import ShardedIndex
from search.runtime.shards import QueueShard


@app.task(name="tests.portal.search_through_shards")
def search_through_shards(
    index: str, queue: str, up: list[str], down: list[str], attempt_s: float
) -> list[Any]:
    shards = [QueueShard(n, 60, queue, attempt_s=attempt_s) for n in (0, 1)]
    found = ShardedIndex(SearchIndex.open(index), shards).search(up, down, k=20)
    return found.table["sig_id"].tolist()

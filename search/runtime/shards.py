"""The shards a web process searches through Celery (settings.SEARCH_SHARDS > 0).

Each shard n is a queue, shard-n, served by one or more workers started with SEARCH_SHARD_DIR set to
that shard's index (`celery -A portal worker -Q shard-n`; docs/operations.md). A call is a task
sent to the queue and waited for SEARCH_SHARD_TIMEOUT_S at most. The tasks are acknowledged late
and rejected when their worker is lost, so a message a dead worker had not taken goes to another
worker of the queue; one that no worker answers in time is a ShardUnavailableError (503 with the
shard and the reason): the search is not answered from the other shards alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from django.conf import settings

from portal.celery import app
from search.engine.shards import ShardedIndex, ShardUnavailableError
from search.runtime.index_access import search_index


@dataclass(frozen=True)
class QueueShard:
    """Shard `number`, asked through its Celery queue."""

    number: int
    timeout_s: float
    queue: str = "shard-{}"  # .format(number)
    client: Celery = field(default=app)

    def summary(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._ask("search.tasks.shard_summary", payload)

    def sums(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._ask("search.tasks.shard_sums", payload)

    def _ask(self, task: str, payload: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue.format(self.number)
        try:
            result = self.client.send_task(task, args=[payload], queue=queue)
            answer: dict[str, Any] = result.get(timeout=self.timeout_s)
        except Exception as error:  # a timeout, a lost worker, a broker away: named, never hidden
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            raise ShardUnavailableError(
                f"shard {self.number} (queue {queue}) did not answer within "
                f"{self.timeout_s:g} s ({reason})",
                shard=self.number,
            ) from error
        return answer


def sharded_index() -> ShardedIndex | None:
    """The index as K shards when settings.SEARCH_SHARDS = K > 0 (the local index coordinates:
    its gene space and metadata), else None."""
    if settings.SEARCH_SHARDS <= 0:
        return None
    timeout = float(settings.SEARCH_SHARD_TIMEOUT_S)
    queue = settings.SEARCH_SHARD_QUEUE
    shards = [QueueShard(number, timeout, queue) for number in range(settings.SEARCH_SHARDS)]
    return ShardedIndex(search_index(), shards)

"""The shards a web process searches through Celery (settings.SEARCH_SHARDS > 0).

Each shard n is a queue, shard-n, served by one or more workers started with SEARCH_SHARD_DIR set to
that shard's index (`celery -A portal worker -Q shard-n`; docs/operations.md). A call is a task
sent to the queue and waited for SEARCH_SHARD_TIMEOUT_S at most.

A worker killed in the middle of a query never answers, and the message it had taken stays with
the broker until the broker's visibility timeout. So a call unanswered after
SEARCH_SHARD_ATTEMPT_S is sent again, and another replica of the queue takes it; the first answer
of any attempt is the shard's. Each message expires with the call, so one redelivered after it
is dropped by the worker. A call that no attempt answers in time is a ShardUnavailableError (503
with the shard and the reason): the search is not answered from the other shards alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult
from django.conf import settings

from portal.celery import app
from search.engine.shards import ShardedIndex, ShardUnavailableError
from search.runtime.index_access import search_index

POLL_S = 0.005  # how often the attempts' results are looked at


@dataclass(frozen=True)
class QueueShard:
    """Shard `number`, asked through its Celery queue: each call sent again every `attempt_s`
    until one attempt answers or `timeout_s` has passed."""

    number: int
    timeout_s: float
    queue: str = "shard-{}"  # .format(number)
    client: Celery = field(default=app)
    attempt_s: float = 5.0

    def summary(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._ask("search.tasks.shard_summary", payload)

    def sums(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._ask("search.tasks.shard_sums", payload)

    def value_sums(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._ask("search.tasks.shard_value_sums", payload)

    def _ask(self, task: str, payload: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue.format(self.number)
        deadline = time.monotonic() + self.timeout_s
        attempts: list[AsyncResult] = []
        try:
            while (now := time.monotonic()) < deadline:
                attempts.append(
                    self.client.send_task(task, args=[payload], queue=queue, expires=self.timeout_s)
                )
                answer = _first_answer(attempts, min(deadline, now + self.attempt_s))
                if answer is not None:
                    return answer
            reason = f"{len(attempts)} attempt{'s' if len(attempts) != 1 else ''} unanswered"
        except Exception as error:  # a failed task, a broker away: named, never hidden
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            raise self._unavailable(queue, reason) from error
        finally:
            _forget(attempts)
        raise self._unavailable(queue, reason)

    def _unavailable(self, queue: str, reason: str) -> ShardUnavailableError:
        return ShardUnavailableError(
            f"shard {self.number} (queue {queue}) did not answer within {self.timeout_s:g} s "
            f"({reason})",
            shard=self.number,
        )


def _first_answer(attempts: list[AsyncResult], until: float) -> dict[str, Any] | None:
    """The answer of the first of `attempts` to finish before `until` (monotonic), or None; a
    failed attempt raises its error. A single attempt, the usual case, is waited for through the
    result backend's own notification; several are looked at every POLL_S."""
    if len(attempts) == 1:
        try:
            answer: dict[str, Any] = attempts[0].get(timeout=max(0.0, until - time.monotonic()))
        except CeleryTimeoutError:
            return None
        return answer
    while True:
        for attempt in attempts:
            if attempt.ready():
                found: dict[str, Any] = attempt.get(timeout=POLL_S, propagate=True)
                return found
        if time.monotonic() >= until:
            return None
        time.sleep(POLL_S)


def _forget(attempts: list[AsyncResult]) -> None:
    """Delete the attempts' stored answers from the result backend: a shard's answer is read once,
    and it can be megabytes (its rank sums), which the backend would otherwise keep for Celery's
    result_expires (a day). An attempt still running when the call ends stores its answer later;
    that one waits for the expiry."""
    for attempt in attempts:
        try:
            attempt.forget()
        except Exception:  # the backend away: the answer expires on its own
            continue


def sharded_index() -> ShardedIndex | None:
    """The index as K shards when settings.SEARCH_SHARDS = K > 0 (the local index coordinates:
    its gene space and metadata), else None."""
    if settings.SEARCH_SHARDS <= 0:
        return None
    timeout, attempt = (
        float(settings.SEARCH_SHARD_TIMEOUT_S),
        float(settings.SEARCH_SHARD_ATTEMPT_S),
    )
    queue = settings.SEARCH_SHARD_QUEUE
    shards = [
        QueueShard(number, timeout, queue, attempt_s=attempt)
        for number in range(settings.SEARCH_SHARDS)
    ]
    return ShardedIndex(search_index(), shards)

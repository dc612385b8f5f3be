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
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from celery import Celery
from celery.backends.redis import RedisBackend
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult
from django.conf import settings

from portal.celery import app
from search.engine.errors import IndexArtifactError
from search.engine.shards import (
    ShardedIndex,
    ShardUnavailableError,
    array_of,
    array_parts,
    decoded,
    encoded,
)
from search.runtime.index_access import search_index

if TYPE_CHECKING:
    from search.engine.index import SearchIndex

POLL_S = 0.005  # how often the attempts' results are looked at
BLOB_BYTES = 1 << 16  # arrays this large travel through Redis as bytes (packed)
BLOB_PREFIX = "shard-answer:"


@dataclass(frozen=True)
class QueueShard:
    """Shard `number`, asked through its Celery queue: each call sent again every `attempt_s`
    until one attempt answers or `timeout_s` has passed."""

    number: int
    timeout_s: float
    queue: str = "shard-{}"  # .format(number)
    client: Celery = field(default=app)
    attempt_s: float = 5.0
    blobs: bool = True  # large arrays back through Redis as bytes (packed); False: all JSON

    def summary(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._call("search.tasks.shard_summary", payload)

    def sums(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._call("search.tasks.shard_sums", payload)

    def value_sums(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._call("search.tasks.shard_value_sums", payload)

    def cells(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._call("search.tasks.shard_cells", payload)

    def products(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._call("search.tasks.shard_products", payload)

    def _call(self, task: str, payload: dict[str, Any]) -> dict[str, Any]:
        answer = self._ask(task, {**payload, "blobs": self.blobs})
        try:
            return unpacked(answer, _redis(self.client))
        except LookupError as error:
            raise self._unavailable(self.queue.format(self.number), str(error)) from error

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
            raise self._unavailable(queue, reason, failed=True) from error
        finally:
            _forget(attempts)
        raise self._unavailable(queue, reason)

    def _unavailable(
        self, queue: str, reason: str, *, failed: bool = False
    ) -> ShardUnavailableError:
        what = "failed" if failed else f"did not answer within {self.timeout_s:g} s"
        return ShardUnavailableError(
            f"shard {self.number} (queue {queue}) {what} ({reason})", shard=self.number
        )


def _first_answer(attempts: list[AsyncResult], until: float) -> dict[str, Any] | None:
    """The answer of the first of `attempts` to finish before `until` (monotonic), or None; a
    failed attempt raises its error. A single attempt, the usual case, is waited for through the
    result backend's own notification; several are looked at every POLL_S. A batch search's task
    waits here inside a worker, which Celery refuses by default (a task waiting on a task of its
    own pool can deadlock it): the shard tasks run in the shard workers, on their own queues, so
    the wait is allowed (a worker must not serve both a shard queue and the batches)."""
    if len(attempts) == 1:
        try:
            answer: dict[str, Any] = attempts[0].get(
                timeout=max(0.0, until - time.monotonic()), disable_sync_subtasks=False
            )
        except CeleryTimeoutError:
            return None
        return answer
    while True:
        for attempt in attempts:
            if attempt.ready():
                found: dict[str, Any] = attempt.get(
                    timeout=POLL_S, propagate=True, disable_sync_subtasks=False
                )
                return found
        if time.monotonic() >= until:
            return None
        time.sleep(POLL_S)


def packed(
    answer: Mapping[str, Any], client: Celery = app, *, blobs: bool = True
) -> dict[str, Any]:
    """A shard's answer made to travel as a task's result: with a Redis result backend (and
    `blobs`, as the call's payload asks) each array of BLOB_BYTES or more goes to Redis as its
    bytes, under a key of its own that expires with the call (SEARCH_SHARD_TIMEOUT_S), and the
    result names the key; the rest is JSON, arrays in base64 (shards.encoded). Base64 in JSON is
    a third larger than the bytes and costs about 2.5 ms a MB each way to code, on the
    coordinator one shard after another."""
    redis = _redis(client) if blobs else None
    large = {
        name: value
        for name, value in answer.items()
        if redis is not None and isinstance(value, np.ndarray) and value.nbytes >= BLOB_BYTES
    }
    out = encoded({name: value for name, value in answer.items() if name not in large})
    if large and redis is not None:
        expiry = max(1, int(settings.SEARCH_SHARD_TIMEOUT_S))
        with redis.pipeline(transaction=False) as pipe:
            for name, value in large.items():
                layout, raw = array_parts(value)
                key = f"{BLOB_PREFIX}{uuid.uuid4().hex}"
                pipe.set(key, raw, ex=expiry)
                out[name] = {**layout, "blob": key}
            pipe.execute()
    return out


def unpacked(answer: Mapping[str, Any], redis: Any) -> dict[str, Any]:
    """The arrays of an answer `packed` gave; its blobs taken from Redis and deleted. A LookupError
    names a blob that is not there (expired, or another Redis than the shard's)."""
    keys = {name: value["blob"] for name, value in answer.items() if _is_blob(value)}
    rest = decoded({name: value for name, value in answer.items() if name not in keys})
    if not keys:
        return rest
    if redis is None:
        raise LookupError(
            "the shard sent its arrays through Redis, and no Redis result backend is set"
        )
    with redis.pipeline(transaction=False) as pipe:
        for key in keys.values():
            pipe.getdel(key)
        raws = pipe.execute()
    for (name, key), raw in zip(keys.items(), raws, strict=True):
        if raw is None:
            raise LookupError(f"the shard's {name} (Redis key {key}) was not there: expired?")
        rest[name] = array_of(answer[name], raw)
    return rest


def _is_blob(value: Any) -> bool:
    return isinstance(value, Mapping) and "blob" in value


def _redis(client: Celery) -> Any:
    """The Redis client of the app's result backend, or None when its backend is not Redis (the
    blobs need Redis 6.2 or later, for GETDEL)."""
    backend = client.backend
    return backend.client if isinstance(backend, RedisBackend) else None


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
    """The index as K shards when settings.SEARCH_SHARDS = K > 0, else None. The index this
    process serves coordinates (its gene space and metadata): the unsplit index, or its head,
    whose ShardedIndex was made when it was opened (`attach_queue_shards`)."""
    if settings.SEARCH_SHARDS <= 0:
        return None
    index = search_index()
    return index.sharded or ShardedIndex(index, queue_shards())


def queue_shards() -> list[QueueShard]:
    """The K shard queues of settings.SEARCH_SHARDS, with its timeouts."""
    timeout, attempt = (
        float(settings.SEARCH_SHARD_TIMEOUT_S),
        float(settings.SEARCH_SHARD_ATTEMPT_S),
    )
    queue = settings.SEARCH_SHARD_QUEUE
    return [
        QueueShard(number, timeout, queue, attempt_s=attempt)
        for number in range(settings.SEARCH_SHARDS)
    ]


def attach_queue_shards(head: SearchIndex) -> None:
    """A head just opened reads its matrices and searches through the shard queues; an error
    when SEARCH_SHARDS is not the number of shards its matrices are in."""
    unservable = head_setting_problem(head.n_shards)
    if unservable:
        raise IndexArtifactError(unservable)
    ShardedIndex(head, queue_shards())


def head_setting_problem(k: int) -> str:
    """Why a head whose matrices are in k shards cannot be served with this process's
    SEARCH_SHARDS ("" when it can): what the web process (when it opens the head) and the health
    check (from its index.json alone) both say."""
    if k == settings.SEARCH_SHARDS:
        return ""
    return (
        f"a head of {k} shards, served with SEARCH_SHARDS={settings.SEARCH_SHARDS}: set "
        f"SEARCH_SHARDS={k}, with a worker on each of the queues "
        f"{settings.SEARCH_SHARD_QUEUE.format(0)} to {settings.SEARCH_SHARD_QUEUE.format(k - 1)}"
    )

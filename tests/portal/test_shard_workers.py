"""An index in shards served by real Celery workers through the running Redis: shard 0 on one
worker, shard 1 on two (replicas). The sharded search answers as the unsplit index; with one
replica of shard 1 killed the other answers; with both killed the search fails within its timeout,
naming the shard, rather than answering from shard 0 alone. A replica killed in the middle of a
query: the call is sent again and the other replica answers it. A search made from inside a task
of another worker (as a batch search's) waits on the shards there too."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from celery import Celery

from search.engine.index import SearchIndex
from search.engine.shards import HEAD, ShardedIndex, ShardUnavailableError, write_shards
from search.runtime.shards import QueueShard
from tests.portal.conftest import celery_worker
from tests.portal.test_batch_worker import _small_index

pytestmark = pytest.mark.services


def _two_shards(
    folder: Path,
) -> tuple[SearchIndex, str, dict[int, dict[str, str]], tuple[list[str], list[str]]]:
    """A small index, its two shards' queue name pattern, each shard worker's environment, and a
    query (up, down)."""
    genes = _small_index(folder / "index")
    whole = SearchIndex.open(folder / "index")
    directories = write_shards(whole, folder / "shards", 2)
    env = {"DATA_DIR": str(folder), "DATABASE_URL": f"sqlite:///{folder / 'unused.sqlite3'}"}
    shard = {n: {"SEARCH_SHARD_DIR": str(directories[n]), **env} for n in (0, 1)}
    queue = f"test-{uuid.uuid4().hex[:8]}-shard-{{}}"
    return whole, queue, shard, (list(genes[:10]), list(genes[10:20]))


class Recording:
    """A Celery client that notes the id of every task it sends."""

    def __init__(self, client: Celery) -> None:
        self.client, self.ids = client, list[str]()

    def send_task(self, *args: Any, **kwargs: Any) -> Any:
        result = self.client.send_task(*args, **kwargs)
        self.ids.append(result.id)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_shard_workers_answer_as_one_index_and_a_lost_shard_fails_the_search(
    tmp_path: Path, celery_client: Celery
) -> None:
    whole, queue, shard, (up, down) = _two_shards(tmp_path)
    expected = whole.search(up, down, k=20, path="exact").table
    with (
        celery_worker(tmp_path, queue.format(0), CELERY_RESULT_EXPIRES="45", **shard[0]),
        celery_worker(tmp_path, queue.format(1), **shard[1]) as a,
        celery_worker(tmp_path, queue.format(1), **shard[1]) as b,
        celery_worker(tmp_path, f"crossed-{queue}".format(0), **shard[1]),
    ):
        sent = Recording(celery_client)
        patient = ShardedIndex(whole, [QueueShard(n, 60, queue, sent) for n in (0, 1)])
        pd.testing.assert_frame_equal(patient.search(up, down, k=20).table, expected)
        # Warm now (a first call opens the shard and compiles, and may outlast an attempt, whose
        # late answer is stored after the call), each answer is read once and deleted.
        sent.ids.clear()
        pd.testing.assert_frame_equal(patient.search(up, down, k=20).table, expected)
        redis = celery_client.backend.client
        assert sent.ids
        assert not any(redis.exists(f"celery-task-meta-{task}") for task in sent.ids)
        # an answer no one reads (a task sent without QueueShard) expires as the worker was told
        part = {"index": whole.version, "of": 2, "n": whole.n_signatures, "number": 0}
        payload = {"up": up, "down": down, "mode": "both", "filters": {}, "k": 20, "part": part}
        unread = celery_client.send_task(
            "search.tasks.shard_sums", args=[payload], queue=queue.format(0)
        )
        unread.get(timeout=60)
        assert 0 < redis.ttl(f"celery-task-meta-{unread.id}") <= 45
        unread.forget()
        # a worker started on shard 0's queue with shard 1's folder refuses: no search answers
        crossed = [QueueShard(0, 30, f"crossed-{queue}", celery_client), patient.shards[1]]
        with pytest.raises(ShardUnavailableError, match="asked for shard 0 of 2") as refused:
            ShardedIndex(whole, crossed).search(up, down, k=20)
        assert "shard 0 (queue" in str(refused.value)  # the queue whose worker refused
        assert "failed (ShardMismatchError" in str(refused.value)
        assert "this one is shard 1 of 2" in str(refused.value)
        a.process.kill()  # one replica of shard 1 lost: the other takes its queue
        a.process.wait()
        pd.testing.assert_frame_equal(patient.search(up, down, k=20).table, expected)
        b.process.kill()  # shard 1 lost
        b.process.wait()
        quick = ShardedIndex(whole, [QueueShard(n, 3, queue, celery_client) for n in (0, 1)])
        with pytest.raises(ShardUnavailableError, match=r"shard 1 \(queue .*\) did not answer"):
            quick.search(up, down, k=20)


def test_a_head_reads_its_matrices_from_the_shard_workers(
    tmp_path: Path, celery_client: Celery
) -> None:
    """The head's gene rows (at scale megabytes, which go through Redis as bytes), signature pages,
    similar signatures and searches through real workers equal the unsplit index's."""
    whole, queue, shard, (up, down) = _two_shards(tmp_path)
    head = SearchIndex.open(tmp_path / "shards" / HEAD)
    sig_id = str(whole.table.sig_ids[whole.n_signatures - 3])
    with (
        celery_worker(tmp_path, queue.format(0), **shard[0]),
        celery_worker(tmp_path, queue.format(1), **shard[1]),
    ):
        ShardedIndex(head, [QueueShard(n, 60, queue, celery_client) for n in (0, 1)])
        for gene in (up[0], down[-1]):
            found, alone = head.gene_values(gene), whole.gene_values(gene)
            for name in alone:
                np.testing.assert_array_equal(found[name], alone[name], strict=True)
        assert head.signature(sig_id, n=10) == whole.signature(sig_id, n=10)
        assert head.similar(sig_id, k=7) == whole.similar(sig_id, k=7, path="exact")
        assert whole.faiss is not None  # the fast mode: each shard rescores its candidates
        fast = whole.similar(sig_id, k=7, path="fast")
        assert head.similar(sig_id, k=7, path="fast") == fast
        expected = whole.search(up, down, k=20, path="exact").table
        pd.testing.assert_frame_equal(head.search(up, down, k=20).table, expected)


@pytest.mark.parametrize("attempt_s", [60.0, 0.05])  # one attempt waited on, or several polled
def test_a_task_in_another_worker_searches_through_the_shards(
    tmp_path: Path, celery_client: Celery, attempt_s: float
) -> None:
    """A batch search's task runs in a worker and asks the shard queues from there: waiting on
    their answers inside a task (which Celery refuses by default) works, one attempt or several."""
    whole, queue, shard, (up, down) = _two_shards(tmp_path)
    expected = whole.search(up, down, k=20, path="exact").table["sig_id"].tolist()
    caller = f"caller-{uuid.uuid4().hex[:8]}"
    with (
        celery_worker(tmp_path, queue.format(0), **shard[0]),
        celery_worker(tmp_path, queue.format(1), **shard[1]),
        celery_worker(tmp_path, caller, include="tests.portal.shards_from_a_task", **shard[0]),
    ):
        args = [str(tmp_path / "index"), queue, up, down, attempt_s]
        asked = celery_client.send_task("tests.portal.search_through_shards", args, queue=caller)
        assert asked.get(timeout=120) == expected


def test_a_replica_killed_in_the_middle_of_a_query_is_replaced_by_another(
    tmp_path: Path, celery_client: Celery
) -> None:
    whole, queue, shard, (up, down) = _two_shards(tmp_path)
    expected = whole.search(up, down, k=20, path="exact").table
    started = tmp_path / "slow-replica-started"
    answers: list[pd.DataFrame] = []
    with (
        celery_worker(tmp_path, queue.format(0), **shard[0]),
        celery_worker(
            tmp_path,
            queue.format(1),
            include="tests.portal.slow_shard",
            SLOW_SHARD_STARTED=str(started),
            **shard[1],
        ) as slow,
    ):
        shards = [QueueShard(n, 90, queue, celery_client, attempt_s=4) for n in (0, 1)]
        sharded = ShardedIndex(whole, shards)
        search = threading.Thread(
            target=lambda: answers.append(sharded.search(up, down, k=20).table)
        )
        search.start()
        for _ in range(600):  # the slow replica has taken shard 1's call and is computing it
            if started.exists():
                break
            slow.check_alive()
            time.sleep(0.1)
        assert started.exists(), "the slow replica never started the query"
        slow.process.kill()  # killed in the middle of the query
        slow.process.wait()
        with celery_worker(tmp_path, queue.format(1), **shard[1]):
            search.join(timeout=90)
        assert not search.is_alive(), "the search did not finish"
    assert len(answers) == 1
    pd.testing.assert_frame_equal(answers[0], expected)

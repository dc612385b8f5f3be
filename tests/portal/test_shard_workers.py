"""An index in shards served by real Celery workers through the running Redis: shard 0 on one
worker, shard 1 on two (replicas). The sharded search answers as the unsplit index; with one
replica of shard 1 killed the other answers; with both killed the search fails within its timeout,
naming the shard, rather than answering from shard 0 alone."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest
from celery import Celery

from search.engine.index import SearchIndex
from search.engine.shards import ShardedIndex, ShardUnavailableError, write_shards
from search.runtime.shards import QueueShard
from tests.portal.conftest import celery_worker
from tests.portal.test_batch_worker import _small_index

pytestmark = pytest.mark.services


def test_shard_workers_answer_as_one_index_and_a_lost_shard_fails_the_search(
    tmp_path: Path, celery_client: Celery
) -> None:
    genes = _small_index(tmp_path / "index")
    whole = SearchIndex.open(tmp_path / "index")
    directories = write_shards(whole, tmp_path / "shards", 2)
    queue = f"test-{uuid.uuid4().hex[:8]}-shard-{{}}"
    env = {"DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}"}
    up, down = genes[:10], genes[10:20]
    expected = whole.search(up, down, k=20, path="exact").table
    with (
        celery_worker(tmp_path, queue.format(0), SEARCH_SHARD_DIR=str(directories[0]), **env),
        celery_worker(tmp_path, queue.format(1), SEARCH_SHARD_DIR=str(directories[1]), **env) as a,
        celery_worker(tmp_path, queue.format(1), SEARCH_SHARD_DIR=str(directories[1]), **env) as b,
    ):
        patient = ShardedIndex(whole, [QueueShard(n, 60, queue, celery_client) for n in (0, 1)])
        pd.testing.assert_frame_equal(patient.search(up, down, k=20).table, expected)
        a.process.kill()  # one replica of shard 1 lost: the other takes its queue
        a.process.wait()
        pd.testing.assert_frame_equal(patient.search(up, down, k=20).table, expected)
        b.process.kill()  # shard 1 lost
        b.process.wait()
        quick = ShardedIndex(whole, [QueueShard(n, 3, queue, celery_client) for n in (0, 1)])
        with pytest.raises(ShardUnavailableError, match=r"shard 1 \(queue .*\) did not answer"):
            quick.search(up, down, k=20)

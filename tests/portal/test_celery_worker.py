"""A real Celery task through the running Redis to a worker that the test starts and stops."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from tests.portal.conftest import Worker, celery_worker

pytestmark = pytest.mark.services


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[tuple[Worker, Path]]:
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    database = f"sqlite:///{tmp_path / 'worker.sqlite3'}"
    with celery_worker(
        tmp_path, DATA_DIR=str(tmp_path), SEARCH_INDEX_DIR=str(index_dir), DATABASE_URL=database
    ) as started:
        yield started, index_dir


def test_a_task_sent_through_redis_runs_in_the_worker(
    worker: tuple[Worker, Path], celery_client: Celery
) -> None:
    started, index_dir = worker
    manifest = {"format_version": 1, "n_signatures": 7, "gene_space": "demo", "version": "w1"}
    (index_dir / "index.json").write_text(json.dumps(manifest))
    result = celery_client.send_task("search.tasks.search_index_check", queue=started.queue)
    answer = result.get(timeout=60)
    assert answer["state"] == "ready"
    assert answer["n_signatures"] == 7
    assert answer["path"] == str(index_dir)
    assert answer["pid"] != os.getpid()

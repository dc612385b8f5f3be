"""A real Celery task through the running Redis to a worker that the test starts and stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from tests.conftest import REDIS_URL, REPO

pytestmark = pytest.mark.services


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": "worker-test",
        "DATA_DIR": str(tmp_path),
        "SEARCH_INDEX_DIR": str(index_dir),
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'worker.sqlite3'}"  # required outside DEBUG
    command = [
        sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "-Q", queue,
        "-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "--loglevel=INFO",
    ]  # fmt: skip
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield queue, index_dir
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    assert process.returncode is not None


def test_a_task_sent_through_redis_runs_in_the_worker(worker: tuple[str, Path]) -> None:
    queue, index_dir = worker
    manifest = {"format_version": 1, "n_signatures": 7, "gene_space": "demo", "version": "w1"}
    (index_dir / "index.json").write_text(json.dumps(manifest))
    client = Celery(broker=REDIS_URL, backend=REDIS_URL, set_as_current=False)
    try:
        result = client.send_task("search.tasks.search_index_check", queue=queue)
        answer = result.get(timeout=60)
    finally:
        client.close()
    assert answer["state"] == "ready"
    assert answer["n_signatures"] == 7
    assert answer["path"] == str(index_dir)
    assert answer["pid"] != os.getpid()

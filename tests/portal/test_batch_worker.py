"""The batch search task on a real worker, sent through the running Redis: it runs to the end,
retries a write the disk refuses and resumes where it stopped, fails on what no retry mends, and
gives up after its retries with the batch marked failed, not left running.

The worker and this process share one database, of the suite's kind (a SQLite file, or a database
of its own on the suite's PostgreSQL server), migrated and loaded with the gene registry by
manage.py as `make setup-db` does; the worker searches a small real index (real gene symbols,
generated signatures). The faults are real ones, the worker's code untouched: a folder where the
worker writes a file, a file where it makes a folder, the index moved away.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
import pandas as pd
import psycopg
import pytest
from celery import Celery
from celery.result import AsyncResult
from celery.states import READY_STATES, RETRY
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import override_settings

from search.engine.build import build_index
from search.engine.sources import FrameSource
from search.models import BatchSearch, BatchStatus
from search.selectors.batches import RESULT_NAME, batch_folder, batch_outcomes
from search.selectors.examples import example_queries
from search.services.batches import batch_search_create
from search.services.searches import SearchOptions
from search.tasks import batch_search_run_task
from tests.conftest import REPO
from tests.engine.conftest import TEST_BUILD, signature_metadata
from tests.engine.reference import structured_signatures
from tests.portal.conftest import Worker, celery_worker, portal_environment

pytestmark = pytest.mark.services

SHARED = "shared"  # this process's alias of the database it shares with the worker
LIMIT = 5  # results per query
WAIT_S = 60  # the most a task may take before the test gives up on it


@dataclass(frozen=True)
class BatchWorker:
    worker: Worker
    index: Path  # the worker's SEARCH_INDEX_DIR
    genes: list[str]  # the index's genes, real symbols that the registry resolves


class SharedDatabaseRouter:
    """Every query of this process goes to the database the worker uses."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        return SHARED

    db_for_write = db_for_read


@contextmanager
def _new_database(folder: Path) -> Iterator[str]:
    """The URL of an empty database beside the suite's: a SQLite file, or one more database on the
    suite's PostgreSQL server (dropped afterwards)."""
    engine = settings.DATABASES[DEFAULT_DB_ALIAS]["ENGINE"]
    if engine.endswith("sqlite3"):
        yield f"sqlite:///{folder / 'shared.sqlite3'}"
        return
    if not engine.endswith("postgresql"):
        pytest.skip(f"a database shared with the worker is SQLite or PostgreSQL, not {engine}")
    name = f"portal_worker_{uuid.uuid4().hex[:8]}"
    suite = urlsplit(settings.DATABASE_URL)
    server = suite._replace(path="/postgres").geturl()
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield suite._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _opened_here(url: str) -> Iterator[None]:
    """The database at `url` open in this process as SHARED, for the ORM and the services."""
    configured = connections.configure_settings({DEFAULT_DB_ALIAS: dj_database_url.parse(url)})
    connections.settings[SHARED] = configured[DEFAULT_DB_ALIAS]  # with Django's defaults
    try:
        yield
    finally:
        connections[SHARED].close()
        del connections[SHARED]
        del connections.settings[SHARED]


def _small_index(directory: Path) -> list[str]:
    """A real index of 200 generated signatures over the first example query's genes."""
    example = example_queries()[0]
    genes = sorted(set(example.up) | set(example.down))
    values = pd.DataFrame(structured_signatures(len(genes), 200, seed=7), index=genes)
    build_index(FrameSource(values, signature_metadata(200, seed=7)), directory, TEST_BUILD)
    return genes


@pytest.fixture(scope="module")
def batch_worker(
    tmp_path_factory: pytest.TempPathFactory, django_db_blocker: Any
) -> Iterator[BatchWorker]:
    """The worker, with its database set up as `make setup-db` does, and this process's ORM on the
    same database and batches folder."""
    folder = tmp_path_factory.mktemp("batch-worker")
    index, batches = folder / "index", folder / "batches"
    genes = _small_index(index)
    with _new_database(folder) as url:
        env = {
            "DATA_DIR": str(folder),
            "DATABASE_URL": url,
            "SEARCH_INDEX_DIR": str(index),
            "BATCHES_DIR": str(batches),
            "BATCH_RETRY_DELAY_SECONDS": "1",
        }
        for command in ("migrate", "load_genes", "load_signatures"):  # as build_search_index
            subprocess.run(
                [sys.executable, "manage.py", command, "-v", "0"],
                cwd=REPO,
                env=portal_environment(**env),
                check=True,
                timeout=300,
            )
        routed = override_settings(DATABASE_ROUTERS=[SharedDatabaseRouter()], BATCHES_DIR=batches)
        with (
            django_db_blocker.unblock(),
            _opened_here(url),
            routed,
            celery_worker(folder, **env) as worker,
        ):
            yield BatchWorker(worker, index, genes)


def _batch(genes: list[str]) -> BatchSearch:
    """A batch of three queries (an up/down pair, an up-only set with an unknown symbol, a set too
    small to search), created as the batch API creates it."""
    gmt = "\n".join(
        [
            "A_up\tx\t" + "\t".join(genes[:10]),
            "A_down\tx\t" + "\t".join(genes[10:20]),
            "B\tx\t" + "\t".join([*genes[30:40], "NOTAGENE1"]),
            "SMALL\tx\t" + genes[50],
        ]
    )
    return batch_search_create(gmt=gmt, options=SearchOptions(limit=LIMIT))


def _send(batch_worker: BatchWorker, client: Celery, batch: BatchSearch) -> AsyncResult:
    return client.send_task(
        "search.tasks.batch_search_run", args=[str(batch.id)], queue=batch_worker.worker.queue
    )


def _state(result: AsyncResult, worker: Worker, until: frozenset[str] = READY_STATES) -> str:
    """The task's state in the result backend once it is one of `until`, or finished."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        state = result.state
        if state in until or state in READY_STATES:
            return state
        worker.check_alive()
        time.sleep(0.05)
    pytest.fail(f"the task was still {result.state} after {WAIT_S} s:\n{worker.log.read_text()}")


def _identity(path: Path) -> tuple[int, int]:
    """What a rewrite changes (a file is written to a temporary name, then renamed over)."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


def test_a_batch_sent_through_redis_runs_to_the_end_in_the_worker(
    batch_worker: BatchWorker, celery_client: Celery
) -> None:
    batch = _batch(batch_worker.genes)
    result = _send(batch_worker, celery_client, batch)
    assert _state(result, batch_worker.worker) == "SUCCESS"
    assert result.result == BatchStatus.DONE
    done = BatchSearch.objects.get(id=batch.id)
    assert (done.status, done.n_done, done.error) == (BatchStatus.DONE, 3, "")
    assert done.finished_at is not None
    outcomes = {query["name"]: query for query in batch_outcomes(done)}
    assert all(query["done"] for query in outcomes.values())
    assert (outcomes["A"]["n_results"], outcomes["A"]["error"]) == (LIMIT, "")
    assert (outcomes["B"]["n_results"], outcomes["B"]["unknown"]) == (LIMIT, ["NOTAGENE1"])
    assert outcomes["SMALL"]["n_results"] == 0
    assert "at least 5" in outcomes["SMALL"]["error"]
    assert Path(done.result_file) == batch_folder(done) / RESULT_NAME
    lines = Path(done.result_file).read_text().splitlines()
    assert [line.split("\t")[0] for line in lines[1:]] == ["A"] * LIMIT + ["B"] * LIMIT + ["SMALL"]


def test_a_write_the_disk_refuses_is_retried_and_the_batch_resumes_where_it_stopped(
    batch_worker: BatchWorker, celery_client: Celery
) -> None:
    batch = _batch(batch_worker.genes)
    folder = batch_folder(batch)
    blocker = folder / "00001.json"  # a folder where the second query's outcome goes
    blocker.mkdir(parents=True)
    result = _send(batch_worker, celery_client, batch)
    assert _state(result, batch_worker.worker, until=frozenset({RETRY})) == RETRY
    stopped = BatchSearch.objects.get(id=batch.id)
    assert (stopped.status, stopped.n_done) == (BatchStatus.RUNNING, 1)
    first = {path: _identity(path) for path in (folder / "00000.tsv", folder / "00000.json")}
    blocker.rmdir()  # the disk mended before the retry (one second later)
    assert _state(result, batch_worker.worker) == "SUCCESS"
    done = BatchSearch.objects.get(id=batch.id)
    assert (done.status, done.n_done) == (BatchStatus.DONE, 3)
    assert {path: _identity(path) for path in first} == first  # the first query not run again
    assert [query["n_results"] for query in batch_outcomes(done)] == [LIMIT, LIMIT, 0]
    assert len(Path(done.result_file).read_text().splitlines()) == 1 + 2 * LIMIT + 1


def test_a_batch_without_a_search_index_fails_with_the_reason_and_so_does_its_task(
    batch_worker: BatchWorker, celery_client: Celery
) -> None:
    batch = _batch(batch_worker.genes)
    away = batch_worker.index.with_name("index-away")
    batch_worker.index.rename(away)
    try:
        state = _state(_send(batch_worker, celery_client, batch), batch_worker.worker)
    finally:
        away.rename(batch_worker.index)
    assert state == "FAILURE"
    failed = BatchSearch.objects.get(id=batch.id)
    assert (failed.status, failed.n_done, failed.result_file) == (BatchStatus.FAILED, 0, "")
    assert "no search index" in failed.error
    assert not any(query["done"] for query in batch_outcomes(failed))  # none keeps the outage


def test_a_disk_fault_that_outlasts_the_retries_fails_the_batch_with_the_reason(
    batch_worker: BatchWorker, celery_client: Celery
) -> None:
    batch = _batch(batch_worker.genes)
    folder = batch_folder(batch)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("")  # a file where the batch's folder goes, every try
    state = _state(_send(batch_worker, celery_client, batch), batch_worker.worker)
    assert state == "FAILURE"
    failed = BatchSearch.objects.get(id=batch.id)
    assert (failed.status, failed.n_done) == (BatchStatus.FAILED, 0)
    tries = batch_search_run_task.max_retries
    assert failed.error == (
        f"the batch's files could not be written (File exists), retried {tries} times"
    )

"""`--workers`: chunks fanned out as Celery tasks through the running Redis to two local CPU
workers (`celery -A transform.convert.worker worker`), which the tests start and always stop.
The output is the local run's, also when a worker is killed mid-job and another started."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from tests.conftest import REPO
from tests.transform.convert.helpers import (
    convert,
    subprocess_env,
    write_level3,
)
from transform.convert import ConvertSummary
from transform.convert.job import WorkFolder

pytestmark = pytest.mark.services

REDIS_URL = "redis://127.0.0.1:6379/14"
VISIBILITY_TIMEOUT_S = 3  # a killed worker's task goes back to the queue this long after
PROFILES, CHUNK = 4000, 50
RECEIVED = re.compile(r"Task transform\.convert\.chunk\[([0-9a-f-]+)\] received")
SUCCEEDED = re.compile(r"Task transform\.convert\.chunk\[([0-9a-f-]+)\] succeeded")
CONVERTED = re.compile(r"chunk (\d+) of (\S+): converted")
RECORDED = re.compile(r"chunk (\d+) of (\S+): recorded before")


class Workers:
    """Celery worker processes on one queue, each in its own process group, with its log."""

    def __init__(self, queue: str, logs: Path) -> None:
        self.queue, self.logs = queue, logs
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "transform.convert.worker",
            "worker",
            "--pool=solo",
            "-Q",
            self.queue,
            "-n",
            f"{name}.{self.queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ]
        env = subprocess_env(
            CELERY_BROKER_URL=REDIS_URL,
            CELERY_RESULT_BACKEND=REDIS_URL,
            CONVERT_VISIBILITY_TIMEOUT_S=str(VISIBILITY_TIMEOUT_S),
        )
        with self.log(name).open("w") as log:
            self.processes[name] = subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, *names: str, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        for name in names:
            while "ready." not in self.log(name).read_text():
                if self.processes[name].poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"worker {name} did not start:\n{self.log(name).read_text()}")
                time.sleep(0.1)

    def kill(self, name: str) -> None:
        """SIGKILL to the worker's process group: no warm shutdown, no acknowledgement."""
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill(name)

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def lines(self, pattern: re.Pattern, name: str) -> list[str]:
        return pattern.findall(self.log(name).read_text())


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis is not running at {REDIS_URL}: {error}")
    finally:
        client.close()
    started = Workers(f"convert-test-{uuid.uuid4().hex[:8]}", tmp_path_factory.mktemp("logs"))
    try:
        for name in ("a", "b"):
            started.start(name)
        started.wait_ready("a", "b")
        yield started
    finally:
        started.stop_all()


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory, small_bundle: Path) -> tuple[Path, str]:
    """A Level 3 file and the checksum of its local conversion."""
    folder = tmp_path_factory.mktemp("workers")
    source = write_level3(folder / "level3.gctx", n_profiles=PROFILES, seed=3)
    local = convert(small_bundle, source, folder / "local.gctx", chunk_size=CHUNK)
    return source, local.manifest["checksum"]


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The coordinator's side (this process) sends to the workers' Redis."""
    monkeypatch.setenv("CELERY_BROKER_URL", REDIS_URL)
    monkeypatch.setenv("CELERY_RESULT_BACKEND", REDIS_URL)


def converted_chunks(workers: Workers, output: Path, pattern: re.Pattern = CONVERTED) -> Counter:
    """How often each chunk of the job of `output` was converted, by the workers' logs."""
    work = str(WorkFolder.beside(output).path)
    return Counter(
        int(index)
        for name in workers.processes
        for index, folder in workers.lines(pattern, name)
        if folder == work
    )


def test_two_workers_write_the_checksum_of_a_local_run(
    workers: Workers, job: tuple[Path, str], small_bundle: Path, tmp_path: Path, broker: None
) -> None:
    source, checksum = job
    output = tmp_path / "profiles.gctx"
    summary = convert(
        small_bundle, source, output, chunk_size=CHUNK, workers=True, queue=workers.queue
    )
    assert summary.manifest["checksum"] == checksum
    assert summary.converted == PROFILES
    converted = converted_chunks(workers, output)
    assert sorted(converted) == list(range(PROFILES // CHUNK))
    assert set(converted.values()) == {1}
    assert all(workers.lines(CONVERTED, name) for name in ("a", "b"))  # both took chunks


def test_a_worker_killed_mid_job_loses_nothing_and_duplicates_nothing(
    workers: Workers, job: tuple[Path, str], small_bundle: Path, tmp_path: Path, broker: None
) -> None:
    source, checksum = job
    victim = "a"
    for attempt in range(1, 4):
        output = tmp_path / f"profiles-{attempt}.gctx"
        coordinator, results = _start_job(small_bundle, source, output, workers.queue)
        _kill_holding_a_task(workers, victim, coordinator, WorkFolder.beside(output))
        held = _holds_a_task(workers, victim)  # its log as it died: a task received, not finished
        workers.start(f"c{attempt}")
        coordinator.join(timeout=120)
        assert not coordinator.is_alive(), "the job did not finish"
        (summary,) = results
        if isinstance(summary, BaseException):
            raise summary
        assert summary.manifest["checksum"] == checksum
        if held:
            break
        victim = f"a{attempt + 1}"  # the kill fell between two of its tasks: again, a new job
        workers.start(victim)
        workers.wait_ready(victim)
    else:
        pytest.fail("no worker was killed holding a task in 3 jobs")
    lost = set(workers.lines(RECEIVED, victim)) - set(workers.lines(SUCCEEDED, victim))
    assert lost
    redone = {
        task
        for name in workers.processes
        if name != victim
        for task in workers.lines(SUCCEEDED, name)
    }
    # A task the victim finished just before the kill, its log line not yet written, has its result
    # stored (the coordinator waited for it); every other task it held was run again by another.
    assert all(_state(task_id) == "SUCCESS" for task_id in lost - redone)
    converted = converted_chunks(workers, output)
    assert set(converted.values()) == {1}
    # A chunk the victim converted and recorded just before the kill, its log line not yet
    # written: the redelivered task finds the record and does not convert it again.
    unlogged = set(range(PROFILES // CHUNK)) - set(converted)
    assert len(unlogged) <= 1
    assert unlogged <= set(converted_chunks(workers, output, RECORDED))


def _start_job(
    bundle: Path, source: Path, output: Path, queue: str
) -> tuple[threading.Thread, list]:
    """A --workers conversion coordinated from a thread; its summary (or error) goes to the list."""
    results: list[ConvertSummary | BaseException] = []

    def coordinate() -> None:
        try:
            results.append(
                convert(bundle, source, output, chunk_size=CHUNK, workers=True, queue=queue)
            )
        except BaseException as error:  # handed to the test's thread
            results.append(error)

    coordinator = threading.Thread(target=coordinate, daemon=True)
    coordinator.start()
    return coordinator, results


def _kill_holding_a_task(
    workers: Workers, name: str, coordinator: threading.Thread, work: WorkFolder
) -> None:
    """SIGKILL the worker once 5 chunks are done and its log shows a task in hand."""
    deadline = time.monotonic() + 60
    while not (
        work.done.exists()
        and len(list(work.done.glob("*.json"))) >= 5
        and _holds_a_task(workers, name)
    ):
        assert coordinator.is_alive(), f"the job ended before worker {name} could be killed"
        assert time.monotonic() < deadline, f"worker {name} was never seen holding a task"
        time.sleep(0.002)
    workers.kill(name)


def _state(task_id: str) -> str:
    client = Celery(broker=REDIS_URL, backend=REDIS_URL, set_as_current=False)
    try:
        return client.AsyncResult(task_id).state
    finally:
        client.close()


def _holds_a_task(workers: Workers, name: str) -> bool:
    received = workers.lines(RECEIVED, name)
    return bool(received) and received[-1] not in workers.lines(SUCCEEDED, name)

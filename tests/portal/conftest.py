"""A real Celery worker for the services tests: a subprocess on a queue of its own, through the
running Redis, configured by the environment that the test gives it, as production configures it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from celery import Celery

from tests.conftest import REDIS_URL, REPO


@dataclass(frozen=True)
class Worker:
    queue: str
    process: subprocess.Popen
    log: Path

    def check_alive(self) -> None:
        """Fails the test with the worker's log if the worker has exited."""
        if self.process.poll() is not None:
            pytest.fail(f"the worker exited ({self.process.returncode}):\n{self.log.read_text()}")


def portal_environment(**env: str) -> dict[str, str]:
    """This process's environment with the real settings module and Redis, and `env` on top
    (DATA_DIR, DATABASE_URL and the other paths: DEBUG is off, so DATABASE_URL is required)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": "worker-test",
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
        **env,
    }


@contextmanager
def celery_worker(
    folder: Path, queue: str = "", *, include: str = "", **env: str
) -> Iterator[Worker]:
    """A solo-pool worker of the portal's app, its log in `folder`; stopped (SIGTERM) on exit.
    queue: the queue it serves (default: one of its own); include: a module it imports at start
    (celery -I)."""
    queue = queue or f"test-{uuid.uuid4().hex[:8]}"
    node = f"{queue}-{uuid.uuid4().hex[:4]}"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "worker",
        "--pool=solo",
        "-Q",
        queue,
        "-n",
        f"{node}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
        *(["-I", include] if include else []),
    ]
    log = folder / f"worker-{node}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=portal_environment(**env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield Worker(queue, process, log)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def celery_client() -> Iterator[Celery]:
    """A client of the running Redis that sends tasks by name, as the web process does."""
    client = Celery(broker=REDIS_URL, backend=REDIS_URL, set_as_current=False)
    yield client
    client.close()

"""PostgreSQL restarted under a running server: clean 503s during the outage, then service again.

Stops and starts the machine's PostgreSQL cluster, so it runs in the SQLite pass only (marker
`faults`), against a server process of its own on a database of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.faults, pytest.mark.services]
ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DATABASE = "portal_outage_test"
CLUSTER = sorted(os.listdir("/etc/postgresql"))[0] if os.path.isdir("/etc/postgresql") else None


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _cluster(action: str) -> None:
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", CLUSTER, "main", action],
                   check=True, capture_output=True, timeout=60)  # fmt: skip


def _wait_ready(timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode != 0:
        assert time.monotonic() < deadline, "PostgreSQL did not come back"
        time.sleep(0.5)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    if CLUSTER is None or shutil.which("pg_ctlcluster") is None:
        pytest.fail("needs the machine's PostgreSQL cluster (pg_ctlcluster)")
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "DEBUG": "1",
           "DATA_DIR": str(tmp_path), "CELERY_BROKER_URL": "",
           "DATABASE_URL": ADMIN_URL.rsplit("/", 1)[0] + f"/{DATABASE}"}  # fmt: skip
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env,
                   check=True, timeout=300)  # fmt: skip
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "portal.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "2"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{url}/api/health")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
        _cluster("start") if subprocess.run(
            ["pg_isready", "-q", "-h", "127.0.0.1"]
        ).returncode else None
        _wait_ready()
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def test_requests_fail_cleanly_during_a_restart_and_succeed_after(server: str) -> None:
    assert _get(f"{server}/api/health")[0] == 200
    assert _get(f"{server}/api/genes?q=TP5")[0] == 200
    _cluster("stop")
    try:
        for _ in range(3):  # each worker meets the outage; none answers 500
            code, body = _get(f"{server}/api/health")
            assert code == 503
            assert body["database"]["ok"] is False
            code, body = _get(f"{server}/api/genes?q=TP5")
            assert code == 503
            assert body["detail"] == "the database is unavailable; try again in a moment"
    finally:
        _cluster("start")
        _wait_ready()
    for _ in range(4):  # every worker reconnects by itself
        assert _get(f"{server}/api/health")[0] == 200
        assert _get(f"{server}/api/genes?q=TP5")[0] == 200

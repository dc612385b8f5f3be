"""PostgreSQL restarted under a running server: clean 503s during the outage, then service again.

The test starts a PostgreSQL server of its own (initdb into a temporary folder, a free port), so
that stopping it disturbs nothing else on the machine: not the shared server on 5432, nor a test
run beside this one. It runs in the SQLite pass only (marker `faults`).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.faults, pytest.mark.services]
BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivatePostgres:
    """A PostgreSQL server in a temporary folder, run as the postgres user when we are root
    (initdb refuses root), listening on 127.0.0.1:port with trust authentication."""

    def __init__(self) -> None:
        if not BINARIES:
            pytest.fail("needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)")
        self.bin = Path(BINARIES[-1])
        self.folder = Path(tempfile.mkdtemp(prefix="portal-outage-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / tool), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        ready = [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(ready).returncode == 0

    def remove(self) -> None:
        if self.running():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def server(tmp_path: Path, postgres: PrivatePostgres) -> Iterator[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "1",
        "DATA_DIR": str(tmp_path),
        "CELERY_BROKER_URL": "",
        "DATABASE_URL": postgres.url,
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=300,
    )
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
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


def test_requests_fail_cleanly_during_a_restart_and_succeed_after(
    server: str, postgres: PrivatePostgres
) -> None:
    assert _get(f"{server}/api/health")[0] == 200
    assert _get(f"{server}/api/genes?q=TP5")[0] == 200
    postgres.stop()
    try:
        for _ in range(3):  # each worker meets the outage; none answers 500
            code, body = _get(f"{server}/api/health")
            assert code == 503
            assert body["database"]["ok"] is False
            code, body = _get(f"{server}/api/genes?q=TP5")
            assert code == 503
            assert body["detail"] == "the database is unavailable; try again in a moment"
    finally:
        postgres.start()
    for _ in range(4):  # every worker reconnects by itself
        assert _get(f"{server}/api/health")[0] == 200
        assert _get(f"{server}/api/genes?q=TP5")[0] == 200

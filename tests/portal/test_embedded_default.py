"""`make serve` (the end of `make run`) serves without Django's debug pages: no request sees the
settings or the environment, and no path gets a 500."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data, port = tmp_path_factory.mktemp("embedded"), _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("DATABASE_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE")
    }
    server = subprocess.Popen(
        ["make", "-s", "serve", f"DATA_DIR={data}", f"PORT={port}"],
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/static/search/portal.css", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None:
                    pytest.fail(f"make serve stopped: {server.stderr.read().decode()[-2000:]}")
                time.sleep(0.5)
        yield url, data
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _get(url: str, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def test_a_foreign_host_gets_a_plain_400_without_settings_or_environment(
    served: tuple[str, Path],
) -> None:
    code, body = _get(f"{served[0]}/", Host="evil.example")
    assert code == 400
    assert len(body) < 2000
    for leak in ("SECRET_KEY", "DATABASE_URL", "PATH", "Traceback", "settings"):
        assert leak not in body


def test_a_path_that_climbs_out_of_static_is_404_not_500(served: tuple[str, Path]) -> None:
    code, body = _get(f"{served[0]}/static/../README.md")
    assert code == 404
    assert "Traceback" not in body


def test_the_secret_key_is_the_installs_own_and_private(served: tuple[str, Path]) -> None:
    key = served[1] / "secret_key"
    assert key.stat().st_mode & 0o077 == 0
    assert len(key.read_text().strip()) >= 50
    assert "insecure" not in key.read_text()

"""A download read slowly, over real servers: it arrives whole, and the portal answers meanwhile.

Production (docker/compose.yaml) puts nginx before gunicorn's sync workers, which a worker timeout
kills in the middle of a long transfer (issue 16, item 14: a 327 MB file stopped at 46.8 MB). So
gunicorn, started as production starts it, only authorises a download (X-Accel-Redirect, no body)
and nginx sends the bytes; the embedded default (`make serve`) streams the file itself. The client
reads 64 KiB at a time with a small receive buffer, paced so that the whole transfer takes longer
than twice gunicorn's timeout here, on a file several times larger than the kernel's socket
buffers, so that the server is still sending when the timeout passes.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.slow
GUNICORN_TIMEOUT_S = 3
SLOW_S = 2.2 * GUNICORN_TIMEOUT_S  # how long the client takes to read the whole file
FILE_BYTES = 16 << 20  # four times Linux's largest default send buffer (tcp_wmem, 4 MiB)
NAME = "signatures_trt_cp.gctx"
ACCEL = "/_protected_downloads/"
NGINX = shutil.which("nginx")
NO_NGINX = "nginx is not installed on this machine (not installed for the test either)"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder whose downloads folder offers one file of FILE_BYTES seeded random bytes."""
    folder = tmp_path_factory.mktemp("transfer")
    (folder / "downloads").mkdir()
    (folder / "downloads" / NAME).write_bytes(random.Random(14).randbytes(FILE_BYTES))
    return folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(port: int, path: str, method: str = "GET") -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, headers, response.read())
    finally:
        connection.close()


@contextmanager
def _server(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[int]:
    """The server of `command`, in a process group of its own, once it answers on `port`."""
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    _request(port, "/api/health")
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"{command[:3]} did not start:\n{log.read_text()[-3000:]}")
                    time.sleep(0.3)
            yield port
        finally:
            with contextlib.suppress(ProcessLookupError):  # it may have stopped on its own
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def _slow_download(port: int, path: str, meanwhile: Callable[[], None]) -> Answer:
    """GET `path` reading 64 KiB at a time, paced to take SLOW_S in all; `meanwhile` runs once
    half the file has come."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)  # before connecting
        sock.settimeout(30)
        sock.connect(("127.0.0.1", port))
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        received = b""
        while b"\r\n\r\n" not in received:
            block = sock.recv(64 << 10)
            assert block, f"the connection closed before the headers: {received!r}"
            received += block
        head, body = received.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {
            key.strip().lower(): value.strip()
            for key, value in (line.split(":", 1) for line in lines)
        }
        parts, rate, asked = [body], FILE_BYTES / SLOW_S, False
        got = len(body)
        while block := sock.recv(64 << 10):
            parts.append(block)
            got += len(block)
            if not asked and got >= FILE_BYTES // 2:
                asked = True
                meanwhile()
            time.sleep(len(block) / rate)
    return Answer(int(status_line.split()[1]), headers, b"".join(parts))


def _check_a_slow_download_arrives_whole(port: int) -> None:
    """The shared check: the file comes whole with the listing's SHA-256 while the server still
    answers another request in the middle of the transfer."""
    listed = {item["name"]: item for item in _request(port, "/api/downloads").json()["files"]}
    answers: list[Answer] = []
    answer = _slow_download(
        port, f"/downloads/{NAME}", lambda: answers.append(_request(port, "/api/health"))
    )
    assert answer.status == 200
    assert int(answer.headers["content-length"]) == len(answer.body) == FILE_BYTES
    assert hashlib.sha256(answer.body).hexdigest() == listed[NAME]["sha256"]
    assert len(answers) == 1
    assert answers[0].status in (200, 503)  # 503: no search index here, but an answer
    assert "database" in answers[0].json()


def _embedded_environment() -> dict[str, str]:
    """This process's environment without what `make serve` sets itself or a download setting."""
    dropped = (
        "DATABASE_URL",
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "DJANGO_SETTINGS_MODULE",
        "DATA_DIR",
        "DOWNLOADS_DIR",
        "DOWNLOADS_ACCEL_REDIRECT",
    )
    return {key: value for key, value in os.environ.items() if key not in dropped}


def test_the_embedded_default_streams_a_slow_download_whole_and_answers_meanwhile(
    data: Path,
) -> None:
    port = _free_port()
    command = ["make", "-s", "serve", f"DATA_DIR={data}", f"PORT={port}"]
    with _server(command, _embedded_environment(), port, data / "embedded.log"):
        _check_a_slow_download_arrives_whole(port)


@pytest.fixture(scope="module")
def gunicorn(data: Path) -> Iterator[int]:
    """gunicorn as the web image runs it (portal.gunicorn_conf: sync workers), one worker with a
    GUNICORN_TIMEOUT_S timeout, the portal configured as compose configures the web service."""
    port = _free_port()
    env = {
        **_embedded_environment(),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "0",
        "SECRET_KEY": "transfer-test",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{data / 'portal.sqlite3'}",
        "DATA_DIR": str(data),
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "CELERY_BROKER_URL": "",
        "DOWNLOADS_ACCEL_REDIRECT": ACCEL,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_TIMEOUT": str(GUNICORN_TIMEOUT_S),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "portal.wsgi:application",
        "-c",
        "python:portal.gunicorn_conf",
    ]
    with _server(command, env, port, data / "gunicorn.log"):
        yield port


def test_production_gunicorn_hands_a_download_to_the_proxy_with_headers_only(gunicorn: int) -> None:
    for method in ("GET", "HEAD"):
        answer = _request(gunicorn, f"/downloads/{NAME}", method)
        assert answer.status == 200
        assert answer.headers["x-accel-redirect"] == f"{ACCEL}{NAME}"
        assert answer.headers["content-length"] == "0"
        assert answer.body == b""
        assert answer.headers["content-type"] == "application/x-hdf5"
        assert answer.headers["content-disposition"] == f'attachment; filename="{NAME}"'
    refused = _request(gunicorn, "/downloads/..%2Fportal.sqlite3")
    assert refused.status == 404
    assert "x-accel-redirect" not in refused.headers


def _nginx_config(folder: Path, *, port: int, upstream: int, downloads: Path) -> Path:
    """docker/nginx.conf with its addresses and paths pointed here, in a main file of our own."""
    site = (REPO / "docker" / "nginx.conf").read_text()
    for old, new in (
        ("server web:8000;", f"server 127.0.0.1:{upstream};"),
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("alias /data/downloads/;", f"alias {downloads}/;"),
    ):
        assert old in site, f"docker/nginx.conf no longer says {old!r}"
        site = site.replace(old, new)
    temp = "\n".join(
        f"{kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;" if os.geteuid() == 0 else ""  # workers must read pytest's private folder
    main = folder / "nginx.conf"
    main.write_text(
        f"daemon off;\n{user}\npid {folder / 'nginx.pid'};\nerror_log stderr;\nevents {{}}\n"
        f"http {{\naccess_log off;\nsendfile on;\n{temp}\n{site}\n}}\n"
    )
    return main


@pytest.mark.skipif(NGINX is None, reason=NO_NGINX)
def test_through_nginx_a_slow_download_arrives_whole_and_the_worker_answers_meanwhile(
    data: Path, gunicorn: int
) -> None:
    folder, port = data / "nginx", _free_port()
    folder.mkdir()
    config = _nginx_config(folder, port=port, upstream=gunicorn, downloads=data / "downloads")
    command = [str(NGINX), "-p", str(folder), "-e", "stderr", "-c", str(config)]
    with _server(command, dict(os.environ), port, folder / "nginx.log"):
        _check_a_slow_download_arrives_whole(port)  # one sync worker: it must be free meanwhile
        assert _request(port, f"{ACCEL}{NAME}").status == 404  # internal: not for clients


def test_the_compose_proxy_serves_the_folder_the_web_service_hands_over() -> None:
    compose = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())["services"]
    site = (REPO / "docker" / "nginx.conf").read_text()
    web, proxy = compose["web"], compose["proxy"]
    internal = re.findall(r"location (\S+) \{\s*internal;\s*alias (\S+);", site)
    assert internal == [
        (web["environment"]["DOWNLOADS_ACCEL_REDIRECT"], web["environment"]["DOWNLOADS_DIR"] + "/")
    ]
    assert re.search(r"upstream portal \{\s*server web:8000;", site)  # gunicorn's bind
    assert "proxy_pass http://portal;" in site
    assert "ports" not in web  # the portal is reached through nginx only
    assert proxy["ports"] == ["8000:80"]
    assert "listen 80;" in site
    assert "data:/data:ro" in proxy["volumes"]
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]

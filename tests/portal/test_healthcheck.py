"""The web container's health check (`python -m portal.healthcheck`, docker/compose.yaml) asks
/api/health with a Host the deployment serves, and says 0 only for a 200."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from portal import healthcheck


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        ("portal.example.org,www.example.org", "portal.example.org"),
        (".example.org", "example.org"),
        ("*", "localhost"),
        ("", "localhost"),
    ],
)
def test_the_host_is_one_the_deployment_serves(allowed: str, host: str) -> None:
    assert healthcheck.host_header(allowed) == host


@pytest.fixture
def health_server() -> Iterator[tuple[HTTPServer, list[str], list[int]]]:
    seen: list[str] = []
    status = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"{self.headers['Host']} {self.path}")
            self.send_response(status[0])
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, seen, status
    server.shutdown()


def test_it_asks_the_health_api_with_that_host_and_says_whether_it_answered_200(
    health_server: tuple[HTTPServer, list[str], list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, seen, status = health_server
    monkeypatch.setenv("GUNICORN_BIND", f"0.0.0.0:{server.server_port}")
    monkeypatch.setenv("ALLOWED_HOSTS", "portal.example.org")
    assert healthcheck.main() == 0
    assert seen == ["portal.example.org /api/health"]
    status[0] = 503  # a part of the portal is down
    assert healthcheck.main() == 1
    server.shutdown()
    monkeypatch.setenv("GUNICORN_BIND", "127.0.0.1:1")  # nothing listens
    assert healthcheck.main() == 1

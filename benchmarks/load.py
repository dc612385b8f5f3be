"""Load test on loopback: gunicorn (4 workers) on the demo data, 20 users searching for 60 s.

Each simulated user loops: POST /api/search with an up/down query of 100 + 100 genes drawn from the
real example gene sets and the index's gene space, then GET the stored search back. Reports
throughput, p50/p99 latency and errors; the baseline measured in the same run is one user alone
(the latency with no contention). The rate limit is raised for the run (THROTTLE_SEARCH).
Run: python -m benchmarks.load [--data var] [--users 20] [--seconds 60]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.common import machine, markdown

REPO = Path(__file__).resolve().parents[1]


def start_server(data: Path, workers: int) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATA_DIR": str(data),
        "CELERY_BROKER_URL": "",
        "THROTTLE_SEARCH": "1000000/min",
    }
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            "-c",
            "python:portal.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status, _ = request(port, "GET", "/api/health")
            if status == 200:
                return process, port
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError("gunicorn did not come up (is the demo index built? `make pipeline`)")


def request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload else {}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def user(port: int, genes: list[str], until: float, seed: int, out: list, errors: list) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        picked = rng.sample(genes, 200)
        started = time.perf_counter()
        status, body = request(
            port, "POST", "/api/search", {"up": picked[:100], "down": picked[100:], "limit": 50}
        )
        if status == 201:
            search_id = json.loads(body)["id"]
            status, _ = request(port, "GET", f"/api/search/{search_id}")
        elapsed = time.perf_counter() - started
        (out if status == 200 else errors).append(elapsed if status == 200 else status)


def run(port: int, genes: list[str], users: int, seconds: float) -> dict[str, object]:
    until = time.monotonic() + seconds
    times: list[float] = []
    errors: list[int] = []
    threads = [
        threading.Thread(target=user, args=(port, genes, until, n, times, errors))
        for n in range(users)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ms = np.array(times) * 1000
    return {
        "users": users,
        "seconds": round(wall, 1),
        "searches": len(times),
        "searches/s": len(times) / wall,
        "p50 ms": float(np.percentile(ms, 50)),
        "p99 ms": float(np.percentile(ms, 99)),
        "errors": len(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "var")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    index = json.loads((args.data / "index" / "index.json").read_text())
    genes = (args.data / "index" / index["folder"] / "genes.txt").read_text().split()
    process, port = start_server(args.data, args.workers)
    try:
        alone = run(port, genes, 1, min(10.0, args.seconds))
        loaded = run(port, genes, args.users, args.seconds)
    finally:
        process.terminate()
        process.wait(timeout=20)
    print(
        f"gunicorn {args.workers} workers on {args.data}; {index['n_signatures']:,} signatures; "
        f"{machine()}\n"
    )
    alone["ratio p99 vs alone"] = 1.0
    loaded["ratio p99 vs alone"] = loaded["p99 ms"] / alone["p99 ms"]
    print(markdown([alone, loaded]))


if __name__ == "__main__":
    main()

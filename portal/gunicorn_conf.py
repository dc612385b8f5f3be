"""gunicorn settings: each worker opens the search index and builds the gene resolver at start.

Without this, the first search a worker serves pays for both (seconds on the demo data), and under
load those cold starts are the p99. Use: gunicorn -c python:portal.gunicorn_conf portal.wsgi
"""

from __future__ import annotations

import logging
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
# Sync workers: one killed at `timeout` cuts whatever it was sending, so a download's bytes are
# never sent from here; nginx sends them (DOWNLOADS_ACCEL_REDIRECT, docker/nginx.conf).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))

logger = logging.getLogger("gunicorn.error")


def post_worker_init(worker: object) -> None:
    """Open the index and the resolver now; a missing index is logged, the API then answers 503."""
    from search.runtime.warm_up import warm_up

    logger.info("worker %s: %s", os.getpid(), warm_up())

"""The coordinator's side of `convert --workers`: one Celery task per pending chunk, then wait.

The broker and result backend come from CELERY_BROKER_URL and CELERY_RESULT_BACKEND (the broker
when unset), as for the workers (`transform.convert.worker`). Tasks name the work folder and a
chunk; the workers write into the shared output and record each chunk; the coordinator then
checks every chunk itself before finishing (`transform.convert.run`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from celery import Celery
from celery.result import ResultSet

from transform.convert.job import Chunk
from transform.convert.progress import Progress

TASK = "transform.convert.chunk"


def broker_settings(environ: os._Environ[str] | dict[str, str]) -> tuple[str, str]:
    """(broker URL, result backend URL) from the environment; ValueError if no broker is set."""
    broker = environ.get("CELERY_BROKER_URL", "")
    if not broker:
        raise ValueError(
            "--workers needs CELERY_BROKER_URL (and CELERY_RESULT_BACKEND unless it is the "
            "broker): the queue that `celery -A transform.convert.worker worker -Q gpu` reads"
        )
    return broker, environ.get("CELERY_RESULT_BACKEND") or broker


def run_on_workers(
    work_dir: Path, chunks: Sequence[Chunk], *, queue: str, progress: Progress
) -> None:
    """Send one task per chunk to `queue` and wait for all; a task's error is raised here."""
    if not chunks:
        return
    broker, backend = broker_settings(os.environ)
    client = Celery("transform-convert", broker=broker, backend=backend)
    try:
        sizes = {}
        results = []
        for chunk in chunks:
            result = client.send_task(TASK, args=[str(work_dir), chunk.index], queue=queue)
            sizes[result.id] = chunk.size
            results.append(result)
        progress.note(f"sent {len(chunks)} chunks to the Celery queue {queue!r}")
        ResultSet(results, app=client).join_native(
            callback=lambda task_id, _: progress.advance(sizes[task_id])
        )
    finally:
        client.close()

"""Celery workers that convert chunks for `python -m transform convert --workers`.

    CELERY_BROKER_URL=redis://host:6379/0 celery -A transform.convert.worker worker -Q gpu

One worker process per GPU (concurrency 1 by default; pin each to its GPU with
CUDA_VISIBLE_DEVICES), on one host or many: the work folder, the input and the checkpoint must be
reachable under the same paths on every host (a shared file system). Tasks are acknowledged only
when done (acks_late, prefetch 1), so a lost worker loses no chunk: Redis gives a task that was
taken and never acknowledged back to the queue once CONVERT_VISIBILITY_TIMEOUT_S (default 600)
seconds have passed since it was taken, at a worker's start or its periodic sweep. The timeout
must exceed the longest chunk's time, or a running chunk is handed to a second worker too (which
is safe, only wasteful: each chunk lands in its own byte range, and its record is written once its
bytes read back). A chunk already recorded is not converted again, and each process keeps its
loaded model (and pinned buffers) from one task to the next.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from celery import Celery
from celery.utils.log import get_task_logger

from transform.convert.chunks import Pipeline
from transform.convert.compute import ChunkModel
from transform.convert.dispatch import TASK
from transform.convert.job import ChunkRecord, ConvertJob, WorkFolder
from transform.convert.output import ChunkMismatch
from transform.inference import TwoStepModel
from transform.io.files import sha256_file
from transform.train.checkpoint import resolve_device

QUEUE = "gpu"
VISIBILITY_TIMEOUT_S = 600
logger = get_task_logger(__name__)


def celery_settings(environ: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    broker = environ.get("CELERY_BROKER_URL") or None
    timeout_s = int(environ.get("CONVERT_VISIBILITY_TIMEOUT_S") or VISIBILITY_TIMEOUT_S)
    if timeout_s < 1:
        raise ValueError(f"CONVERT_VISIBILITY_TIMEOUT_S must be positive, got {timeout_s}")
    return {
        "broker_url": broker,
        "result_backend": environ.get("CELERY_RESULT_BACKEND") or broker,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_concurrency": 1,
        "task_default_queue": QUEUE,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": timeout_s,
            "unacked_restore_interval": max(1, min(10, timeout_s // 4)),  # sweep period, s
            "unacked_restore_throttle": 1,
        },
    }


app = Celery("transform")
app.conf.update(celery_settings(os.environ))


@app.task(  # type: ignore[untyped-decorator]  # celery ships no type information
    name=TASK, autoretry_for=(ChunkMismatch,), max_retries=3, retry_backoff=True
)
def convert_chunk(job_dir: str, chunk_index: int) -> dict[str, Any]:
    """Convert chunk `chunk_index` of the job in `job_dir` unless it is recorded; its record."""
    return convert_job_chunk(Path(job_dir), chunk_index).to_dict()


def convert_job_chunk(job_dir: Path, index: int) -> ChunkRecord:
    work = WorkFolder(job_dir)
    job = work.load_job()
    chunk = job.chunk(index)
    record = work.read_record(chunk)
    if record is not None:
        logger.info("chunk %d of %s: recorded before, not converted again", index, job_dir)
        return record
    _pipeline(job, str(job_dir)).run([chunk])
    record = work.read_record(chunk)
    if record is None:
        raise ChunkMismatch(f"{job_dir}: chunk {index} was converted but left no record")
    logger.info(
        "chunk %d of %s: converted (profiles %d..%d)", index, job_dir, chunk.start, chunk.stop - 1
    )
    return record


@functools.lru_cache(maxsize=1)
def _pipeline(job: ConvertJob, job_dir: str) -> Pipeline:
    """The model and buffers of this process for one job, loaded once."""
    if sha256_file(Path(job.checkpoint)) != job.checkpoint_sha256:
        raise ValueError(f"{job.checkpoint} is not the checkpoint of the job in {job_dir}")
    model = TwoStepModel.load(job.checkpoint, device=str(resolve_device(job.device)))
    chunk_model = ChunkModel(model, dtype=job.dtype, autocast=job.autocast)
    return Pipeline(job, chunk_model, WorkFolder(Path(job_dir)))

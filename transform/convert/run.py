"""`convert_profiles`: a Level 3 GCTX through a model bundle into an RNA-seq-like GCTX, resumably.

1. The job (checkpoint SHA-256, input identity, chunking, dtype) is written to the work folder
   beside the output, with the output file created whole; a work folder of another job is
   refused, naming what differs.
2. Chunks recorded by an earlier run are read back and checked against their records; the
   others are converted, here (`Pipeline`) or by Celery workers (`--workers`).
3. Once every chunk is recorded: chunks this process did not write or check are read back and
   checked, the file's layout is read back, the manifest is written, and the file, then its
   manifest, are renamed beside the output; the work folder goes last.
Killed at any point, the same call picks up where it stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from transform.convert.chunks import VERIFY_THREADS, Pipeline
from transform.convert.compute import AUTOCAST, STORED, ChunkModel, input_rows
from transform.convert.job import ChunkRecord, ConvertJob, WorkFolder
from transform.convert.job import write_json_atomically as write_json
from transform.convert.manifest import profiles_manifest
from transform.convert.output import ChunkMismatch, OutputFile, create_output
from transform.convert.progress import Progress
from transform.inference import TwoStepModel
from transform.io import gctx_shape
from transform.io.errors import name_some
from transform.io.files import sha256_file
from transform.io.hdf5 import mark_synthetic
from transform.io.level3 import Level3, open_level3
from transform.job_identity import JobMismatch, manifest_path
from transform.train.checkpoint import resolve_device


@dataclass(frozen=True)
class ConvertOptions:
    chunk_size: int = 8192  # profiles per chunk: the unit of reading, writing and resuming
    dtype: str = "float32"  # stored values: float32 or float16
    device: str = "auto"  # auto, cpu or cuda
    autocast: str | None = None  # bf16 or fp16 forward passes (checked against float32)
    limit: int | None = None  # convert the first `limit` profiles only
    workers: bool = False  # fan the chunks out to Celery workers
    queue: str = "gpu"  # the workers' queue
    force: bool = False  # replace an existing output, discard another job's work folder
    command: str = ""  # the command line, for the manifest
    gene_info: Path | None = None  # the input's gene table, when the GCTX carries no row metadata
    inst_info: Path | None = None  # its profile table: copied into the output's column metadata

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError(f"--chunk-size must be positive, got {self.chunk_size}")
        if self.dtype not in STORED:
            raise ValueError(f"--dtype {self.dtype}: choose one of {', '.join(STORED)}")
        if self.autocast is not None and self.autocast not in AUTOCAST:
            raise ValueError(f"--autocast {self.autocast}: choose one of {', '.join(AUTOCAST)}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit must be positive, got {self.limit}")


@dataclass(frozen=True)
class ConvertSummary:
    output: Path
    manifest: dict[str, Any]
    converted: int  # profiles computed by this run
    seconds: float
    chunks_before: int  # chunks found done when this run started
    autocast_check: dict[str, Any] | None = field(default=None)
    pipeline_seconds: float | None = None  # the chunks' conversion alone (not on workers)

    @property
    def profiles(self) -> int:
        return int(self.manifest["shape"]["profiles"])

    @property
    def rate(self) -> float:
        """Profiles per second converted by this run."""
        return self.converted / max(self.seconds, 1e-9)


def convert_profiles(
    *,
    checkpoint: Path,
    input: Path,
    output: Path,
    options: ConvertOptions | None = None,
    stream: TextIO | None = None,
) -> ConvertSummary:
    """Convert `input` into `output` with its manifest beside it (see the module's doc)."""
    options = options or ConvertOptions()
    started = time.perf_counter()
    if options.workers:  # no broker: refused before anything is created
        from transform.convert.dispatch import broker_settings

        broker_settings(os.environ)
    output = Path(output).absolute()
    work = WorkFolder.beside(output)
    if work.manifest.exists() and output.exists() and not work.partial.exists():
        manifest = _move_into_place(work, output)  # stopped after the rename: finish the steps
        return ConvertSummary(output, manifest, 0, time.perf_counter() - started, 0)
    if work.path.exists() and not work.partial.exists() and not work.manifest.exists():
        shutil.rmtree(work.path)  # stopped before the output was created, or after the manifest
    _refuse_existing(output, force=options.force)
    device = "cpu" if options.workers else str(resolve_device(options.device))
    level3 = open_level3(input, gene_info=options.gene_info, inst_info=options.inst_info)
    for note in level3.notes:
        (stream or sys.stderr).write(f"note: {note}\n")
    model = TwoStepModel.load(checkpoint, device=device)
    warning = model.origin_warning(input)
    if warning:
        (stream or sys.stderr).write(f"warning: {warning}\n")
    job = _make_job(model, Path(checkpoint), level3, output, options)
    _open_work(work, job, model, force=options.force, level3=level3)
    progress = Progress(job.n_profiles, stream=stream)
    records = _checked_records(work, job, progress)
    pending = [chunk for chunk in job.chunks() if chunk.index not in records]
    progress.done = progress.done_before = sum(r.stop - r.start for r in records.values())
    _require_space(work, job, sum(chunk.size for chunk in pending))
    if options.workers:
        from transform.convert.dispatch import run_on_workers

        run_on_workers(work.path, pending, queue=options.queue, progress=progress)
        checked, pipeline_seconds = set(records), None
    else:
        chunk_model = ChunkModel(model, dtype=job.dtype, autocast=job.autocast)
        pipeline = Pipeline(
            job,
            chunk_model,
            work,
            on_chunk=lambda r: progress.advance(r.stop - r.start),
            note=progress.note,
        )
        pipeline_started = time.perf_counter()
        pipeline.run(pending)
        pipeline_seconds = time.perf_counter() - pipeline_started
        checked = set(range(job.n_chunks))
    progress.finish()
    manifest = _finish(work, job, model, checked, started, options.command)
    return ConvertSummary(
        output,
        manifest,
        converted=sum(chunk.size for chunk in pending),
        seconds=time.perf_counter() - started,
        chunks_before=len(records),
        autocast_check=(manifest["autocast"] or {}).get("check"),
        pipeline_seconds=pipeline_seconds,
    )


def _refuse_existing(output: Path, *, force: bool) -> None:
    """An existing output is replaced (by the final rename) only when asked to."""
    if output.exists() and not force:
        raise FileExistsError(f"{output} exists; pass --force to replace it")


def _make_job(
    model: TwoStepModel, checkpoint: Path, level3: Level3, output: Path, options: ConvertOptions
) -> ConvertJob:
    source = level3.path
    n_rows, n_cols = gctx_shape(source)
    if n_cols == 0:
        raise ValueError(f"{source} holds no profiles")
    rows = input_rows(model, level3.row_meta)  # GeneSpaceMismatch names missing genes
    stat = source.stat()
    return ConvertJob(
        output=str(output),
        checkpoint=str(checkpoint.absolute()),
        checkpoint_sha256=sha256_file(checkpoint),
        input=str(source.absolute()),
        input_bytes=stat.st_size,
        input_mtime_ns=stat.st_mtime_ns,
        input_shape=(n_rows, n_cols),
        input_rows=tuple(int(row) for row in rows),
        n_outputs=len(model.output_genes),
        n_profiles=min(options.limit or n_cols, n_cols),
        chunk_size=options.chunk_size,
        dtype=options.dtype,
        autocast=options.autocast,
        device=options.device,
        input_tables=tuple(f"{k} {v}" for k, v in level3.identity().items()),
    )


def _open_work(
    work: WorkFolder, job: ConvertJob, model: TwoStepModel, *, force: bool, level3: Level3
) -> None:
    """Resume the work folder's job if it is this one; else refuse, or discard it with force."""
    if work.exists():
        try:
            differences = job.differences(work.load_job())
        except (ValueError, KeyError, TypeError) as error:
            differences = [f"an unreadable job.json ({error})"]
        if differences and not force:
            raise JobMismatch(
                f"{work.path} holds an unfinished conversion with another "
                f"{'; another '.join(differences)}; run its own command to finish it, or pass "
                "--force to discard it"
            )
        if differences:
            shutil.rmtree(work.path)
    work.save_job(job)
    if not work.partial.exists():
        work.drop_records()
        create_output(
            work.partial,
            source=Path(job.input),
            n_profiles=job.n_profiles,
            genes=list(model.output_genes),
            dtype=job.dtype,
            name=Path(job.output).name,
            col_meta=level3.inst,
        )


def _checked_records(work: WorkFolder, job: ConvertJob, progress: Progress) -> dict[int, Any]:
    """The recorded chunks whose bytes still match their record; the others' records go."""
    records = work.read_records(job)
    wrong = _mismatches(work, records)
    for index in wrong:
        work.drop_record(index)
    if wrong:
        progress.note(f"chunks {name_some(wrong)} differ from their records: converting again")
    if records:
        progress.note(f"resuming: {len(records) - len(wrong)} of {job.n_chunks} chunks done")
    return {index: record for index, record in records.items() if index not in wrong}


def _mismatches(work: WorkFolder, records: Mapping[int, ChunkRecord]) -> list[int]:
    """Indexes of the records whose chunk, read back from the output, hashes otherwise."""
    if not records:
        return []
    output = OutputFile(work.partial)
    try:
        with ThreadPoolExecutor(VERIFY_THREADS) as pool:
            sums = pool.map(lambda r: output.checksum(r.start, r.stop), records.values())
            return [i for (i, r), s in zip(records.items(), sums, strict=True) if s != r.sha256]
    finally:
        output.close()


def _require_space(work: WorkFolder, job: ConvertJob, profiles: int) -> None:
    needed = profiles * job.n_outputs * np.dtype(job.dtype).itemsize
    free = shutil.disk_usage(work.path).free
    if needed > free:
        raise ValueError(
            f"the output needs {needed / 1e9:,.1f} GB more and {work.path.parent} has "
            f"{free / 1e9:,.1f} GB free"
        )


def _finish(
    work: WorkFolder,
    job: ConvertJob,
    model: TwoStepModel,
    checked: set[int],
    started: float,
    command: str,
) -> dict[str, Any]:
    """Check every chunk and the file, write the manifest, move both beside the output."""
    records = work.read_records(job)
    missing = [index for index in range(job.n_chunks) if index not in records]
    if missing:
        raise ChunkMismatch(f"chunks {name_some(missing)} have no record; run the command again")
    wrong = _mismatches(work, {i: r for i, r in records.items() if i not in checked})
    for index in wrong:
        work.drop_record(index)
    if wrong:
        raise ChunkMismatch(f"chunks {name_some(wrong)} differ from their records; run again")
    if gctx_shape(work.partial) != (job.n_outputs, job.n_profiles):
        raise ChunkMismatch(f"{work.partial}: the file's layout does not read back")
    seconds = time.perf_counter() - started
    manifest = profiles_manifest(
        job=job, model=model, records=records, seconds=seconds, command=command
    )
    write_json(work.manifest, manifest)
    if manifest["synthetic_world"]:  # the profiles of a generated world say so, as its files do
        mark_synthetic(work.partial, manifest["synthetic_world"])
    os.replace(work.partial, job.output)
    return _move_into_place(work, Path(job.output))


def _move_into_place(work: WorkFolder, output: Path) -> dict[str, Any]:
    """The last steps, after the output's rename: its manifest beside it, the work folder gone."""
    manifest: dict[str, Any] = json.loads(work.manifest.read_text())
    os.replace(work.manifest, manifest_path(output))
    shutil.rmtree(work.path)
    return manifest

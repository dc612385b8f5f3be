"""The chunk pipeline: read -> host-to-device -> compute -> device-to-host -> write -> verify.

    reader thread    input columns of chunk i+1 into a (pinned) host buffer
    main thread      chunk i through `DeviceStage` (CUDA streams: copies overlap compute)
    writer threads   chunks i-1, i-2 from their host buffers into the output (pwrite, fdatasync;
                     two side by side on a GPU, whose chunks come faster than one stream writes)
    verifier pool    chunks written: read back, compared, hashed, recorded in the work folder

Host buffers circulate through free pools (INPUT_BUFFERS and OUTPUT_BUFFERS of `chunk_size`
profiles), so memory is fixed by the chunk size whatever the number of profiles. A chunk counts
as done only when its record is written, after its bytes were flushed and read back. Any stage's
error stops the others and is raised by `run`.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import h5py
import numpy as np
import torch

from transform.convert.compute import ChunkModel, DeviceStage, host_buffer
from transform.convert.job import Chunk, ChunkRecord, ConvertJob, WorkFolder
from transform.convert.output import OutputFile
from transform.io.chunked import ReadAhead, read_rows_of_columns
from transform.io.errors import refuse_non_finite
from transform.io.gctx import COL_META, MATRIX, ROW_META
from transform.io.hdf5 import read_field

INPUT_BUFFERS = 3
OUTPUT_BUFFERS = 5  # one being filled, two written, two being verified
CPU_WRITERS = 1
GPU_WRITERS = 2  # chunks written (pwrite + fdatasync) side by side: a deeper queue for the disk
VERIFY_THREADS = max(1, min(4, (os.cpu_count() or 1) // 2))
POLL_S = 0.05


class InputReader:
    """Chunks of Level 3 profiles, restricted to the model's input rows, in its order.

    Reads only the stored chunks that hold input rows (`read_rows_of_columns`): a file chunked
    CMap's way (1000 genes x 262 profiles) with the landmarks in its first 1,000 rows costs a
    13th of its bytes; whole-profile chunks are read whole. While it reads a chunk, the kernel
    is asked for it and for the next one (`ReadAhead`), to keep several disk reads in flight.
    A row the model takes twice is read once. docs/benchmarks/level3-read.md has the figures.
    A chunk holding NaN or infinite values is refused as read, naming its profiles and genes,
    before anything of it is computed or written.
    """

    def __init__(
        self, path: str, rows: Sequence[int], chunk_size: int, end: int | None = None
    ) -> None:
        """end: the job's last profile + 1 (read-ahead stops there; default: the file's end)."""
        self.path = path
        self.file = h5py.File(path, "r")
        self.matrix = self.file[MATRIX]  # (n_cols, n_rows) profiles x probes
        self.end = self.matrix.shape[0] if end is None else min(end, self.matrix.shape[0])
        positions = np.asarray(rows, dtype=np.int64)
        unique, inverse = np.unique(positions, return_inverse=True)
        self.positions = positions  # the input genes' rows, in the model's order
        self.rows, self.inverse = positions, inverse
        self.block: np.ndarray | None = None
        if len(unique) < len(positions):  # read each row once, then repeat it
            self.rows = unique
            self.block = np.empty((chunk_size, len(unique)), dtype=self.matrix.dtype)
        self.ahead = ReadAhead(self.matrix)
        self.hinted = -1  # where the last read-ahead hint ended

    def read(self, chunk: Chunk, out: np.ndarray) -> None:
        """(chunk.size, n_input) values into the first rows of `out`."""
        if chunk.start != self.hinted:  # the first chunk, or one the last hint did not foresee
            self.ahead.hint(chunk.start, chunk.stop, self.rows)
        following = min(chunk.stop + chunk.size, self.end)
        if chunk.stop < following:
            self.ahead.hint(chunk.stop, following, self.rows)
        self.hinted = chunk.stop
        values = out[: chunk.size]
        if self.block is None:
            read_rows_of_columns(self.matrix, chunk.start, chunk.stop, self.rows, values)
        else:
            block = self.block[: chunk.size]
            read_rows_of_columns(self.matrix, chunk.start, chunk.stop, self.rows, block)
            values[:] = np.take(block, self.inverse, axis=1)
        if not np.isfinite(values).all():
            genes = read_field(self.file[ROW_META]["id"])[self.positions]
            at = np.arange(chunk.start, chunk.stop)
            profiles = read_field(self.file[COL_META]["id"], at)
            refuse_non_finite(values.T, self.path, list(genes), list(profiles))

    def close(self) -> None:
        self.ahead.close()
        self.file.close()


@dataclass
class _Buffer:
    tensor: torch.Tensor  # host memory, (chunk_size, n) rows of profiles
    ready: torch.cuda.Event | None = None  # the device is done with it once this has fired
    overflow: torch.Tensor | None = None  # CUDA float16 outputs: inf found on the device

    @property
    def array(self) -> np.ndarray:
        return self.tensor.numpy()

    def wait(self) -> None:
        if self.ready is not None:
            self.ready.synchronize()
            self.ready = None


# (chunk, its input buffer) for the device; None: no more chunks
_ComputeQueue: TypeAlias = queue.Queue[tuple[Chunk, _Buffer] | None]
# (chunk, its output buffer, the autocast check) for the writer; None: no more chunks
_WriteQueue: TypeAlias = queue.Queue[tuple[Chunk, _Buffer, dict[str, Any] | None] | None]
_Item = TypeVar("_Item")


class StageClock:
    """Seconds spent in each stage (summed over its threads), for the run's closing note."""

    STAGES = ("read", "wait for an output buffer", "wait for the device", "write", "verify")

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(self.STAGES, 0.0)
        self.lock = threading.Lock()

    def timed(self, stage: str, run: Callable[..., Any], *args: object) -> Any:
        started = time.perf_counter()
        try:
            return run(*args)
        finally:
            with self.lock:
                self.seconds[stage] += time.perf_counter() - started

    def line(self, wall_s: float) -> str:
        parts = ", ".join(f"{stage} {s:,.1f}" for stage, s in self.seconds.items())
        return f"stage seconds over {wall_s:,.1f} s: {parts} (summed over the threads)"


class _Stopped(Exception):
    """Another stage failed; this one stops."""


class _Failure:
    """The first error of any stage; waits on queues give up once there is one."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self.happened = threading.Event()

    def take(self, source: queue.Queue[_Item]) -> _Item:
        while not self.happened.is_set():
            try:
                return source.get(timeout=POLL_S)
            except queue.Empty:
                continue
        raise _Stopped

    def guard(self, stage: Callable[..., None]) -> Callable[..., None]:
        def guarded(*args: object) -> None:
            try:
                stage(*args)
            except _Stopped:
                pass
            except BaseException as error:
                self.errors.append(error)
                self.happened.set()

        return guarded

    def raise_first(self) -> None:
        if self.errors:
            raise self.errors[0]


class Pipeline:
    """Converts chunks of a job into its output; buffers are kept from one run to the next."""

    def __init__(
        self,
        job: ConvertJob,
        model: ChunkModel,
        work: WorkFolder,
        *,
        on_chunk: Callable[[ChunkRecord], None] | None = None,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.job, self.model, self.work = job, model, work
        self.on_chunk, self.note = on_chunk, note
        self.stage = DeviceStage(model.device)
        self.device = device_name(model.device)
        pinned = model.device.type == "cuda"
        self.writers = GPU_WRITERS if pinned else CPU_WRITERS
        self.free_inputs: queue.Queue[_Buffer] = queue.Queue()
        self.free_outputs: queue.Queue[_Buffer] = queue.Queue()
        for _ in range(INPUT_BUFFERS):
            tensor = host_buffer(job.chunk_size, model.n_inputs, torch.float32, pinned=pinned)
            self.free_inputs.put(_Buffer(tensor))
        check_on_device = pinned and model.dtype == torch.float16
        for _ in range(OUTPUT_BUFFERS):
            tensor = host_buffer(job.chunk_size, model.n_outputs, model.dtype, pinned=pinned)
            overflow = torch.zeros(1, dtype=torch.bool).pin_memory() if check_on_device else None
            self.free_outputs.put(_Buffer(tensor, overflow=overflow))

    def run(self, chunks: Sequence[Chunk]) -> None:
        failure = _Failure()
        self.clock, started = StageClock(), time.perf_counter()
        to_compute: _ComputeQueue = queue.Queue()
        to_write: _WriteQueue = queue.Queue()
        reader = InputReader(
            self.job.input, self.job.input_rows, self.job.chunk_size, end=self.job.n_profiles
        )
        output = OutputFile(self.work.partial)
        try:
            with ThreadPoolExecutor(VERIFY_THREADS, thread_name_prefix="verify") as verifiers:
                threads = [
                    threading.Thread(
                        target=failure.guard(self._read), args=(reader, chunks, to_compute, failure)
                    )
                ]
                threads += [
                    threading.Thread(
                        target=failure.guard(self._write),
                        args=(output, to_write, verifiers, failure),
                    )
                    for _ in range(self.writers)
                ]
                for thread in threads:
                    thread.start()
                failure.guard(self._compute)(to_compute, to_write, failure)
                for thread in threads:
                    thread.join()
        finally:
            reader.close()
            output.close()
        failure.raise_first()
        if self.note and chunks:
            self.note(self.clock.line(time.perf_counter() - started))

    def _read(
        self,
        reader: InputReader,
        chunks: Sequence[Chunk],
        to_compute: _ComputeQueue,
        failure: _Failure,
    ) -> None:
        for chunk in chunks:
            buffer = failure.take(self.free_inputs)
            buffer.wait()
            self.clock.timed("read", reader.read, chunk, buffer.array)
            to_compute.put((chunk, buffer))
        to_compute.put(None)

    def _compute(self, to_compute: _ComputeQueue, to_write: _WriteQueue, failure: _Failure) -> None:
        while (item := failure.take(to_compute)) is not None:
            chunk, inputs = item
            outputs = self.clock.timed("wait for an output buffer", failure.take, self.free_outputs)
            rows = slice(0, chunk.size)
            check = self._check_autocast(chunk, inputs.tensor[rows])
            inputs.ready, outputs.ready = self.stage.run(
                self.model, inputs.tensor[rows], outputs.tensor[rows], outputs.overflow
            )
            self.free_inputs.put(inputs)
            to_write.put((chunk, outputs, check))
        for _ in range(self.writers):
            to_write.put(None)

    def _check_autocast(self, chunk: Chunk, inputs: torch.Tensor) -> dict[str, Any] | None:
        if chunk.index != 0 or self.model.autocast is None:
            return None
        check = self.model.check_autocast(inputs)
        if self.note:
            self.note(autocast_line(check))
        return check

    def _write(
        self,
        output: OutputFile,
        to_write: _WriteQueue,
        verifiers: ThreadPoolExecutor,
        failure: _Failure,
    ) -> None:
        while (item := failure.take(to_write)) is not None:
            chunk, buffer, check = item
            self.clock.timed("wait for the device", buffer.wait)
            infinite = None if buffer.overflow is None else bool(buffer.overflow.item())
            self.clock.timed(
                "write", output.write, chunk.start, buffer.array[: chunk.size], infinite
            )
            verifiers.submit(failure.guard(self._verify), output, chunk, buffer, check)

    def _verify(
        self, output: OutputFile, chunk: Chunk, buffer: _Buffer, check: dict[str, Any] | None
    ) -> None:
        sha256 = self.clock.timed(
            "verify", output.checksum, chunk.start, chunk.stop, buffer.array[: chunk.size]
        )
        self.free_outputs.put(buffer)
        record = ChunkRecord(
            chunk.index, chunk.start, chunk.stop, sha256, device=self.device, autocast_check=check
        )
        self.work.write_record(record)
        if self.on_chunk:
            self.on_chunk(record)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def autocast_line(check: dict[str, Any]) -> str:
    return (
        f"autocast {check['autocast']} against float32 on the first chunk "
        f"({check['profiles']:,} profiles): max |difference| {check['max_abs_diff']:.4g}, "
        f"PCC {check['pcc']:.6f}"
    )

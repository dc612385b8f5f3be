"""A conversion job and its work folder: what is converted, and which chunks are done.

    out.gctx.work/
        job.json         the job: checkpoint SHA-256, input identity, chunking, dtype, input rows
        profiles.gctx    the output being filled (created whole, see `transform.convert.output`)
        done/000012.json one record per finished chunk: profile range, SHA-256 of its stored
                         bytes, device and host; written to a temporary name and renamed
        manifest.json    the final manifest, moved beside the output as the last step

A chunk is done when its record exists and its bytes in the output still hash to the record's
checksum. A record that does not parse is no record: its chunk is computed again.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, astuple, dataclass, field, fields
from pathlib import Path
from typing import Any

from transform.job_identity import job_differences

JOB_FORMAT = "lincs-transform-convert-job"
FORMAT_VERSION = 1

# What must be equal to resume a job, by the name the refusal gives it.
IDENTITY = {
    "checkpoint": ("checkpoint_sha256",),
    "input": (
        "input",
        "input_bytes",
        "input_mtime_ns",
        "input_shape",
        "input_rows",
        "input_tables",
    ),
    "chunking": ("chunk_size", "n_profiles"),
    "output dtype": ("dtype",),
    "autocast": ("autocast",),
}


@dataclass(frozen=True)
class Chunk:
    """Profiles start..stop-1 of the input (columns), chunk number `index`."""

    index: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class ConvertJob:
    """Everything a process needs to convert any chunk of the job (JSON round-trip)."""

    output: str  # the final GCTX path
    checkpoint: str
    checkpoint_sha256: str
    input: str
    input_bytes: int
    input_mtime_ns: int
    input_shape: tuple[int, int]  # (n_rows, n_cols) of the input, probes x profiles
    input_rows: tuple[int, ...]  # row positions of the model's input genes, in its order
    n_outputs: int
    n_profiles: int  # the first n_profiles columns are converted
    chunk_size: int
    dtype: str  # float32 | float16
    autocast: str | None  # None | bf16 | fp16
    device: str  # auto | cpu | cuda, resolved by each process
    input_tables: tuple[str, ...] = ()  # "gene_info <path> sha256:<hex>", inst_info alike

    @property
    def n_chunks(self) -> int:
        return -(-self.n_profiles // self.chunk_size)

    def chunk(self, index: int) -> Chunk:
        if not 0 <= index < self.n_chunks:
            raise ValueError(f"chunk {index} is outside 0..{self.n_chunks - 1}")
        start = index * self.chunk_size
        return Chunk(index, start, min(start + self.chunk_size, self.n_profiles))

    def chunks(self) -> list[Chunk]:
        return [self.chunk(index) for index in range(self.n_chunks)]

    def differences(self, other: ConvertJob) -> list[str]:
        """What differs from `other`, as 'input (input_bytes: 10 -> 12)'."""
        return job_differences(asdict(other), asdict(self), IDENTITY)

    def to_dict(self) -> dict[str, Any]:
        return {"format": JOB_FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> ConvertJob:
        if stored.get("format") != JOB_FORMAT:
            raise ValueError(f"not a conversion job: format {stored.get('format')!r}")
        values = {f.name: stored[f.name] for f in fields(cls) if f.name in stored}
        values["input_shape"] = tuple(values["input_shape"])
        values["input_rows"] = tuple(values["input_rows"])
        values["input_tables"] = tuple(values.get("input_tables", ()))
        return cls(**values)


@dataclass(frozen=True)
class ChunkRecord:
    """A finished chunk: its range, the SHA-256 of its stored bytes, where it was computed."""

    index: int
    start: int
    stop: int
    sha256: str
    device: str
    host: str = field(default_factory=socket.gethostname)
    autocast_check: dict[str, Any] | None = None  # accuracy against float32 (chunk 0 only)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> ChunkRecord:
        return cls(**{f.name: stored[f.name] for f in fields(cls) if f.name in stored})


class WorkFolder:
    """The work folder of a job: `<output>.work/` beside the output (see the module's doc)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.job_path = self.path / "job.json"
        self.partial = self.path / "profiles.gctx"
        self.done = self.path / "done"
        self.manifest = self.path / "manifest.json"

    @classmethod
    def beside(cls, output: Path) -> WorkFolder:
        return cls(output.with_name(output.name + ".work"))

    def exists(self) -> bool:
        return self.job_path.exists()

    def load_job(self) -> ConvertJob:
        return ConvertJob.from_dict(json.loads(self.job_path.read_text()))

    def save_job(self, job: ConvertJob) -> None:
        self.done.mkdir(parents=True, exist_ok=True)
        write_json_atomically(self.job_path, job.to_dict())

    def record_path(self, index: int) -> Path:
        return self.done / f"{index:06d}.json"

    def write_record(self, record: ChunkRecord) -> None:
        write_json_atomically(self.record_path(record.index), record.to_dict())

    def read_record(self, chunk: Chunk) -> ChunkRecord | None:
        """The chunk's record, or None when there is none, it does not parse or its range
        is not the chunk's."""
        try:
            record = ChunkRecord.from_dict(json.loads(self.record_path(chunk.index).read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return record if (record.index, record.start, record.stop) == astuple(chunk) else None

    def read_records(self, job: ConvertJob) -> dict[int, ChunkRecord]:
        """The valid records of the job's chunks, by chunk index."""
        indexes = sorted(int(p.stem) for p in self.done.glob("*.json") if p.stem.isdigit())
        found = {i: self.read_record(job.chunk(i)) for i in indexes if i < job.n_chunks}
        return {index: record for index, record in found.items() if record is not None}

    def drop_record(self, index: int) -> None:
        self.record_path(index).unlink(missing_ok=True)

    def drop_records(self) -> None:
        for path in self.done.glob("*.json"):
            path.unlink()


def write_json_atomically(path: Path, content: dict[str, Any]) -> None:
    """Write a temporary file (named by host and process), flush it to disk, rename it onto
    `path`: readers see the old file or the new one, never a part."""
    temp = path.with_name(f"{path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
    with open(temp, "w") as handle:
        handle.write(json.dumps(content, indent=1) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)

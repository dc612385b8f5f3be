"""Small file helpers shared by the formats: atomic replacement, tolerant decoding, checksums and
positioned writes."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"


@contextmanager
def replaced_atomically(path: str | Path) -> Iterator[Path]:
    """Yield `<path>.tmp` to write; it replaces `path` only if the block ends without an error."""
    path = Path(path)
    temp = path.with_name(path.name + ".tmp")
    try:
        yield temp
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    os.replace(temp, path)


def is_gzip(path: str | Path) -> bool:
    """Whether the file starts with the gzip signature (whatever its name)."""
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def sha256_file(path: str | Path, block: int = 2**22) -> str:
    """SHA-256 of a file's bytes (hex), read in blocks: the one file checksum of the project (the
    models, conversions and signatures here; the search index's files, downloads and signature
    metadata in the search app)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def write_at(fd: int, data: memoryview, at: int) -> None:
    """All of `data` into the open file `fd` from byte `at` on: os.pwrite, again for what a call
    did not take (a positioned write may take less than it was given)."""
    while data:
        written = os.pwrite(fd, data, at)
        data, at = data[written:], at + written

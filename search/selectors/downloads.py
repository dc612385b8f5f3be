"""The files on offer: the regular files directly inside DOWNLOADS_DIR, with size and SHA-256.

A name is served only if it is one of the listed files (no subfolders, no links out of the folder),
so no path a client sends can reach anything else. Checksums are computed once per file version and
cached in a hidden sidecar (`.NAME.sha256`, keyed by size and modification time). A file's
validators (RFC 9110): its SHA-256 as a strong ETag, its modification time as Last-Modified.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from transform.io.files import sha256_file as file_sha256

# (suffix, kind, description, media type) in the order the page lists them; one media type per
# suffix, the same for a whole file and a range of it (not the host's mimetypes table, which
# calls a .pt file "application/vnd.snesdev-page-table")
KINDS = (
    (".gctx", "matrix", "genes x columns, CMap GCTX (HDF5)", "application/x-hdf5"),
    (".gmt", "gene sets", "gene sets, GMT", "text/plain; charset=utf-8"),
    (".tsv", "table", "tab-separated table", "text/tab-separated-values; charset=utf-8"),
    (".txt", "table", "tab-separated table", "text/tab-separated-values; charset=utf-8"),
    (".pt", "model", "PyTorch model bundle", "application/octet-stream"),
    (".json", "manifest", "JSON manifest", "application/json"),
)
OTHER = ("file", "file", "application/octet-stream")


class DownloadNotFound(LookupError):
    """No file of that name is on offer."""


@dataclass(frozen=True, slots=True)
class DownloadFile:
    name: str
    path: Path
    size: int
    mtime: int  # seconds since the epoch: Last-Modified
    sha256: str
    kind: str
    description: str
    content_type: str

    @property
    def etag(self) -> str:
        """A strong entity tag: the file's SHA-256, quoted."""
        return f'"{self.sha256}"'

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "kind": self.kind,
            "description": self.description,
        }


def download_files(*, folder: Path) -> list[DownloadFile]:
    """Every file on offer, by kind then name; an absent folder offers nothing."""
    if not folder.is_dir():
        return []
    root = folder.resolve()
    found = []
    for path in root.iterdir():
        if path.name.startswith(".") or path.is_symlink() or not path.is_file():
            continue
        stat = path.stat()
        found.append(
            DownloadFile(
                path.name, path, stat.st_size, int(stat.st_mtime), _sha256(path), *_kind(path.name)
            )
        )
    order = {kind: at for at, (_, kind, _, _) in enumerate(KINDS)}
    return sorted(found, key=lambda item: (order.get(item.kind, len(order)), item.name))


def download_file(*, folder: Path, name: str) -> DownloadFile:
    """The file called `name` if it is on offer (names only: anything with a path is unknown)."""
    for item in download_files(folder=folder):
        if item.name == name:
            return item
    raise DownloadNotFound(f"no download called {name!r}")


def _kind(name: str) -> tuple[str, str, str]:
    for suffix, kind, description, content_type in KINDS:
        if name.endswith(suffix):
            return kind, description, content_type
    return OTHER


def _sha256(path: Path) -> str:
    stat = path.stat()
    key = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    sidecar = path.with_name(f".{path.name}.sha256")
    try:
        cached = json.loads(sidecar.read_text())
        if cached.get("key") == key:
            return str(cached["sha256"])
    except (OSError, ValueError, KeyError):
        pass
    sha256 = file_sha256(path)
    with contextlib.suppress(OSError):  # a read-only folder: recomputed next time
        sidecar.write_text(json.dumps({"key": key, "sha256": sha256}))
    return sha256

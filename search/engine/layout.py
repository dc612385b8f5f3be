"""The index directory: what it holds, its index.json, and the checks made before it serves.

    INDEX_DIR/index.json         the manifest of the current version (read by index_state too)
    INDEX_DIR/<version>/         one folder per built version; index.json names the current one
        genes.txt                the gene space, one symbol a line, in row order
        metadata.h5              signature metadata, row i = column i of the matrices
        ranks.npy                (G, N) uint16, gene-major: rank of gene g in signature j,
                                 1 = most lowered ... G = most raised (tied values share
                                 the largest rank of their run)
        values.npy               (G, N) float32, gene-major signature values (CD); optional
        value_stats.npy          (N, 2) float64: mean and population variance of each signature
        top_genes.npy            (N, 2, T) uint16: gene rows of the T most raised, T most lowered
        basis.npy                (G, d) float32: the PCA basis of the fast mode
        embedded.npy             (N, d) float32: the signatures in that basis
        fast.faiss               the FAISS index over embedded.npy
        flat.npy                 (N, G) float32 centred ranks, signature-major (FAISS flat IP
                                 path); only for indexes up to a size set at build

A new build writes a new version folder, then replaces index.json atomically, so a process that
opened the previous version keeps its files (memory maps) until it reloads; older folders beyond
the last KEEP_VERSIONS are removed.

Checks when a process opens the index: format version, every listed file present with its
recorded size, arrays of the recorded dtype and shape, and a sampled SHA-256 (the file size and
SAMPLE_BLOCKS blocks of 64 KiB at fixed offsets; cheap at any size). `verify_files(full=True)`
(`manage.py build_search_index --verify`) checks the full SHA-256s recorded at build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from search.engine.errors import IndexArtifactError
from search.engine.index_state import INDEX_MANIFEST
from transform.io.files import sha256_file

FORMAT_VERSION = 1
KEEP_VERSIONS = 2
SAMPLE_BLOCKS = 64
SAMPLE_BYTES = 1 << 16
ARRAYS = (
    "ranks",
    "values",
    "value_stats",
    "top_genes",
    "hub",
    "specificity",
    "basis",
    "embedded",
    "flat",
)


def sampled_sha256(path: Path) -> str:
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as file:
        for offset in np.linspace(0, max(size - SAMPLE_BYTES, 0), SAMPLE_BLOCKS).astype(np.int64):
            file.seek(int(offset))
            digest.update(file.read(SAMPLE_BYTES))
    return digest.hexdigest()


def describe_files(folder: Path, *, full: bool) -> dict[str, dict[str, object]]:
    """Size, checksums and (for arrays) dtype and shape of every file of a version folder."""
    files: dict[str, dict[str, object]] = {}
    for path in sorted(folder.iterdir()):
        entry: dict[str, object] = {
            "bytes": path.stat().st_size,
            "sampled_sha256": sampled_sha256(path),
        }
        if full:
            entry["sha256"] = sha256_file(path)
        if path.suffix == ".npy":
            array = np.load(path, mmap_mode="r")
            entry.update(dtype=str(array.dtype), shape=list(array.shape))
        files[path.name] = entry
    return files


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / INDEX_MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexArtifactError(f"no {INDEX_MANIFEST} in {directory}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IndexArtifactError(f"{path} is unreadable: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise IndexArtifactError(
            f"{path} has format version {found!r}; this engine reads {FORMAT_VERSION}"
        )
    return manifest


def version_folder(directory: Path, manifest: dict[str, Any]) -> Path:
    folder = Path(directory) / str(manifest.get("folder", ""))
    if not manifest.get("folder") or not folder.is_dir():
        raise IndexArtifactError(
            f"the version folder {folder} named by {INDEX_MANIFEST} is missing"
        )
    return folder


def check_files(folder: Path, files: dict[str, dict[str, Any]], *, full: bool = False) -> None:
    """Refuse a version folder whose files differ from what index.json recorded."""
    for name, entry in files.items():
        path = folder / name
        if not path.is_file():
            raise IndexArtifactError(f"{path} is missing")
        if path.stat().st_size != entry["bytes"]:
            raise IndexArtifactError(
                f"{path} has {path.stat().st_size} bytes, the index recorded {entry['bytes']}"
            )
        if "shape" in entry:
            array = _load(path)
            if str(array.dtype) != entry["dtype"] or list(array.shape) != entry["shape"]:
                raise IndexArtifactError(
                    f"{path} holds {array.dtype} {list(array.shape)}, the index recorded "
                    f"{entry['dtype']} {entry['shape']}"
                )
        checksum, kind = (sha256_file, "sha256") if full else (sampled_sha256, "sampled_sha256")
        if kind in entry and checksum(path) != entry[kind]:
            raise IndexArtifactError(f"{path} fails its {kind.replace('_', ' ')} check (corrupt)")


def _load(path: Path) -> np.ndarray:
    try:
        array: np.ndarray = np.load(path, mmap_mode="r")
        return array
    except (ValueError, OSError) as error:
        raise IndexArtifactError(f"{path} is not a readable .npy array: {error}") from error


def publish(directory: Path, folder: Path, manifest: dict[str, Any]) -> None:
    """Make folder the current version: write index.json atomically, drop old version folders."""
    path = Path(directory) / INDEX_MANIFEST
    tmp = path.with_name(f".{INDEX_MANIFEST}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    versions = sorted(
        (p for p in Path(directory).iterdir() if p.is_dir() and (p / "genes.txt").exists()),
        key=lambda p: p.stat().st_mtime,
    )
    for old in versions[:-KEEP_VERSIONS]:
        if old.name != folder.name:
            shutil.rmtree(old, ignore_errors=True)

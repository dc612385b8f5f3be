"""Writing an index as K shards by signature range, and its head.

Each shard (out/shard-0 ... shard-K-1) is a whole index directory of its range of signatures
(genes.txt, metadata.h5, ranks.npy, top_genes.npy, values.npy and value_stats.npy where the index
has values, hub.npy where it has one), opened by `SearchIndex.open` in its worker. The head
(out/head) is the index without its gene-major matrices: the gene space, every signature's
metadata, top genes, value statistics, hub, specificity compendium, reverse-search tables and
the fast mode's embedding and FAISS index, and in its index.json where the matrices are
(`in_shards`: the shards' column bounds and the matrices' dtypes). A web process that serves the
head asks the shards for what it would read from the matrices (matrices.py), so no one machine
holds them whole.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from search.engine import layout, reverse_tables
from search.engine.errors import InvalidQueryError
from search.engine.gene_major import copy_columns
from search.engine.index import SearchIndex
from search.engine.metadata import write_metadata

HEAD = "head"
# what a head keeps of an index: all but the gene-major matrices and the flat path's (N, G)
# matrix; the fast mode's files let its `similar` rescore candidates, not every signature
HEAD_FILES = (
    "genes.txt",
    "metadata.h5",
    "top_genes.npy",
    "value_stats.npy",
    "hub.npy",
    "specificity.npy",
    reverse_tables.FILE_NAME,
    "basis.npy",
    "embedded.npy",
    "fast.faiss",
)


def write_shards(
    index: SearchIndex, out: Path, k: int, progress: Callable[[str], None] | None = None
) -> list[Path]:
    """K shard indexes of `index`'s signatures in K ranges of (nearly) equal size, and the head
    (out/head); returns the shards' directories. The matrices' ranges are copied file to file
    (gene_major.copy_columns)."""
    n = index.n_signatures
    if not 1 <= k <= n:
        raise ValueError(f"{k} shards of {n} signatures: give 1 to {n}")
    if index.in_shards is not None:
        raise InvalidQueryError(f"{index.folder} is a head: split the index it came from")
    bounds = np.linspace(0, n, k + 1).astype(np.int64)
    directories = []
    for shard, (start, stop) in enumerate(itertools.pairwise(bounds)):
        directory = Path(out) / f"shard-{shard}"
        _write_shard(index, directory, shard, bounds)
        directories.append(directory)
        if progress is not None:
            progress(f"shard {shard} of {k}: signatures {start:,} to {stop - 1:,} in {directory}")
    head = write_head(index, Path(out) / HEAD, bounds)
    if progress is not None:
        progress(f"the head (the index without its matrices, for the web process) in {head}")
    return directories


def _write_shard(
    index: SearchIndex, directory: Path, shard: int, bounds: NDArray[np.int64]
) -> None:
    start, stop = int(bounds[shard]), int(bounds[shard + 1])
    folder = _fresh(directory, index.version)
    shutil.copyfile(index.folder / "genes.txt", folder / "genes.txt")
    positions = np.arange(start, stop, dtype=np.int64)
    write_metadata(folder / "metadata.h5", index.table.rows(positions))
    copy_columns(index.folder / "ranks.npy", start, stop, folder / "ranks.npy")
    if index.values is not None and index.value_stats is not None:  # the 'cd' score's
        copy_columns(index.folder / "values.npy", start, stop, folder / "values.npy")
        np.save(folder / "value_stats.npy", np.asarray(index.value_stats[start:stop]))
    np.save(folder / "top_genes.npy", np.asarray(index.top_genes[start:stop]))
    if index.hub is not None:
        np.save(folder / "hub.npy", np.asarray(index.hub))
    k, n = bounds.size - 1, index.n_signatures
    manifest = {
        "format_version": layout.FORMAT_VERSION,
        "version": f"{index.version}-shard-{shard}",
        "folder": index.version,
        "gene_space": index.manifest.get("gene_space", {}),
        "n_signatures": stop - start,
        "shard": {"number": shard, "of": k, "start": start, "stop": stop, "n": n},
        "files": layout.describe_files(folder, full=False),
    }
    layout.publish(directory, folder, manifest)


def write_head(index: SearchIndex, directory: Path, bounds: NDArray[np.int64]) -> Path:
    """The head of `index` split at `bounds` (K + 1 signature positions): its files but the
    matrices, under the index's own version (the shards check it), and index.json saying where
    the matrices are."""
    folder = _fresh(directory, index.version)
    for name in HEAD_FILES:
        if (index.folder / name).exists():
            shutil.copyfile(index.folder / name, folder / name)
    matrices = {"ranks": str(index.ranks.dtype)}
    if index.values is not None and index.value_stats is not None:
        matrices["values"] = str(index.values.dtype)
    kept = {key: value for key, value in index.manifest.items() if key != "files"}
    manifest: dict[str, Any] = {
        **kept,
        "format_version": layout.FORMAT_VERSION,
        "version": index.version,
        "folder": index.version,
        "in_shards": {"bounds": [int(b) for b in bounds], "matrices": matrices},
        "files": layout.describe_files(folder, full=False),
    }
    layout.publish(directory, folder, manifest)
    return directory


def _fresh(directory: Path, version: str) -> Path:
    """directory/version, made empty (the directory's earlier contents removed)."""
    if directory.exists():
        shutil.rmtree(directory)
    folder = directory / version
    folder.mkdir(parents=True)
    return folder

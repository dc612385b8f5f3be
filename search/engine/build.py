"""Build an index directory from signatures, in one streaming pass of bounded memory.

`build_index(source, directory, settings)` takes any SignatureSource (the signature pipeline's
GCTX through `GctxSource`, or the benchmark's generator) and writes a new version folder (see
layout.py), then publishes it:
1. order the signatures by BuildSettings.order_by (perturbation type, cell line, perturbagen), so
   a filter on those reads a contiguous span of columns;
2. fit the fast mode's PCA basis on a random sample of signatures (standardized centred ranks);
3. stream blocks of signatures: rank each (ties take the largest rank, as SigCom's), write the
   gene-major ranks (and values), the value statistics, the top genes, the embedding and, for
   small indexes, the signature-major flat vectors;
4. build the FAISS index over the embedding, calibrate the fast mode and measure its recall@100
   against exact mode on held-out queries (recall.py);
5. record sizes, dtypes, shapes and checksums in index.json and make the folder current.

The version is written in `.build-<host>-<pid>-<time>/` inside the index directory and renamed
into place at the end; a failed build removes it. A build killed outright (SIGKILL, a lost
machine) cannot, so each build first removes the build folders of this host whose process is
gone (`remove_dead_builds`); those of a live process, or of another host, are left alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np
import pandas as pd
from numpy.typing import DTypeLike, NDArray

from search.engine import layout, recall, specificity
from search.engine.backends.radix import float32_ranks
from search.engine.fast import FLAT_UP_TO, build_faiss, fit_basis
from search.engine.gene_major import GeneMajorWriter
from search.engine.index import SearchIndex
from search.engine.metadata import write_metadata
from transform.gene_space import gene_list_sha256

MAX_GENES_IN_SPACE = 32767  # uint16 ranks, two of which add without overflow
BUILD_PREFIX = ".build-"  # the folder a version is written in: .build-<host>-<pid>-<time>


class SignatureSource(Protocol):
    genes: list[str]  # the gene space, in row order
    metadata: pd.DataFrame  # one row per signature: sig_id and metadata columns, source order

    def read(self, positions: np.ndarray) -> np.ndarray:
        """Signatures at sorted source positions: (len, G) values (float, or int keys)."""
        ...


@dataclass(frozen=True)
class BuildSettings:
    top_genes: int = 250  # per signature and direction, for the signature view
    reference_queries: int = 128  # the specificity compendium (specificity.py); 0: none
    embedding_dim: int = 64
    pq_from: int = FLAT_UP_TO  # a product-quantized FAISS index beyond this many signatures
    sample: int = 10_000  # signatures the PCA basis is fitted on
    block: int = 1024  # signatures per streaming block
    threads: int = 2  # blocks computed side by side
    store_values: bool = True  # values.npy: the "cd" score, gene views with CD values
    flat_max_bytes: int = 1 << 30  # flat.npy (N x G float32) when it is at most this big
    order_by: tuple[str, ...] = ("pert_type", "cell_id", "pert_iname")
    recall_queries: int = 40  # half calibrate the fast mode, half measure its recall@100
    recall_target: float = 0.99
    full_checksums: bool = True  # full SHA-256s too (sampled ones always)
    seed: int = 0


def build_index(
    source: SignatureSource,
    directory: Path,
    settings: BuildSettings = BuildSettings(),
    *,
    provenance: dict[str, Any] | None = None,
    companions: Mapping[str, Path] | None = None,
    reference_gene_sets: Sequence[tuple[str, Sequence[str], Sequence[str]]] = (),
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Write a new version of the index in directory and make it current; returns index.json.

    companions: files copied into the version (checksummed with it), such as the signature
    pipeline's reverse-search tables (reverse_tables.FILE_NAME). reference_gene_sets: (name, up,
    down) gene sets among the specificity compendium's reference queries (specificity.py).
    """
    started = time.perf_counter()
    genes, meta = _checked(source)
    order = _order(meta, settings.order_by)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    remove_dead_builds(directory, progress)
    work = directory / f"{BUILD_PREFIX}{socket.gethostname()}-{os.getpid()}-{int(time.time())}"
    work.mkdir()
    try:
        return _build_in(
            work,
            source,
            genes,
            meta,
            order,
            directory,
            settings,
            started,
            provenance=provenance,
            companions=companions,
            reference_gene_sets=reference_gene_sets,
            progress=progress,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)  # renamed away on success; gone on failure


def remove_dead_builds(
    directory: Path, progress: Callable[[str], None] = lambda _: None
) -> list[Path]:
    """Remove the build folders that killed builds of this host left in `directory`: those whose
    process no longer runs (a folder of the older `.build-<pid>-<time>` form counts as this
    host's). Returns the folders removed."""
    removed = []
    for folder in sorted(directory.glob(f"{BUILD_PREFIX}*")):
        host, _, pid = folder.name[len(BUILD_PREFIX) :].rsplit("-", 1)[0].rpartition("-")
        if not folder.is_dir() or not pid.isdigit() or host not in ("", socket.gethostname()):
            continue
        if not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            progress(f"removed {folder.name}, left by a build that was killed")
            removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _build_in(
    work: Path,
    source: SignatureSource,
    genes: list[str],
    meta: pd.DataFrame,
    order: np.ndarray,
    directory: Path,
    settings: BuildSettings,
    started: float,
    *,
    provenance: dict[str, Any] | None,
    companions: Mapping[str, Path] | None,
    reference_gene_sets: Sequence[tuple[str, Sequence[str], Sequence[str]]],
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Every file of the version into `work`, then renamed into place and published."""
    (work / "genes.txt").write_text("".join(f"{g}\n" for g in genes), encoding="utf-8")
    write_metadata(work / "metadata.h5", meta.iloc[order].reset_index(drop=True))
    basis = _basis(source, len(genes), settings)
    np.save(work / "basis.npy", basis)
    embedded = _stream(source, order, len(genes), basis, work, settings, progress)
    fast_index = build_faiss(embedded, flat_up_to=settings.pq_from, seed=settings.seed)
    faiss.write_index(fast_index, str(work / "fast.faiss"))
    progress("calibrating the fast mode against exact mode")
    fast = recall.calibrate(work, settings)
    compendium = None
    if settings.reference_queries:
        progress("the specificity compendium")
        opened = SearchIndex(work, {"version": work.name})
        queries = specificity.reference_queries(
            opened, settings.reference_queries, reference_gene_sets, settings.seed
        )
        compendium = specificity.build_compendium(opened, work, queries)
    for name, path in (companions or {}).items():
        shutil.copyfile(path, work / name)
    progress("checksums")
    files = layout.describe_files(work, full=settings.full_checksums)
    version = _version(files)
    manifest: dict[str, Any] = {
        "format_version": layout.FORMAT_VERSION,
        "version": version,
        "folder": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "gene_space": {
            "n_genes": len(genes),
            "sha256": gene_list_sha256(genes),
        },
        "n_signatures": len(meta),
        "by_pert_type": meta["pert_type"].astype(str).value_counts().to_dict()
        if "pert_type" in meta
        else {},
        "score": {
            "default": "rank",
            "scores": {
                "rank": "SigCom LINCS two-sided rank test: z_up, z_down, z_sum = z_up - z_down",
                "cd": "CD-weighted connectivity: mean CD of up genes - mean CD of down genes",
            },
        },
        "fast": fast,
        "recall_at_100": fast["recall_at_100"],
        "specificity": compendium,
        "build": {**asdict(settings), "seconds": round(time.perf_counter() - started, 1)},
        "source": provenance or {},
        "files": files,
        "versions": {"numpy": np.__version__, "pandas": pd.__version__, "faiss": faiss.__version__},
    }
    work.rename(directory / version)
    layout.publish(directory, directory / version, manifest)
    return manifest


def _checked(source: SignatureSource) -> tuple[list[str], pd.DataFrame]:
    genes = [str(g) for g in source.genes]
    if not 10 <= len(genes) <= MAX_GENES_IN_SPACE:
        raise ValueError(f"a gene space of {len(genes)} genes; the index takes 10 to 32,767")
    repeated = pd.Index(genes)[pd.Index(genes).duplicated()].unique().tolist()
    if repeated:
        raise ValueError(f"the gene space repeats {', '.join(repeated[:5])}")
    meta = source.metadata.reset_index(drop=True)
    if "sig_id" not in meta or meta["sig_id"].duplicated().any() or len(meta) == 0:
        raise ValueError("the signatures need unique sig_id values (and at least one signature)")
    return genes, meta


def _order(meta: pd.DataFrame, keys: tuple[str, ...]) -> np.ndarray:
    present = [key for key in keys if key in meta]
    if not present:
        return np.arange(len(meta))
    order: np.ndarray = meta.sort_values(present, kind="stable").index.to_numpy()
    return order


def _basis(source: SignatureSource, n_genes: int, settings: BuildSettings) -> np.ndarray:
    n = len(source.metadata)
    rng = np.random.default_rng(settings.seed)
    sample = np.sort(rng.choice(n, min(n, settings.sample), replace=False))
    blocks = [
        standardized(ranks_of(source.read(sample[i : i + settings.block]))[0], n_genes)
        for i in range(0, sample.size, settings.block)
    ]
    return fit_basis(np.concatenate(blocks), settings.embedding_dim, settings.seed)


def ranks_of(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ranks, order) of each row: ranks 1 = smallest ... G (uint16), and the stable sort order.

    Tied values share the largest rank of their run, as SigCom LINCS's rank files do (its
    `ranksHash`: sort, then each value maps to the last index it holds), so [0.5, -1, 0, 0.5]
    ranks [4, 1, 2, 4]; `order` keeps ties in gene order (the top genes of a signature).
    float32 rows, the signatures' own type, go through a compiled radix sort (backends/radix.py,
    about 3 times numpy's argsort at 23,614 genes). For other floats a quicksort is kept for the
    rows without ties and the rare rows with ties are sorted again, stably. 16-bit keys take
    numpy's stable radix sort directly."""
    if not np.all(np.isfinite(values)):
        raise ValueError("a signature holds NaN or infinite values")
    if values.dtype == np.float32:
        return float32_ranks(values)
    if values.dtype.itemsize <= 2:
        order = np.argsort(values, axis=1, kind="stable")
    else:
        order = np.argsort(values, axis=1)
    ordered = np.take_along_axis(values, order, axis=1)
    tied = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
    if values.dtype.itemsize > 2:
        for row in tied:
            order[row] = np.argsort(values[row], kind="stable")
    ranks = np.empty(values.shape, dtype=np.uint16)
    np.put_along_axis(ranks, order, np.arange(1, values.shape[1] + 1, dtype=np.uint16)[None], 1)
    if tied.size:
        ranks[tied] = _tied_ranks(values[tied], order[tied])
    return ranks, order


def _tied_ranks(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Ranks where tied values take the largest rank of their run (rows of values, sort order)."""
    ordered = np.take_along_axis(values, order, axis=1)
    n = values.shape[1]
    last = np.ones(values.shape, dtype=bool)
    last[:, :-1] = ordered[:, 1:] != ordered[:, :-1]
    at = np.where(last, np.arange(n)[None], n)
    run_end = np.minimum.accumulate(at[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty(values.shape, dtype=np.uint16)
    np.put_along_axis(ranks, order, (run_end + 1).astype(np.uint16), 1)
    return ranks


def standardized(ranks: np.ndarray, n_genes: int) -> NDArray[np.float32]:
    """(rank - (G + 1) / 2) / sd of the ranks, float32."""
    sd = np.sqrt((n_genes**2 - 1) / 12)
    centred: NDArray[np.float32] = ((ranks.astype(np.float32) - (n_genes + 1) / 2) / sd).astype(
        np.float32
    )
    return centred


def _stream(
    source: SignatureSource,
    order: np.ndarray,
    n_genes: int,
    basis: np.ndarray,
    work: Path,
    settings: BuildSettings,
    progress: Callable[[str], None],
) -> np.ndarray:
    n = order.size
    top = min(settings.top_genes, n_genes)
    out = _Outputs(
        ranks=GeneMajorWriter(work / "ranks.npy", np.uint16, (n_genes, n), settings.block),
        top_genes=_memmap(work, "top_genes", np.uint16, (n, 2, top)),
        embedded=_memmap(work, "embedded", np.float32, (n, basis.shape[1])),
    )
    if settings.store_values:
        out.values = GeneMajorWriter(work / "values.npy", np.float32, (n_genes, n), settings.block)
        out.value_stats = _memmap(work, "value_stats", np.float64, (n, 2))
    if n * n_genes * 4 <= settings.flat_max_bytes:
        out.flat = _memmap(work, "flat", np.float32, (n, n_genes))
    started = time.perf_counter()
    in_top = np.zeros((2, n_genes), dtype=np.int64)  # signatures with the gene in each top set
    try:
        for done, (first, block) in enumerate(
            _blocks(source, order, n_genes, basis, top, settings)
        ):
            _write_block(out, first, block)
            for side in (0, 1):
                in_top[side] += np.bincount(block.top[:, side].ravel(), minlength=n_genes)
            if done % 50 == 49:
                rate = (first + block.ranks.shape[0]) / (time.perf_counter() - started)
                progress(f"{first + block.ranks.shape[0]:,} of {n:,} signatures ({rate:,.0f}/s)")
        out.flush()
    finally:
        out.close()
    np.save(work / "hub.npy", (in_top / max(n, 1)).astype(np.float64))
    return np.asarray(out.embedded)


@dataclass(frozen=True)
class _Block:
    values: np.ndarray  # (c, G) as the source gave them
    ranks: np.ndarray  # (c, G) uint16
    top: np.ndarray  # (c, 2, T) gene rows: most raised first, most lowered first
    embedded: np.ndarray  # (c, d) float32


def _blocks(
    source: SignatureSource,
    order: np.ndarray,
    n_genes: int,
    basis: np.ndarray,
    top: int,
    settings: BuildSettings,
) -> Iterator[tuple[int, _Block]]:
    """The blocks of signatures in index order, computed by settings.threads threads (numpy
    releases the GIL), at most threads + 1 blocks ahead of the writer."""
    with ThreadPoolExecutor(max(1, settings.threads)) as pool:
        pending: deque[tuple[int, Future[_Block]]] = deque()
        for first in range(0, order.size, settings.block):
            wanted = order[first : first + settings.block]
            pending.append((first, pool.submit(_computed, source, wanted, n_genes, basis, top)))
            if len(pending) > settings.threads:
                ready, future = pending.popleft()
                yield ready, future.result()
        while pending:
            ready, future = pending.popleft()
            yield ready, future.result()


def _computed(
    source: SignatureSource, wanted: np.ndarray, n_genes: int, basis: np.ndarray, top: int
) -> _Block:
    sorter = np.argsort(wanted)
    got = source.read(wanted[sorter])
    values = np.empty_like(got)
    values[sorter] = got
    ranks, order = ranks_of(values)
    best = np.stack([order[:, ::-1][:, :top], order[:, :top]], axis=1).astype(np.uint16)
    return _Block(values, ranks, best, standardized(ranks, n_genes) @ basis)


def _write_block(out: _Outputs, first: int, block: _Block) -> None:
    last = first + block.ranks.shape[0]
    out.ranks.put(first, block.ranks.T)
    if out.values is not None and out.value_stats is not None:  # written together
        out.values.put(first, block.values.T)
        out.value_stats[first:last, 0] = block.values.mean(axis=1, dtype=np.float64)
        out.value_stats[first:last, 1] = block.values.var(axis=1, dtype=np.float64)
    out.top_genes[first:last] = block.top
    out.embedded[first:last] = block.embedded
    if out.flat is not None:
        n_genes = block.ranks.shape[1]
        out.flat[first:last] = block.ranks.astype(np.float32) - np.float32((n_genes + 1) / 2)


@dataclass
class _Outputs:
    """The arrays of a version being written, in the order they are created and flushed: the
    gene-major ones through a buffer; values and value_stats with store_values, flat when small."""

    ranks: GeneMajorWriter
    top_genes: np.memmap[Any, np.dtype[Any]]
    embedded: np.memmap[Any, np.dtype[Any]]
    values: GeneMajorWriter | None = None
    value_stats: np.memmap[Any, np.dtype[Any]] | None = None
    flat: np.memmap[Any, np.dtype[Any]] | None = None

    def flush(self) -> None:
        arrays: tuple[GeneMajorWriter | np.memmap[Any, np.dtype[Any]] | None, ...] = (
            self.ranks,
            self.top_genes,
            self.embedded,
            self.values,
            self.value_stats,
            self.flat,
        )
        for array in arrays:
            if array is not None:
                array.flush()

    def close(self) -> None:
        """Close the gene-major files (after a failure too: no descriptor is left open)."""
        for matrix in (self.ranks, self.values):
            if matrix is not None:
                matrix.close()


def _memmap(
    work: Path, name: str, dtype: DTypeLike, shape: tuple[int, ...]
) -> np.memmap[Any, np.dtype[Any]]:
    return np.lib.format.open_memmap(work / f"{name}.npy", mode="w+", dtype=dtype, shape=shape)


def _version(files: dict[str, dict[str, Any]]) -> str:
    digest = hashlib.sha256(
        json.dumps(
            {name: entry.get("sha256", entry["sampled_sha256"]) for name, entry in files.items()},
            sort_keys=True,
        ).encode()
    ).hexdigest()
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{digest[:10]}"

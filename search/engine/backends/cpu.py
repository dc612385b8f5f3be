"""The exact scoring kernels: sums over a gene-major matrix, dense products, FAISS flat IP.

- `set_sums`: for a gene set, each selected signature's values (ranks or CD) summed over its
  genes: a gather of the set's rows of the gene-major matrix, so it reads n_set_genes x
  n_selected entries and nothing else (the bytes-touched floor of a gene-set query). uint16
  ranks go through the compiled loops of `compiled` (uint32 sums, at the memory bandwidth); float
  values (CD) through numpy, row by row, in float64.
- `dense_products`: w . column for every selected column (a whole-signature query), block by block.
- `flat_products`: the same inner products from signature-major float32 vectors through FAISS
  (`faiss.pairwise_distances`, inner product), or on a GPU through `faiss.pairwise_distance_gpu`.
Threads: the selection is cut into `threads` contiguous parts scored side by side (numba, numpy
and FAISS release the GIL); 1 thread (the default) suits a web worker serving one query at a time.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

from search.engine.backends import compiled
from search.engine.metadata import Selection

BLOCK_COLUMNS = 1 << 15  # signatures per block of the dense and flat products
BLOCK_GENES = 512
SMALL_GATHER = 1 << 22  # entries gathered in one fancy-indexing call


def set_sums(
    matrix: np.ndarray, genes: np.ndarray, selection: Selection, threads: int = 1
) -> NDArray[Any]:
    """Sum over `genes` (row numbers) of matrix[gene, column] for the selected columns.

    uint16 ranks give uint32 sums (exact); float values give float64 sums."""
    return _split(selection, threads, lambda part: _set_sums(matrix, np.sort(genes), part))


def _set_sums(matrix: np.ndarray, genes: np.ndarray, part: Selection) -> np.ndarray:
    if matrix.dtype == np.uint16:
        return _rank_sums(matrix, genes, part)
    if not part.read_span and part.size * genes.size <= SMALL_GATHER:  # a few candidates
        gathered: NDArray[np.float64] = matrix[np.ix_(genes, part.positions)].sum(
            axis=0, dtype=np.float64
        )
        return gathered
    if part.read_span:

        def row(g: int) -> np.ndarray:
            span: np.ndarray = matrix[g, part.start : part.stop]
            return span

    else:

        def row(g: int) -> np.ndarray:
            taken: np.ndarray = matrix[g].take(part.positions)
            return taken

    total = np.zeros(part.stop - part.start if part.read_span else part.size)
    for g in genes:
        np.add(total, row(g), out=total)
    if part.read_span and not part.is_span:
        return total[part.positions - part.start]
    return total


def _rank_sums(matrix: np.ndarray, genes: np.ndarray, part: Selection) -> np.ndarray:
    """uint32 rank sums through the compiled loops: a span read whole, or scattered columns."""
    genes = np.ascontiguousarray(genes, dtype=np.int64)
    if not part.read_span:
        total = np.empty(part.size, dtype=np.uint32)
        compiled.rank_sums_at(matrix, genes, part.positions, total)
        return total
    total = np.empty(part.stop - part.start, dtype=np.uint32)
    compiled.rank_sums(matrix, genes, part.start, part.stop, total)
    return total if part.is_span else total[part.positions - part.start]


def dense_products(
    matrix: np.ndarray, weights: np.ndarray, selection: Selection, threads: int = 1
) -> np.ndarray:
    """weights (G,) . matrix[:, column] for every selected column, in float64."""

    def run(part: Selection) -> np.ndarray:
        out = np.empty(part.size)
        for first in range(0, part.size, BLOCK_COLUMNS):
            columns = part.positions[first : first + BLOCK_COLUMNS]
            lo, hi = int(columns[0]), int(columns[-1]) + 1
            total = np.zeros(columns.size)
            for g in range(0, matrix.shape[0], BLOCK_GENES):
                block = matrix[g : g + BLOCK_GENES, lo:hi]
                if hi - lo != columns.size:
                    block = block[:, columns - lo]
                total += weights[g : g + BLOCK_GENES] @ block.astype(np.float64)
            out[first : first + columns.size] = total
        return out

    return _split(selection, threads, run)


def column_products(matrix: np.ndarray, weights: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """weights (G,) . matrix[:, c] for a few columns c (candidates), in float64."""
    order = np.argsort(columns)
    out = np.empty(columns.size)
    block = matrix[:, columns[order]].astype(np.float64)
    out[order] = weights @ block
    return out


def flat_products(
    vectors: np.ndarray,
    queries: np.ndarray,
    selection: Selection,
    *,
    gpu: bool = False,
    threads: int = 1,
) -> np.ndarray:
    """queries (q, G) . vectors[column] for the selected columns (vectors: (N, G) float32),
    through FAISS: (q, n) float32."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    distances = _gpu_distances if gpu else _cpu_distances

    def run(part: Selection) -> np.ndarray:
        out = np.empty((queries.shape[0], part.size), dtype=np.float32)
        for first in range(0, part.size, BLOCK_COLUMNS):
            columns = part.positions[first : first + BLOCK_COLUMNS]
            lo, hi = int(columns[0]), int(columns[-1]) + 1
            block = vectors[lo:hi] if hi - lo == columns.size else vectors[columns]
            out[:, first : first + columns.size] = distances(queries, np.ascontiguousarray(block))
        return out

    return _split(selection, 1 if gpu else threads, run, axis=1)


def gpu_available() -> bool:
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def _cpu_distances(queries: np.ndarray, block: np.ndarray) -> np.ndarray:
    return faiss.pairwise_distances(queries, block, faiss.METRIC_INNER_PRODUCT)


def _gpu_distances(queries: np.ndarray, block: np.ndarray) -> np.ndarray:
    return faiss.pairwise_distance_gpu(
        _gpu_resources(), queries, block, metric=faiss.METRIC_INNER_PRODUCT
    )


@functools.cache
def _gpu_resources() -> faiss.StandardGpuResources:
    return faiss.StandardGpuResources()


@functools.cache
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="search-engine")


def _split(
    selection: Selection, threads: int, run: Callable[[Selection], np.ndarray], axis: int = 0
) -> np.ndarray:
    """run over `threads` contiguous parts of the selection, results joined in order."""
    if threads <= 1 or selection.size < 2 * BLOCK_COLUMNS:
        return run(selection)
    cuts = np.linspace(0, selection.size, threads + 1).astype(np.int64)
    parts = []
    for lo, hi in itertools.pairwise(cuts):
        positions = selection.positions[lo:hi]
        parts.append(Selection(positions, int(positions[0]), int(positions[-1]) + 1))
    return np.concatenate(list(_pool(threads).map(run, parts)), axis=axis)

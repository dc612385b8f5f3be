"""A slice of the index: some signatures x some genes, read in blocks (bounded memory).

The values are the signatures' characteristic-direction coefficients where the index stores them
(values.npy), else their ranks (ranks.npy, 1 = most lowered). Both matrices are gene-major; a
block reads the asked genes' rows at the asked signatures' columns only (numpy's fancy indexing
of the memory map), so a block of b genes x k signatures holds b x k numbers in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from search.engine.index import SearchIndex

BLOCK_CELLS = 1 << 22  # numbers per block (16 MiB of float32)


def slice_kind(index: SearchIndex) -> str:
    """What a slice holds: "cd" (stored values) or "rank"."""
    return "cd" if index.values is not None else "rank"


def _source(index: SearchIndex) -> NDArray[Any]:
    """The gene-major matrix a slice reads: the stored values, else the ranks."""
    return index.values if index.values is not None else index.ranks


def gene_blocks(
    index: SearchIndex, gene_rows: NDArray[np.int64], positions: NDArray[np.int64]
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.float32]]]:
    """(gene rows, values (rows x signatures)) block after block, genes in the order given."""
    source = _source(index)
    step = max(1, BLOCK_CELLS // max(1, positions.size))
    for start in range(0, gene_rows.size, step):
        rows = gene_rows[start : start + step]
        yield rows, np.asarray(source[np.ix_(rows, positions)], dtype=np.float32)


def signature_blocks(
    index: SearchIndex, gene_rows: NDArray[np.int64], positions: NDArray[np.int64]
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.float32]]]:
    """(signature positions, values (genes x signatures)) block after block, in the order given."""
    source = _source(index)
    step = max(1, BLOCK_CELLS // max(1, gene_rows.size))
    for start in range(0, positions.size, step):
        at = positions[start : start + step]
        yield at, np.asarray(source[np.ix_(gene_rows, at)], dtype=np.float32)

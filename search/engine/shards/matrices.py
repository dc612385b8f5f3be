"""The gene-major matrices of a head (writing.py), read from the shards that hold their columns.

A head's `ranks` and `values` are MatrixInShards: read with the memory map's own indexing, as the
index's gene pages, signature pages, slices and `similar` read it (a gene's row, a signature's
column, a few genes of one signature, np.ix_ cells), and each read asked of the shards that hold
the columns asked (answering.shard_cells), side by side, the blocks put back in the order asked.
Before shards are attached (`SearchIndex.attach`, which a ShardedIndex of the head does) a read
is refused with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from search.engine.errors import IndexArtifactError
from search.engine.shards.calls import by_shard
from search.engine.shards.transport import encoded

# ask(call, {shard number: its payload}) -> the answers, in the payloads' order
Ask = Callable[[str, Mapping[int, Mapping[str, Any]]], list[dict[str, Any]]]
Rows = NDArray[np.int64] | None  # None: every row (or column)


@dataclass(frozen=True)
class MatrixInShards:
    """Matrix `name` ((genes, signatures), gene-major) whose columns lie in the shards at
    `bounds` (K + 1 signature positions); `ask` reaches the shards once they are attached."""

    name: str
    shape: tuple[int, int]
    dtype: np.dtype
    bounds: NDArray[np.int64]
    ask: Ask | None = None

    ndim = 2

    def asking(self, ask: Ask) -> MatrixInShards:
        return replace(self, ask=ask)

    def __getitem__(self, key: Any) -> np.ndarray:
        """A row (int), a column ((slice(None), int)), rows of a column ((rows, int)) or cells
        ((rows (r, 1), columns (1, c)), as np.ix_ gives them)."""
        if isinstance(key, int | np.integer):
            row: np.ndarray = self.cells(np.array([key], dtype=np.int64), None)[0]
            return row
        if isinstance(key, tuple) and len(key) == 2:
            rows, column = key
            if isinstance(column, int | np.integer):
                whole = isinstance(rows, slice) and rows == slice(None)
                picked = None if whole else np.asarray(rows, dtype=np.int64)
                if picked is None or picked.ndim == 1:
                    return self.cells(picked, np.array([column], dtype=np.int64))[:, 0]
            elif np.ndim(rows) == 2 and np.ndim(column) == 2:
                return self.cells(
                    np.asarray(rows, dtype=np.int64).ravel(),
                    np.asarray(column, dtype=np.int64).ravel(),
                )
        raise TypeError(
            f"a matrix in shards reads a row, a column, rows of a column or np.ix_ cells, "
            f"not {key!r}"
        )

    def cells(self, rows: Rows, columns: Rows) -> np.ndarray:
        """The (rows, columns) block, columns in the order given (None: every one)."""
        ask = self._asking()
        n_rows = self.shape[0] if rows is None else rows.size
        if columns is None:
            every = self._payload(rows, None)
            parts = ask("cells", {n: every for n in range(self.bounds.size - 1)})
            return np.concatenate(
                [np.empty((n_rows, 0), self.dtype), *(part["cells"] for part in parts)], axis=1
            )
        held = by_shard(self.bounds, columns)
        payloads = {
            n: self._payload(rows, columns[mask] - self.bounds[n]) for n, mask in held.items()
        }
        out = np.empty((n_rows, columns.size), dtype=self.dtype)
        for (_, mask), part in zip(held.items(), ask("cells", payloads), strict=True):
            out[:, mask] = part["cells"]
        return out

    def _payload(self, rows: Rows, columns: Rows) -> dict[str, Any]:
        return {"matrix": self.name, **encoded({"rows": rows, "columns": columns})}

    def _asking(self) -> Ask:
        if self.ask is None:
            raise IndexArtifactError(
                f"the index's {self.name} matrix is in {self.bounds.size - 1} shards and no "
                "shard is attached: serve it with SEARCH_SHARDS set to that number"
            )
        return self.ask

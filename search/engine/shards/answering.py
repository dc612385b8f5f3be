"""A shard's side: each call a sharded index makes (calls.Shard), answered from one shard index.

Every call first checks that this shard is the part it is asked as (`_check_part`). The search
calls answer over the signatures the payload's filters select in this shard; `shard_cells` reads
the shard's matrices for an index whose own matrices are only in its shards (matrices.py), and
`shard_products` scores a signature's centred ranks against every selected signature, or against
the fast mode's candidates it holds (`SearchIndex.similar` on such an index).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from search.engine import scores
from search.engine.backends import cpu
from search.engine.errors import InvalidQueryError
from search.engine.index import SearchIndex
from search.engine.metadata import Selection
from search.engine.running import Running
from search.engine.searching import GeneQuery, gene_query, gpu_backend, value_sums
from search.engine.shards.calls import ShardMismatchError
from search.engine.shards.transport import decoded

MAX_CELLS = 1 << 26  # numbers one cells call reads (256 MB of float32)


def shard_summary(shard: SearchIndex, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The shard's Running over its selected signatures, and how many it selected; with its two
    rank sums as well (as shard_sums sends them) when payload["sums_first"] is "always", or is
    "guess" (the default) and the shard's own state would need every signature for an FDR."""
    query, selection, up, down = _asked(shard, payload)
    run = Running.empty()
    mode, k = payload["mode"], int(payload["k"])
    if selection.size:
        places = np.arange(selection.size, dtype=np.int64)
        run.add(shard.n_genes, query, mode, k, scores.largest_read(k), places, up, down)
    answer: dict[str, Any] = {"selected": selection.size, **run.arrays()}
    send = payload.get("sums_first", "guess")
    if send == "always" or (
        send == "guess" and run.needs_every(shard.n_genes, query, mode, k, selection.size)
    ):
        answer.update(up=up, down=down)
    return answer


def shard_sums(shard: SearchIndex, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The shard's two rank sums (uint32) of its selected signatures."""
    _, _, up, down = _asked(shard, payload)
    return {"up": up, "down": down}


def shard_value_sums(shard: SearchIndex, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The shard's 'cd' score inputs over its selected signatures (searching.value_sums)."""
    query, selection = _query_of(shard, payload)
    up, down, stats = value_sums(shard, query, selection)
    return {"selected": selection.size, "up": up, "down": down, "stats": stats}


def shard_cells(shard: SearchIndex, payload: Mapping[str, Any]) -> dict[str, Any]:
    """payload["matrix"] ("ranks" or "values") of this shard at the payload's gene rows and
    signature columns (positions in the shard; either None for all of them), as a (rows,
    columns) block."""
    _check_part(shard, payload["part"])
    asked = decoded(payload)
    name = asked["matrix"]
    matrix = {"ranks": shard.ranks, "values": shard.values}.get(name)
    if matrix is None:
        raise InvalidQueryError(f"this shard has no {name!r} matrix", field="matrix")
    rows, columns = asked.get("rows"), asked.get("columns")
    n_rows = matrix.shape[0] if rows is None else len(rows)
    n_columns = matrix.shape[1] if columns is None else len(columns)
    if n_rows * n_columns > MAX_CELLS:
        raise InvalidQueryError(
            f"{n_rows:,} x {n_columns:,} cells in one call: at most {MAX_CELLS:,}", field="cells"
        )
    if rows is None:
        cells = matrix[:, columns] if columns is not None else matrix[:, :]
    elif columns is None:
        cells = matrix[rows]
    else:
        cells = matrix[np.ix_(rows, columns)]
    return {"cells": np.ascontiguousarray(cells)}


def shard_products(shard: SearchIndex, payload: Mapping[str, Any]) -> dict[str, Any]:
    """payload["column"] (a signature's ranks over every gene, centred here on the middle rank)
    times each signature the payload's filters select in this shard, or each of its "columns"
    (positions in the shard), in float64: products of half-integers and integers below 2**53,
    so exact in any order of addition."""
    _check_part(shard, payload["part"])
    asked = decoded(payload)
    centred = asked["column"].astype(np.float64) - (shard.n_genes + 1) / 2
    if asked.get("columns") is not None:  # these signatures only (the fast mode's candidates)
        columns = asked["columns"]
        if columns.size and (columns.min() < 0 or columns.max() >= shard.n_signatures):
            raise InvalidQueryError(
                f"signature positions outside this shard's {shard.n_signatures}"
            )
        return {"products": cpu.column_products(shard.ranks, centred, columns)}
    selection = shard.table.select(payload["filters"])
    products = cpu.dense_products(shard.ranks, centred, selection, shard.threads)
    return {"selected": selection.size, "products": products}


def _asked(
    shard: SearchIndex, payload: Mapping[str, Any]
) -> tuple[GeneQuery, Selection, NDArray[np.uint32], NDArray[np.uint32]]:
    """The payload's query on this shard, the signatures its filters select, and its two sides'
    rank sums over them."""
    query, selection = _query_of(shard, payload)
    up, down = (_sums(shard, rows, selection) for rows in (query.up, query.down))
    return query, selection, up, down


def _query_of(shard: SearchIndex, payload: Mapping[str, Any]) -> tuple[GeneQuery, Selection]:
    """The payload's query on this shard and the signatures its filters select, once the shard is
    the one the payload asks for."""
    _check_part(shard, payload["part"])
    return gene_query(shard, payload["up"], payload["down"], min_genes=1), shard.table.select(
        payload["filters"]
    )


def _check_part(shard: SearchIndex, asked: Mapping[str, Any]) -> None:
    """A ShardMismatchError unless `shard` is part asked["number"] of asked["of"] of the index
    version asked["index"] with asked["n"] signatures, as write_shards recorded in its manifest."""
    part = shard.manifest.get("shard") or {}
    serves = {
        "number": part.get("number"),
        "of": part.get("of"),
        "index": shard.manifest.get("folder"),
        "n": part.get("n"),
    }
    if serves != {name: asked[name] for name in serves}:
        raise ShardMismatchError(
            f"asked for shard {asked['number']} of {asked['of']} of index {asked['index']} "
            f"({asked['n']:,} signatures), this one is shard {serves['number']} of "
            f"{serves['of']} of index {serves['index']} ({serves['n'] or 0:,}): write the shards "
            "again from the index the web process serves (manage.py build_search_index --shards "
            "K), or point the worker at its shard (SEARCH_SHARD_DIR)",
            asked=dict(asked),
            serves=serves,
        )


def _sums(shard: SearchIndex, rows: NDArray[np.int64], selection: Selection) -> NDArray[np.uint32]:
    """A side's rank sums over the shard's selected signatures: on the GPU when torch sees one
    (the shard's ranks in device memory; the same integers), else on the CPU."""
    if not rows.size:
        return np.zeros(selection.size, dtype=np.uint32)
    if gpu_backend(shard) == "torch":
        return shard.device_ranks().set_sums(rows, selection)
    return np.ascontiguousarray(cpu.set_sums(shard.ranks, rows, selection, shard.threads))


@dataclass
class LocalShard:
    """A shard opened in this process."""

    index: SearchIndex

    def summary(self, payload: dict[str, Any]) -> dict[str, Any]:
        return shard_summary(self.index, payload)

    def sums(self, payload: dict[str, Any]) -> dict[str, Any]:
        return shard_sums(self.index, payload)

    def value_sums(self, payload: dict[str, Any]) -> dict[str, Any]:
        return shard_value_sums(self.index, payload)

    def cells(self, payload: dict[str, Any]) -> dict[str, Any]:
        return shard_cells(self.index, payload)

    def products(self, payload: dict[str, Any]) -> dict[str, Any]:
        return shard_products(self.index, payload)

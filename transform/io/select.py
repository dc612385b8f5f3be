"""Row or column selections: ids or positions in the caller's order, read in sorted order.

h5py reads scattered rows only at increasing, unique positions. Readers therefore resolve a
selection to positions (`resolve_positions`), read at the sorted positions and put the result back
into the caller's order (`take_in_order`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from transform.io.errors import UnknownIdError, name_some

Selection: TypeAlias = Iterable[str] | Iterable[int] | np.ndarray | pd.Index


def resolve_positions(
    requested: Selection | None,
    ids: pd.Index,
    *,
    what: str,
    source: str | Path,
    aliases: Mapping[str, int] | None = None,
) -> np.ndarray | None:
    """Positions among `ids` of the requested ids (str) or positions (int), in the caller's order.

    None stands for everything. A text id not among `ids` is looked up in `aliases` (text ->
    position), e.g. gene symbols. Unknown ids, positions out of range and repeats are refused
    with an error that names them.
    """
    if requested is None:
        return None
    items = requested if isinstance(requested, np.ndarray | pd.Index) else list(requested)
    if _all_integers(items):
        positions = np.asarray(items, dtype=np.int64)
        outside = positions[(positions < 0) | (positions >= len(ids))]
        if len(outside):
            shown = name_some(outside.tolist())
            raise UnknownIdError(f"{source}: {what} positions outside 0..{len(ids) - 1}: {shown}")
    elif _all_text(items):
        positions = _positions_of_ids(items, ids, aliases or {})
        unknown = [item for item, at in zip(items, positions, strict=True) if at < 0]
        if unknown:
            shown = name_some(unknown)
            raise UnknownIdError(
                f"{source}: {len(unknown)} of {len(positions)} requested {what} ids are not in "
                f"the file: {shown}"
            )
    else:
        raise TypeError(f"a {what} selection must be all ids (str) or all positions (int)")
    _refuse_repeats(positions, ids, what)
    return positions


def _positions_of_ids(
    items: list[Any] | np.ndarray | pd.Index, ids: pd.Index, aliases: Mapping[str, int]
) -> np.ndarray:
    """Position of each id among `ids`, else under its alias, else -1."""
    positions: np.ndarray = ids.get_indexer(pd.Index(items, dtype=object)).astype(np.int64)
    if aliases:
        aliased = np.asarray([aliases.get(item, -1) for item in items], dtype=np.int64)
        positions = np.where(positions >= 0, positions, aliased)
    return positions


def _all_integers(items: list[Any] | np.ndarray | pd.Index) -> bool:
    if isinstance(items, np.ndarray | pd.Index):
        return items.dtype.kind in "iu"
    return all(isinstance(item, int | np.integer) and not isinstance(item, bool) for item in items)


def _all_text(items: list[Any] | np.ndarray | pd.Index) -> bool:
    return all(isinstance(item, str) for item in items)


def _refuse_repeats(positions: np.ndarray, ids: pd.Index, what: str) -> None:
    unique, counts = np.unique(positions, return_counts=True)
    if (counts > 1).any():
        repeated = ids[unique[counts > 1]].tolist()
        raise ValueError(f"the {what} selection asks for {name_some(repeated)} more than once")


def chunk_positions(n: int, chunk_size: int) -> Iterator[np.ndarray]:
    """Consecutive position ranges of at most `chunk_size` covering 0..n-1."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    for start in range(0, n, chunk_size):
        yield np.arange(start, min(start + chunk_size, n))


def take_in_order(
    read: Callable[[np.ndarray | None], np.ndarray], positions: np.ndarray | None, axis: int = 0
) -> np.ndarray:
    """`read(sorted positions)` (slices along `axis`), returned in the order of `positions`."""
    if positions is None:
        return read(None)
    ordered = np.sort(positions)
    return np.take(read(ordered), np.searchsorted(ordered, positions), axis=axis)

"""What a coordinator asks of its shards, and how: the calls, their errors, the scatter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from search.engine.errors import PortalError
from search.engine.metadata import Selection


class ShardUnavailableError(PortalError):
    """A shard did not answer (no worker, a worker lost, a timeout): no answer is given."""


class ShardMismatchError(ShardUnavailableError):
    """A shard asked for one part of an index serves another: another number or count of shards,
    or another index version (shards not written again after a new build). Its answer would be
    another index's signatures in this one's places, so it gives none (a 503, as for a shard
    that does not answer)."""


class Shard(Protocol):
    """What a sharded index asks of each shard (answering.py answers each)."""

    def summary(self, payload: dict[str, Any]) -> dict[str, Any]: ...

    def sums(self, payload: dict[str, Any]) -> dict[str, Any]: ...

    def value_sums(self, payload: dict[str, Any]) -> dict[str, Any]: ...

    def cells(self, payload: dict[str, Any]) -> dict[str, Any]: ...

    def products(self, payload: dict[str, Any]) -> dict[str, Any]: ...


def scatter(
    shards: Sequence[Shard],
    whole: Mapping[str, Any],
    call: str,
    payloads: Mapping[int, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The answer to `call` of each shard numbered in `payloads`, given its own payload, in the
    payloads' order, the shards asked side by side, each told which part of which index it is
    asked as (`whole`: the index version, the number of shards and of signatures; the shard's
    number added)."""

    def ask(number: int) -> dict[str, Any]:
        part = {**whole, "number": number}
        answer: dict[str, Any] = getattr(shards[number], call)({**payloads[number], "part": part})
        return answer

    numbers = list(payloads)
    if len(numbers) == 1:
        return [ask(numbers[0])]
    with ThreadPoolExecutor(max_workers=len(numbers)) as pool:
        return list(pool.map(ask, numbers))


def by_shard(
    bounds: NDArray[np.int64], positions: NDArray[np.int64]
) -> dict[int, NDArray[np.bool_]]:
    """For each shard holding some of `positions` (signature positions of the whole index, the
    shards' ranges at `bounds`), which of them it holds; an IndexError for a position outside."""
    n = int(bounds[-1])
    if positions.size and (positions.min() < 0 or positions.max() >= n):
        raise IndexError(f"signature positions outside 0 to {n - 1}")
    shard_of = np.searchsorted(bounds, positions, side="right") - 1
    return {int(number): shard_of == number for number in np.unique(shard_of)}


def covered(counts: list[int], selection: Selection) -> NDArray[np.int64]:
    """Where each shard's selected signatures start among the whole selection (and its size
    last); a ShardUnavailableError when the shards do not select what the index does."""
    selected: NDArray[np.int64] = np.cumsum([0, *counts])
    if selected[-1] != selection.size:
        raise ShardUnavailableError(
            f"the shards selected {selected[-1]:,} signatures, the index {selection.size:,}: "
            "they do not cover it"
        )
    return selected

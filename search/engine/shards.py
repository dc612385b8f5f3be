"""An index in shards: K indexes by signature range, searched together with the answer of one.

`write_shards(index, out, k)` writes K shard indexes (out/shard-0 ... shard-K-1), each a whole
index directory of its range of signatures (genes.txt, metadata.h5, ranks.npy, top_genes.npy,
and hub.npy where there is one) that any process opens with `SearchIndex.open` and serves with
`shard_summary` and `shard_sums`. `ShardedIndex(coordinator, shards)` searches them: the
coordinator holds the gene space and every signature's metadata (the unsplit index, whose rank
matrix it never reads); `shards` answer the two calls below, in shard order, in process
(`LocalShard`) or through Celery queues (search/shard_workers.py).

1. summary: each shard's `running.Running` over its selected signatures (its candidates for the
   top k, the largest |z| each FDR reads, fixed-bin counts) and how many it selected. Merged in
   shard order (places offset by the shards before), these give the top k and, in most cases,
   every FDR exactly (running.py says when and why);
2. sums, only when an FDR needs every signature sorted: each shard's two rank sums of its
   selected signatures (4 bytes each), and the coordinator ranks the query from them with the
   exact path's own code. A shard whose own summary would need every signature for an FDR
   guesses that the merged one will too and sends its sums with the summary
   (`Running.needs_every`), so that most such searches take one round; the coordinator asks the
   shards that did not for their sums (`ShardedIndex.sums_first` sets the guess to always or
   never, for tests and benchmarks).
The tau order (specificity.py) asks the shards' sums at once, and the coordinator, which holds the
specificity compendium beside the metadata (0.26 GB a million), orders the signatures by tau with
the exact path's own code. The 'cd' score asks one call, value_sums: each shard's two sums of CD
values and each selected signature's value mean and variance (32 bytes a signature), which the
coordinator scores and ranks with the exact path's own code; it needs shards written from an
index with values.
Either way the table equals `coordinator.search(..., path="exact")`'s, bit for bit
(tests/engine/test_shards.py). A shard that does not answer makes the search fail
(`ShardUnavailableError`), never a partial answer presented as whole. Every call tells the shard
which part of which index it is asked as (its number, K, the index version and size), and a shard
that serves another refuses (`ShardMismatchError`): shards of one size swapped, or left from an
earlier build, would otherwise answer with other signatures in their places.

Answers hold numpy arrays; a transport makes them travel (`encoded`/`decoded`: JSON with the
bytes in base64; search/runtime/shards.py puts large ones in Redis as they are).
"""

from __future__ import annotations

import base64
import itertools
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from search.engine import layout, scores
from search.engine.backends import cpu
from search.engine.errors import InvalidQueryError, PortalError
from search.engine.gene_major import copy_columns
from search.engine.index import SearchIndex
from search.engine.metadata import Selection, write_metadata
from search.engine.query import MIN_GENES
from search.engine.results import SearchResult
from search.engine.running import Running
from search.engine.searching import (
    GeneQuery,
    _check_options,
    _empty_table,
    _exact_ranked,
    _ranked,
    answer_fields,
    cd_scored,
    gene_query,
    gpu_backend,
    value_sums,
)

VALUES = ("up", "down", "stats")  # a shard's answer to value_sums


class ShardUnavailableError(PortalError):
    """A shard did not answer (no worker, a worker lost, a timeout): no answer is given."""


class ShardMismatchError(ShardUnavailableError):
    """A shard asked for one part of an index serves another: another number or count of shards,
    or another index version (shards not written again after a new build). Its answer would be
    another index's signatures in this one's places, so it gives none (a 503, as for a shard
    that does not answer)."""


class Shard(Protocol):
    """What a sharded search asks of each shard."""

    def summary(self, payload: dict[str, Any]) -> dict[str, Any]: ...

    def sums(self, payload: dict[str, Any]) -> dict[str, Any]: ...

    def value_sums(self, payload: dict[str, Any]) -> dict[str, Any]: ...


def write_shards(
    index: SearchIndex, out: Path, k: int, progress: Callable[[str], None] | None = None
) -> list[Path]:
    """K shard indexes of `index`'s signatures in K ranges of (nearly) equal size; returns their
    directories. The matrices' ranges are copied file to file (gene_major.copy_columns)."""
    n = index.n_signatures
    if not 1 <= k <= n:
        raise ValueError(f"{k} shards of {n} signatures: give 1 to {n}")
    bounds = np.linspace(0, n, k + 1).astype(np.int64)
    directories = []
    for shard, (start, stop) in enumerate(itertools.pairwise(bounds)):
        directory = Path(out) / f"shard-{shard}"
        folder = directory / index.version
        if directory.exists():
            shutil.rmtree(directory)
        folder.mkdir(parents=True)
        shutil.copyfile(index.folder / "genes.txt", folder / "genes.txt")
        positions = np.arange(start, stop, dtype=np.int64)
        write_metadata(folder / "metadata.h5", index.table.rows(positions))
        copy_columns(index.folder / "ranks.npy", int(start), int(stop), folder / "ranks.npy")
        if index.values is not None and index.value_stats is not None:  # the 'cd' score's
            copy_columns(index.folder / "values.npy", int(start), int(stop), folder / "values.npy")
            np.save(folder / "value_stats.npy", np.asarray(index.value_stats[start:stop]))
        np.save(folder / "top_genes.npy", np.asarray(index.top_genes[start:stop]))
        if index.hub is not None:
            np.save(folder / "hub.npy", np.asarray(index.hub))
        manifest = {
            "format_version": layout.FORMAT_VERSION,
            "version": f"{index.version}-shard-{shard}",
            "folder": index.version,
            "gene_space": index.manifest.get("gene_space", {}),
            "n_signatures": int(stop - start),
            "shard": {"number": shard, "of": k, "start": int(start), "stop": int(stop), "n": n},
            "files": layout.describe_files(folder, full=False),
        }
        layout.publish(directory, folder, manifest)
        directories.append(directory)
        if progress is not None:
            progress(f"shard {shard} of {k}: signatures {start:,} to {stop - 1:,} in {directory}")
    return directories


# the shard's side ---------------------------------------------------------------------------------
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


# the coordinator's side ---------------------------------------------------------------------------
@dataclass
class ShardedIndex:
    """Searches shards as one index: `coordinator` holds the gene space and all the metadata."""

    coordinator: SearchIndex
    shards: Sequence[Shard]
    # whether the summaries carry the sums: "guess" (each shard's), "always" or "never"
    sums_first: str = "guess"
    sums_asked: int = 0  # searches whose FDR needed the shards' rank sums (counted for benchmarks)
    second_rounds: int = 0  # of those, searches that asked a shard for them again

    def search(
        self,
        up: Sequence[str] = (),
        down: Sequence[str] = (),
        *,
        mode: str = "both",
        score: str = "rank",
        filters: Mapping[str, object] | None = None,
        k: int = 100,
        min_genes: int = MIN_GENES,
        order: str = "z",
    ) -> SearchResult:
        """What coordinator.search(up, down, ..., path="exact") answers, from the shards."""
        _check_options(mode, score, "exact", k)
        index = self.coordinator
        if order == "tau" and (score != "rank" or index.specificity is None):
            raise InvalidQueryError(
                "ordering by tau needs the rank score and an index built with a specificity "
                "compendium",
                field="order",
            )
        query = gene_query(index, up, down, min_genes=min_genes)
        selection = index.table.select(filters)
        report = index.table.filter_report(filters)
        payload = {
            "up": [index.genes[g] for g in query.up],
            "down": [index.genes[g] for g in query.down],
            "mode": mode,
            "filters": dict(filters or {}),
            "k": k,
            "sums_first": self.sums_first,
        }
        common = answer_fields(index, query, selection, mode, score, "exact", report)
        if selection.size == 0:
            table = _empty_table(index, score)
        elif score == "cd":
            table = self._cd_table(payload, query, selection, mode, k)
        elif order == "tau":
            given = self._sums(payload, selection)
            table = _exact_ranked(index, query, selection, mode, k, given=given, by_tau=True)
        else:
            table = self._rank_table(payload, query, selection, mode, k)
        return SearchResult(table=table, **common)

    def _rank_table(
        self, payload: dict[str, Any], query: GeneQuery, selection: Selection, mode: str, k: int
    ) -> pd.DataFrame:
        """The rank score's table from the merged summaries, or from every sum when an FDR needs
        every signature."""
        index = self.coordinator
        answers = self._scatter("summary", payload)
        selected = _covered([int(answer["selected"]) for answer in answers], selection)
        runs = [
            Running.from_arrays(answer, offset=int(offset))
            for answer, offset in zip(answers, selected[:-1], strict=True)
        ]
        merged = Running.merged(runs, k, scores.largest_read(k))
        table = merged.table(index, query, selection, mode, k)
        if table is None:  # an FDR needs every signature: the shards' sums, ranked here
            self.second_rounds += any("up" not in answer for answer in answers)
            given = self._sums(payload, selection, answers)
            table = _exact_ranked(index, query, selection, mode, k, given=given)
        return table

    def _cd_table(
        self, payload: dict[str, Any], query: GeneQuery, selection: Selection, mode: str, k: int
    ) -> pd.DataFrame:
        """The 'cd' score's table from the shards' sums of values and value statistics."""
        parts = self._scatter("value_sums", payload)
        _covered([int(part["selected"]) for part in parts], selection)
        up, down, stats = (np.concatenate([p[name] for p in parts]) for name in VALUES)
        scored = cd_scored(self.coordinator, query, selection, given=(up, down, stats))
        return _ranked(self.coordinator, query, scored, selection.size, mode, "cd", k, exact=True)

    def _sums(
        self, payload: dict[str, Any], selection: Selection, sent: Sequence[Mapping[str, Any]] = ()
    ) -> tuple[NDArray[np.uint32], NDArray[np.uint32]]:
        """The two sides' rank sums of every selected signature, from the shards in order: those
        `sent` with their summaries, the others asked now."""
        have: list[Mapping[str, Any] | None] = [a if "up" in a else None for a in sent]
        have = have or [None] * len(self.shards)
        missing = [number for number, answer in enumerate(have) if answer is None]
        asked = iter(self._scatter("sums", payload, missing) if missing else ())
        answers = [next(asked) if answer is None else answer for answer in have]
        parts = [{side: np.asarray(answer[side]) for side in ("up", "down")} for answer in answers]
        self.sums_asked += 1
        _covered([p["up"].size for p in parts], selection)
        up, down = (
            np.concatenate([np.empty(0, np.uint32), *(p[side] for p in parts)])
            for side in ("up", "down")
        )
        return up, down

    def _scatter(
        self, call: str, payload: dict[str, Any], numbers: Sequence[int] | None = None
    ) -> list[dict[str, Any]]:
        """Each shard's answer to `call` (every shard, or those numbered), in order, the shards
        asked side by side, each told which part of which index it is asked as."""
        numbers = range(len(self.shards)) if numbers is None else numbers
        index = self.coordinator
        whole = {"index": index.version, "of": len(self.shards), "n": index.n_signatures}

        def ask(number: int) -> dict[str, Any]:
            part = {**whole, "number": number}
            answer: dict[str, Any] = getattr(self.shards[number], call)({**payload, "part": part})
            return answer

        if len(numbers) == 1:
            return [ask(numbers[0])]
        with ThreadPoolExecutor(max_workers=len(numbers)) as pool:
            return list(pool.map(ask, numbers))


def _covered(counts: list[int], selection: Selection) -> NDArray[np.int64]:
    """Where each shard's selected signatures start among the whole selection (and its size
    last); a ShardUnavailableError when the shards do not select what the index does."""
    selected: NDArray[np.int64] = np.cumsum([0, *counts])
    if selected[-1] != selection.size:
        raise ShardUnavailableError(
            f"the shards selected {selected[-1]:,} signatures, the index {selection.size:,}: "
            "they do not cover it"
        )
    return selected


def encoded(answer: Mapping[str, Any]) -> dict[str, Any]:
    """A shard's answer made JSON-able: each array as its dtype, shape and bytes in base64."""
    return {
        name: _in_base64(*array_parts(value)) if isinstance(value, np.ndarray) else value
        for name, value in answer.items()
    }


def decoded(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The arrays of an answer `encoded` gave (other values as they are)."""
    return {
        name: array_of(value, base64.b64decode(value["data"])) if _is_array(value) else value
        for name, value in answer.items()
    }


def array_parts(array: np.ndarray) -> tuple[dict[str, Any], bytes]:
    """An array's layout (dtype, shape) and its bytes in C order, which array_of puts together."""
    return {"dtype": str(array.dtype), "shape": list(array.shape)}, array.tobytes()


def _in_base64(layout: dict[str, Any], raw: bytes) -> dict[str, Any]:
    return {**layout, "data": base64.b64encode(raw).decode("ascii")}


def _is_array(value: Any) -> bool:
    return isinstance(value, Mapping) and "dtype" in value and "shape" in value


def array_of(layout: Mapping[str, Any], raw: bytes) -> np.ndarray:
    """The array of `raw` bytes with layout's dtype and shape (writable: a copy)."""
    return np.frombuffer(raw, dtype=np.dtype(layout["dtype"])).reshape(layout["shape"]).copy()

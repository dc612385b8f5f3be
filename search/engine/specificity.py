"""Specificity (tau, as CLUE defines it): is a hit specific to this query, or does the signature
come up for every query?

At build, a compendium of reference queries is scored against every signature: the top
QUERY_GENES raised and lowered genes of a sample of the index's own signatures, drawn round-robin
over (perturbation type, cell line) so that every stratum is represented, plus the gene sets the
portal ships (search/reference/genesets, their X_up / X_down pairs). For each signature the |z_sum|
of every reference query is kept, sorted (specificity.npy: N x Q float16; Q = 128 by default, so
256 bytes a signature, 256 MB at 1,000,000 signatures).

A result's tau = sign(z_sum) x 100 x (the share of its signature's reference |z_sum| below its
|z_sum|): -100..100. tau 95 says the signature matched this query better than it matched 95 % of
the reference queries; a signature that matches every query strongly (a hub signature) gets a
modest tau even for a large z. Ties count half (the midpoint of the equal values), so a score equal
to all its references gets 50.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from search.engine.metadata import Selection
from search.engine.query import SideReport
from search.engine.results import QueryReport

if TYPE_CHECKING:
    from search.engine.index import SearchIndex

REFERENCE_QUERIES = 128
QUERY_GENES = 50
SPAN = 1 << 16  # signatures scored per pass over the reference queries (bounded memory)
FILE, DESCRIPTION = "specificity.npy", "specificity.json"


@dataclass(frozen=True)
class ReferenceQuery:
    name: str
    up: NDArray[np.int64]
    down: NDArray[np.int64]


def reference_queries(
    index: SearchIndex,
    n: int = REFERENCE_QUERIES,
    gene_sets: Sequence[tuple[str, Sequence[str], Sequence[str]]] = (),
    seed: int = 0,
) -> list[ReferenceQuery]:
    """The shipped gene sets (those with at least 5 genes a side in the index), then signatures
    drawn round-robin over (pert_type, cell_id) strata, each stratum shuffled, up to n in all."""
    queries = []
    for name, up, down in gene_sets:
        rows = [_rows(index, genes) for genes in (up, down)]
        if min(r.size for r in rows) >= 5:
            queries.append(ReferenceQuery(f"gene set {name}", rows[0], rows[1]))
    top = min(QUERY_GENES, index.top_genes.shape[2])
    for at in _stratified(index, max(0, n - len(queries)), seed):
        sides = [np.asarray(index.top_genes[at, side, :top], dtype=np.int64) for side in (0, 1)]
        queries.append(ReferenceQuery(str(index.table.sig_ids[at]), sides[0], sides[1]))
    return queries[:n]


def _rows(index: SearchIndex, genes: Sequence[str]) -> NDArray[np.int64]:
    rows = {index.gene_row(g) for g in genes} - {None}
    return np.array(sorted(r for r in rows if r is not None), dtype=np.int64)


def _stratified(index: SearchIndex, n: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    keys: list[str] = ["|".join(parts) for parts in _strata_columns(index)]
    strata: dict[str, list[int]] = {}
    for at in rng.permutation(index.n_signatures):
        strata.setdefault(keys[int(at)], []).append(int(at))
    picked: list[int] = []
    lists = [strata[key] for key in sorted(strata)]
    while len(picked) < min(n, index.n_signatures):
        for members in lists:
            if members and len(picked) < n:
                picked.append(members.pop())
    return picked


def _strata_columns(index: SearchIndex) -> Iterator[tuple[str, ...]]:
    columns = [
        np.asarray(index.table.columns[name]).astype(str)
        if name in index.table.columns
        else np.full(index.n_signatures, "")
        for name in ("pert_type", "cell_id")
    ]
    return zip(*columns, strict=True)


def build_compendium(
    index: SearchIndex, folder: Path, queries: Sequence[ReferenceQuery]
) -> dict[str, Any]:
    """Every signature's sorted |z_sum| over the reference queries into folder/FILE (float16),
    SPAN signatures at a time; the queries described in folder/DESCRIPTION."""
    from search.engine.searching import GeneQuery, score_query  # a cycle at import time

    n = index.n_signatures
    out = np.lib.format.open_memmap(
        folder / FILE, mode="w+", dtype=np.float16, shape=(n, len(queries))
    )
    report = QueryReport(SideReport(), SideReport())
    for start in range(0, n, SPAN):
        stop = min(n, start + SPAN)
        span = Selection(np.arange(start, stop, dtype=np.int64), start, stop)
        block = np.empty((stop - start, len(queries)), dtype=np.float64)
        for j, query in enumerate(queries):
            asked = GeneQuery(query.up, query.down, report)
            scored = score_query(index, asked, span, "rank", "exact")
            block[:, j] = np.abs(scored.z_up - scored.z_down)
        out[start:stop] = np.sort(block, axis=1).astype(np.float16)
    out.flush()
    description = {
        "queries": len(queries),
        "query_genes": QUERY_GENES,
        "drawn": "the top genes of signatures drawn round-robin over (pert_type, cell_id), after "
        "the shipped gene sets",
        "names": [q.name for q in queries],
        "bytes_per_signature": 2 * len(queries),
    }
    (folder / DESCRIPTION).write_text(json.dumps(description, indent=1) + "\n", encoding="utf-8")
    return {k: v for k, v in description.items() if k != "names"}


def row_taus(
    index: SearchIndex, sig_ids: Sequence[str], z_sum: NDArray[Any]
) -> NDArray[np.float64] | None:
    """The tau of result rows (their signatures' ids and z_sum), positions found in one lookup;
    None for an index built without a compendium."""
    if index.specificity is None:
        return None
    positions = index.table.positions([str(s) for s in sig_ids])
    return tau(index.specificity, positions, np.asarray(z_sum, dtype=np.float64))


def tau_chunked(
    reference: NDArray[np.float16], positions: NDArray[np.int64], z_sum: NDArray[Any]
) -> NDArray[np.float64]:
    """`tau` of many signatures (every signature searched, to rank by it), SPAN at a time, so
    that memory holds SPAN x Q reference scores, not N x Q."""
    out = np.empty(positions.size)
    for start in range(0, positions.size, SPAN):
        stop = start + SPAN
        out[start:stop] = tau(reference, positions[start:stop], z_sum[start:stop])
    return out


def tau(
    reference: NDArray[np.float16], positions: NDArray[np.int64], z_sum: NDArray[Any]
) -> NDArray[np.float64]:
    """tau of each (position, z_sum): sign(z_sum) x 100 x the share of the position's reference
    |z_sum| below |z_sum| (ties half); NaN where z_sum is NaN."""
    rows = np.asarray(reference[positions], dtype=np.float64)  # (k, Q), sorted
    z = np.asarray(z_sum, dtype=np.float64)
    size = np.abs(z)[:, None]
    below = (rows < size).sum(axis=1) + 0.5 * (rows == size).sum(axis=1)
    found = np.sign(z) * 100.0 * below / rows.shape[1]
    return np.where(np.isfinite(z), found, np.nan)

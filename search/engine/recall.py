"""Calibrate the fast mode at build and measure its recall@100 against exact mode.

Queries like real ones: a random indexed signature's n most raised and n most lowered genes
(n = min(250, top genes, G / 8)), a fifth of each side swapped for random other genes. For each,
exact mode gives the true top 100 (mode "both"), and the fast mode with c candidates (both
directions' FAISS lists merged by score) gives its top 100: exact rescoring keeps every true
top-100 member it is given, so its recall is the share of the true top 100 among the candidates.
The first half of the queries picks the smallest c of CANDIDATES whose mean recall@100 reaches
the target; the second half measures the recall reported in index.json (and by every search).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from search.engine.fast import SHORTLIST, refined
from search.engine.index import SearchIndex
from search.engine.metadata import Selection
from search.engine.query import SideReport
from search.engine.results import QueryReport
from search.engine.searching import GeneQuery, embedded_query, score_query, top_positions

if TYPE_CHECKING:
    from search.engine.build import BuildSettings

CANDIDATES = (100, 200, 300, 400, 600, 800, 1200, 1600, 3200, 6400)
SWAPPED = 0.2
K = 100


def calibrate(folder: Path, settings: BuildSettings) -> dict[str, Any]:
    index = SearchIndex(folder, {"version": folder.name})
    assert index.basis is not None  # a build writes the fast mode's files first
    rng = np.random.default_rng(settings.seed + 1)
    queries = [_query(index, rng) for _ in range(max(2, settings.recall_queries))]
    found = [_found(index, query) for query in queries]
    half = len(queries) // 2
    grid = [c for c in CANDIDATES if c < index.n_signatures] or [index.n_signatures]
    chosen = next((c for c in grid if _recall(found[:half], c) >= settings.recall_target), grid[-1])
    measured = _recall(found[half:], chosen)
    return {
        "index": type(index.faiss).__name__,
        "embedding_dim": int(index.basis.shape[1]),
        "candidates": int(chosen),
        "recall_at_100": round(float(measured), 4),
        "target": settings.recall_target,
        "meets_target": bool(measured >= settings.recall_target),
        "queries": len(queries) - half,
        "query_genes": int(queries[0].up.size),
    }


def _query(index: SearchIndex, rng: np.random.Generator) -> GeneQuery:
    n = min(250, index.top_genes.shape[2], index.n_genes // 8)
    at = int(rng.integers(index.n_signatures))
    sides = [np.asarray(index.top_genes[at, side, :n], dtype=np.int64) for side in (0, 1)]
    taken = set(np.concatenate(sides).tolist())
    others = np.array([g for g in range(index.n_genes) if g not in taken])
    swaps = rng.choice(others, 2 * int(SWAPPED * n), replace=False)
    for side, part in zip(sides, np.split(swaps, 2), strict=True):
        side[rng.choice(n, part.size, replace=False)] = part
    return GeneQuery(sides[0], sides[1], QueryReport(SideReport(), SideReport()))


def _found(index: SearchIndex, query: GeneQuery) -> tuple[np.ndarray, np.ndarray]:
    """The true top 100 and the FAISS candidates of both directions, merged, best first."""
    scored = score_query(index, query, Selection.every(index.n_signatures), "rank", "exact")
    truth = top_positions(np.abs(scored.z_up - scored.z_down), K)
    embedded = embedded_query(index, query)
    k = min(max(*CANDIDATES, SHORTLIST), index.n_signatures)
    assert index.faiss is not None  # built before calibration
    assert index.embedded is not None
    scores, ids = index.faiss.search(np.stack([embedded, -embedded]), k)
    if not isinstance(index.faiss, faiss.IndexFlat):  # as fast.candidates does
        scores = refined(index.embedded, embedded, (1, -1), ids)
    scores, ids = scores.ravel(), ids.ravel()
    order = np.argsort(-scores, kind="stable")
    _, first = np.unique(ids[order], return_index=True)
    return truth, ids[order[np.sort(first)]]


def _recall(found: list[tuple[np.ndarray, np.ndarray]], n_candidates: int) -> float:
    return float(np.mean([np.isin(truth, ids[:n_candidates]).mean() for truth, ids in found]))

"""Fast mode: a compact FAISS index over a low-dimensional embedding proposes candidates.

Signatures live near a low-dimensional space (RNA-seq-like profiles are a function of ~962
inputs), so the standardized centred rank vectors c_j = (r_j - (G+1)/2) / s are embedded by a PCA
basis P (G x d, orthonormal columns) fitted on a sample: e_j = P^T c_j. A gene-set query is the
sparse vector w with z_sum_j = w . c_j (w = s/sd_up on up genes, -s/sd_down on down genes), so
(P^T w) . e_j approximates z_sum_j; FAISS returns the best candidates of each direction asked for,
and the engine rescores them exactly. A whole-signature query (similar) uses e_j itself.

The FAISS index: exact inner product over the embedding (IndexFlatIP) up to FLAT_UP_TO
signatures; beyond, 4-bit product quantization scanned with SIMD (IndexPQFastScan, inner product,
d/2 bytes a signature: 32 MB at a million signatures and d = 64). An inverted file (IVF) was
measured too and dropped: the best signatures of a query lie in many cells (recall@100 0.85 at
nprobe 256 of 1,264 lists on the benchmark's 100,000 signatures, against 0.997 for the PQ scan at
200 candidates). The fast scan takes no FAISS selector, so a filter over-fetches in proportion
and keeps the selected candidates (search falls back to exact when that would exceed
MAX_OVERFETCH). The PQ scan's shortlist (SHORTLIST a direction) is re-ranked by the exact inner
product with the stored embedding (embedded.npy), and only the best `candidates` of it are
rescored exactly, their number calibrated at build so that recall@100 against exact mode reaches
the target on held-out queries (recall.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import faiss
import numpy as np

from search.engine.backends import compiled
from search.engine.metadata import Selection

FLAT_UP_TO = 1 << 16
PQ_TRAIN = 1 << 16  # signatures the product quantizer is trained on
MAX_OVERFETCH = 20  # a filtered fast search fetches at most this many times the candidates
SHORTLIST = 2048  # as good as 4,096 at 1,000,000 signatures (recall@100 at 600 and 1,200)


def fit_basis(sample: np.ndarray, dim: int, seed: int = 0) -> np.ndarray:
    """A PCA basis (G, d) float32 of sample (n, G) float32 (standardized centred ranks), by a
    randomized range finder with two power iterations (Halko et al. 2011)."""
    n, n_genes = sample.shape
    dim = max(1, min(dim, n, n_genes))
    rng = np.random.default_rng(seed)
    probe = rng.standard_normal((n_genes, min(dim + 16, n, n_genes))).astype(np.float32)
    span = np.linalg.qr(sample @ probe)[0]
    for _ in range(2):
        span = np.linalg.qr(sample @ np.linalg.qr(sample.T @ span)[0])[0]
    _, _, vt = np.linalg.svd(span.T @ sample, full_matrices=False)
    return np.ascontiguousarray(vt[:dim].T, dtype=np.float32)


def build_faiss(
    embedded: np.ndarray, *, flat_up_to: int = FLAT_UP_TO, seed: int = 0
) -> faiss.Index:
    """embedded (N, d) float32 -> a FAISS inner-product index over them (ids = positions)."""
    n, dim = embedded.shape
    index: faiss.Index
    if n <= flat_up_to:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexPQFastScan(dim, dim, 4, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        train = embedded[np.sort(rng.choice(n, min(n, PQ_TRAIN), replace=False))]
        index.train(np.ascontiguousarray(train))
    for first in range(0, n, 1 << 16):
        index.add(np.ascontiguousarray(embedded[first : first + (1 << 16)]))
    return index


@dataclass(frozen=True)
class FastSettings:
    candidates: int = 1000  # rescored exactly, over all directions asked for
    shortlist: int = SHORTLIST  # per direction from the PQ scan, re-ranked on the embedding


def candidates(
    index: faiss.Index,
    query: np.ndarray,
    directions: tuple[int, ...],
    selection: Selection,
    n_all: int,
    settings: FastSettings,
    embedded: np.ndarray | None = None,
) -> np.ndarray | None:
    """The sorted positions FAISS proposes for query (d,): the `candidates` best by signed inner
    product over the directions asked for (+1: largest, -1: smallest; the lists merged by score),
    among the selected signatures; None when a filter leaves too few signatures for the fast scan
    to serve. A quantized index's shortlist is re-ranked on the exact embedding first."""
    k = min(settings.candidates, selection.size)
    quantized = not isinstance(index, faiss.IndexFlat)
    fetch = min(selection.size, max(k, settings.shortlist)) if quantized else k
    scores, ids = _search(index, query, directions, fetch, selection, n_all)
    if ids is None:
        return None
    if quantized and embedded is not None:
        scores = refined(embedded, query, directions, ids)
    return merged(scores, ids, k)


def refined(
    embedded: np.ndarray, query: np.ndarray, directions: tuple[int, ...], ids: np.ndarray
) -> np.ndarray:
    """The exact embedding inner products of a FAISS answer's ids (-inf where there is none)."""
    products = np.empty(ids.size, dtype=np.float32)
    # compiled: no copy of the rows, and no threaded BLAS waiting for a busy core
    compiled.row_products(embedded, ids.ravel(), query.astype(np.float32), products)
    signs = np.repeat(np.asarray(directions, dtype=np.float32), ids.shape[1])
    return np.where(ids.ravel() >= 0, signs * products, -np.inf).reshape(ids.shape)


def merged(scores: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """The k distinct ids of best score across the rows of a FAISS answer, sorted by id (ties
    by their place in the answer)."""
    rows = ids.shape[0] if ids.ndim == 2 else 1
    scores, ids = scores.ravel(), ids.ravel()
    valid = ids >= 0
    scores, ids = scores[valid], ids[valid]
    # an id is in each row at most once, so the first k distinct ids of the order by score lie
    # among its first rows x k entries: only the entries at least that good are sorted
    keep = compiled.top_candidates(scores, rows * k)
    order = keep[np.argsort(-scores[keep], kind="stable")]
    _, first = np.unique(ids[order], return_index=True)
    best = order[np.sort(first)][:k]
    return np.sort(ids[best]).astype(np.int64)


def _search(
    index: faiss.Index,
    query: np.ndarray,
    directions: tuple[int, ...],
    k: int,
    selection: Selection,
    n_all: int,
) -> tuple[np.ndarray, np.ndarray | None]:
    queries = np.stack([sign * query for sign in directions]).astype(np.float32)
    if selection.size == n_all:
        return index.search(queries, k)
    fetch = math.ceil(k * n_all / selection.size)
    if fetch > MAX_OVERFETCH * k:
        return np.zeros(0), None
    scores, ids = index.search(queries, min(fetch, n_all))
    mask = np.zeros(n_all, dtype=bool)
    mask[selection.positions] = True
    kept = (ids >= 0) & mask[np.maximum(ids, 0)]
    return np.where(kept, scores, -np.inf), np.where(kept, ids, -1)

"""An up/down gene-set search on an open index: resolve rows, score every path, rank, FDR.

Paths (the results agree; tests/engine checks them against a float64 reference):
- exact: the set sums gathered from the gene-major matrix (ranks, or CD values for "cd"); for
  "rank", every key comes from the two sums in one compiled pass and only the top candidates get
  their z (`_exact_ranked`);
- flat: the same sums as FAISS inner products of indicator vectors with the signature-major
  centred ranks (flat.npy; "rank" only, small indexes);
- gpu: the exact sums on a GPU: the gather over the rank matrix held in device memory through
  torch (backends/torch_gpu.py, imported only then), or, when FAISS has GPU support and the
  index stores flat vectors, the flat path through FAISS GPU;
- fast: FAISS candidates from the embedding, rescored exactly ("rank" only). Its FDR is an upper
  bound: BH over the candidates with the searched count as n (the candidates' true ranks among
  all p-values can only be larger, and the minimum runs over fewer terms).
- auto: fast when the exact gather would read more than EXACT_BUDGET_BYTES, the fast mode met its
  recall target at build and k is at most half its candidates; otherwise exact.
Ranking: "both" by |score|, "mimic" by score, "reverse" by -score; ties by index position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from search.engine import scores, specificity
from search.engine.backends import compiled, cpu
from search.engine.errors import InvalidQueryError
from search.engine.fast import candidates
from search.engine.metadata import Selection
from search.engine.query import MAX_GENES, MIN_GENES, MODES, SideReport
from search.engine.results import PATHS, STAT_COLUMNS, QueryReport, SearchResult

if TYPE_CHECKING:
    from search.engine.index import SearchIndex

EXACT_BUDGET_BYTES = 256 << 20


@dataclass(frozen=True)
class GeneQuery:
    up: np.ndarray  # gene rows
    down: np.ndarray
    report: QueryReport

    @property
    def rows(self) -> np.ndarray:
        """Every query gene's row, up then down."""
        return np.concatenate([self.up, self.down])


@dataclass(frozen=True)
class Scored:
    positions: np.ndarray  # index positions scored (all selected, or the fast candidates)
    z_up: np.ndarray
    z_down: np.ndarray
    cd_up: np.ndarray | None = None
    cd_down: np.ndarray | None = None


@dataclass(frozen=True)
class Searched:
    """What the FDRs read when `Scored` holds only the candidates for the top k (the exact rank and
    gpu paths): |z| of every signature searched, for z_sum and each side (an array, or an object
    with scores.HostAbsZ's methods; None for a side with no genes)."""

    found: np.ndarray | None  # the candidates' places among those searched (None: all scored)
    abs_z_sum: np.ndarray | scores.AbsZSource  # |z_sum| (to be divided by sd)
    abs_z_up: np.ndarray | scores.AbsZSource | None
    abs_z_down: np.ndarray | scores.AbsZSource | None
    sd: float = 1.0


class _Answer(TypedDict):
    """SearchResult's fields besides the table."""

    report: QueryReport
    mode: str
    score: str
    path: str
    n_searched: int
    index_version: str
    recall_at_100: float | None
    fdr_exact: bool
    filters: dict[str, dict[str, object]]


def answer_fields(
    index: SearchIndex,
    query: GeneQuery,
    selection: Selection,
    mode: str,
    score: str,
    path: str,
    filter_report: dict[str, dict[str, object]],
) -> _Answer:
    """A SearchResult's fields besides its table, for the path that ran."""
    return {
        "report": query.report,
        "mode": mode,
        "score": score,
        "path": path,
        "n_searched": selection.size,
        "index_version": index.version,
        "recall_at_100": index.recall_at_100,
        "fdr_exact": path != "fast",
        "filters": filter_report,
    }


def gene_query(
    index: SearchIndex, up: Sequence[str], down: Sequence[str], *, min_genes: int = MIN_GENES
) -> GeneQuery:
    """The query's gene rows; a non-empty side needs min_genes genes the index knows (the
    evaluation's comparisons relax it, saying so)."""
    up_rows, up_report = _side(index, up)
    down_rows, down_report = _side(index, down)
    report = QueryReport(up_report, down_report)
    both = sorted(set(up_report.matched) & set(down_report.matched))
    if both:
        raise InvalidQueryError(f"genes on both sides: {', '.join(both[:10])}", both=both)
    if up_rows.size == 0 and down_rows.size == 0:
        raise InvalidQueryError("no query gene is in the index's gene space", **report.as_dict())
    limit = min(MAX_GENES, index.n_genes - 1)
    for name, rows in (("up", up_rows), ("down", down_rows)):
        if rows.size and not min_genes <= rows.size <= limit:
            raise InvalidQueryError(
                f"the {name} set has {rows.size} genes in the index; give {min_genes} to {limit}",
                **report.as_dict(),
            )
    return GeneQuery(up_rows, down_rows, report)


def _side(index: SearchIndex, given: Sequence[str]) -> tuple[np.ndarray, SideReport]:
    """A side's rows in the index; a gene given again (the same symbol, or another case of it)
    is reported as repeated, one outside the index as not_in_index."""
    symbols = list(map(str, given))
    found = list(map(index.exact_rows.get, symbols))  # the common case, without a Python loop
    rows: list[int] = []
    missing: list[str] = []
    repeated: list[str] = []
    seen: set[object] = set()
    for symbol, exact in zip(symbols, found, strict=True):
        row = exact if exact is not None else index.gene_row(symbol)
        key = row if row is not None else symbol
        if key in seen:
            repeated.append(symbol)
            continue
        seen.add(key)
        if row is None:
            missing.append(symbol)
        else:
            rows.append(row)
    used = [index.genes[row] for row in rows]
    return np.array(rows, dtype=np.int64), SideReport(
        submitted=len(symbols), matched=used, repeated=repeated, not_in_index=missing
    )


def run_search(
    index: SearchIndex,
    up: Sequence[str],
    down: Sequence[str],
    *,
    mode: str,
    filters: Mapping[str, object] | None,
    k: int,
    score: str,
    path: str,
    min_genes: int = MIN_GENES,
    order: str = "z",
) -> SearchResult:
    _check_options(mode, score, path, k)
    if order not in ("z", "tau"):
        raise InvalidQueryError(f"order is z or tau, not {order!r}", field="order")
    if order == "tau" and (score != "rank" or index.specificity is None):
        raise InvalidQueryError(
            "ordering by tau needs the rank score and an index built with a specificity compendium",
            field="order",
        )
    query = gene_query(index, up, down, min_genes=min_genes)
    selection = index.table.select(filters)
    filter_report = index.table.filter_report(filters)
    chosen = "exact" if order == "tau" else choose_path(index, query, selection, score, path, k)
    scored_selection = selection
    if chosen == "fast" and selection.size:
        scored_selection = fast_candidates(index, query, selection, mode)
        if scored_selection.size == 0:  # a filter the fast scan cannot serve: score them all
            chosen, scored_selection = "exact", selection
    result = answer_fields(index, query, selection, mode, score, chosen, filter_report)
    if selection.size == 0:
        return SearchResult(table=_empty_table(index, score), **result)
    if chosen == "gpu" and gpu_backend(index) == "torch":
        return SearchResult(table=_device_ranked(index, query, selection, mode, k), **result)
    if chosen == "exact" and score == "rank":
        table = _exact_ranked(index, query, selection, mode, k, by_tau=order == "tau")
        return SearchResult(table=table, **result)
    scored = score_query(index, query, scored_selection, score, chosen)
    table = _ranked(index, query, scored, selection.size, mode, score, k, exact=chosen != "fast")
    return SearchResult(table=table, **result)


def _device_ranked(
    index: SearchIndex,
    query: GeneQuery,
    selection: Selection,
    mode: str,
    k: int,
    given: tuple[Any, Any] | None = None,
) -> pd.DataFrame:
    """The gpu path through torch: every z on the device; the host ranks the candidates for the
    top k and takes their FDR from the device's |z| (search/engine/backends/torch_gpu.py).
    given: the two sides' sums on the device (many.py's batches)."""
    from search.engine.backends.torch_gpu import rank_on_device

    sd = scores.z_sum_sd(index.n_genes, query.up.size, query.down.size)
    found = rank_on_device(
        index.device_ranks(), query.up, query.down, selection, index.n_genes, mode, k, sd, given
    )
    scored = Scored(selection.positions[found.candidates], found.z_up, found.z_down)
    searched = Searched(found.candidates, found.abs_z, found.abs_z_up, found.abs_z_down)
    return _ranked(
        index, query, scored, selection.size, mode, "rank", k, exact=True, searched=searched
    )


def _exact_ranked(
    index: SearchIndex,
    query: GeneQuery,
    selection: Selection,
    mode: str,
    k: int,
    given: tuple[np.ndarray, np.ndarray] | None = None,
    by_tau: bool = False,
) -> pd.DataFrame:
    """The exact path for the rank score: the two rank sums (given, by many.py's block kernel,
    or gathered here), then every signature's ranking key in one compiled pass; only the
    candidates for the top k (the keys at least the k-th largest) get their z, and the FDR reads
    the keys."""
    if given is None:
        index.read_ahead(query.rows, selection)
    sums = [
        np.zeros(selection.size, dtype=np.uint32)
        if not rows.size
        else np.ascontiguousarray(given[side], dtype=np.uint32)
        if given is not None
        else cpu.set_sums(index.ranks, rows, selection, index.threads)
        for side, rows in enumerate((query.up, query.down))
    ]
    keys, abs_up, abs_down = side_keys(index.n_genes, query, sums[0], sums[1], mode)
    order_key = None
    if by_tau:  # every signature's tau from its key (|z_sum|, or signed by the mode)
        assert index.specificity is not None  # run_search checked it
        taus = specificity.tau_chunked(index.specificity, selection.positions, keys)
        found = np.lexsort((-keys, -taus))[:k]
        order_key = taus[found]
    else:
        found = compiled.top_candidates(keys, k)
    total, *_ = searched_sources(query, mode, keys, abs_up, abs_down)
    up_source, down_source = (
        scores.SideAbsZ(values, side_sums, rows.size, index.n_genes) if rows.size else None
        for values, side_sums, rows in zip(
            (abs_up, abs_down), sums, (query.up, query.down), strict=True
        )
    )
    sources = (total, up_source, down_source)
    picked = (sums[0][found], sums[1][found])
    return candidates_ranked(index, query, selection, mode, k, found, picked, sources, order_key)


def side_keys(
    n_genes: int, query: GeneQuery, sum_up: np.ndarray, sum_down: np.ndarray, mode: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each signature's ranking key (|z_sum|, z_sum or -z_sum by the mode) and |z_up|, |z_down|
    from its two uint32 rank sums, in one compiled pass (0 for a side with no genes)."""
    mean, var = scores.rank_moments(n_genes)
    sides = [
        np.array([1.0, *scores.set_null(rows.size, n_genes, mean, var)])
        if rows.size
        else np.array([0.0, 0.0, 1.0])
        for rows in (query.up, query.down)
    ]
    n = sum_up.size
    keys, abs_up, abs_down = np.empty(n), np.empty(n), np.empty(n)
    sign = {"both": 0, "mimic": 1, "reverse": -1}[mode]
    compiled.z_sum_keys(sum_up, sum_down, sides[0], sides[1], sign, keys, abs_up, abs_down)
    return keys, abs_up, abs_down


def searched_sources(
    query: GeneQuery, mode: str, keys: np.ndarray, abs_up: np.ndarray, abs_down: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """What the three FDRs read from side_keys' arrays: |z_sum|, |z_up|, |z_down| (None for a
    side with no genes)."""
    return (
        keys if mode == "both" else np.abs(keys),
        abs_up if query.up.size else None,
        abs_down if query.down.size else None,
    )


def candidates_ranked(
    index: SearchIndex,
    query: GeneQuery,
    selection: Selection,
    mode: str,
    k: int,
    found: np.ndarray,
    sums: tuple[np.ndarray, np.ndarray],
    sources: tuple[
        np.ndarray | scores.AbsZSource,
        np.ndarray | scores.AbsZSource | None,
        np.ndarray | scores.AbsZSource | None,
    ],
    order_key: np.ndarray | None = None,
) -> pd.DataFrame:
    """The result table from the candidates for the top k (found: places among the selected,
    sums: their two uint32 rank sums) and the |z| of every signature searched (sources)."""
    n_genes = index.n_genes
    mean, var = scores.rank_moments(n_genes)
    z_up, z_down = (
        scores.set_z(total, rows.size, n_genes, mean, var)
        for total, rows in zip(sums, (query.up, query.down), strict=True)
    )
    sd = scores.z_sum_sd(n_genes, query.up.size, query.down.size)
    searched = Searched(found, *sources, sd=sd)
    scored = Scored(selection.positions[found], z_up, z_down)
    return _ranked(
        index,
        query,
        scored,
        selection.size,
        mode,
        "rank",
        k,
        exact=True,
        searched=searched,
        order_key=order_key,
    )


def _check_options(mode: str, score: str, path: str, k: int) -> None:
    for name, value, allowed in (
        ("mode", mode, MODES),
        ("score", score, scores.SCORES),
        ("path", path, PATHS),
    ):
        if value not in allowed:
            raise InvalidQueryError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    if not isinstance(k, int) or k < 1:
        raise InvalidQueryError(f"k must be a positive integer, not {k!r}")


def choose_path(
    index: SearchIndex, query: GeneQuery, selection: Selection, score: str, path: str, k: int = 100
) -> str:
    if path in ("flat", "gpu", "fast") and score != "rank":
        raise InvalidQueryError(f"the {path} path scores 'rank' only; use exact for {score!r}")
    if path == "flat" and index.flat is None:
        raise InvalidQueryError("this index has no flat vectors for the flat path")
    if path == "gpu" and gpu_backend(index) is None:
        raise InvalidQueryError("the gpu path needs a CUDA GPU (torch with CUDA, or FAISS GPU)")
    if path == "fast" and index.faiss is None:
        raise InvalidQueryError("this index has no fast-mode FAISS index")
    if path != "auto":
        return path
    touched = 2 * (query.up.size + query.down.size) * selection.size
    fast_ok = index.faiss is not None and index.fast_meets_target
    fast_ok &= 2 * k <= index.fast_settings.candidates  # its recall is measured for the top 100
    return "fast" if score == "rank" and fast_ok and touched > EXACT_BUDGET_BYTES else "exact"


def gpu_backend(index: SearchIndex) -> str | None:
    """What runs the gpu path here: "faiss" (FAISS GPU over the flat vectors), "torch" (the rank
    matrix on a CUDA device), or None without a GPU."""
    if cpu.gpu_available() and index.flat is not None:
        return "faiss"
    from search.engine.backends.torch_gpu import cuda_available  # torch, only on this path

    return "torch" if cuda_available() else None


def fast_candidates(
    index: SearchIndex, query: GeneQuery, selection: Selection, mode: str
) -> Selection:
    """The selected signatures FAISS proposes for the query's directions (may be none)."""
    directions = {"mimic": (1,), "reverse": (-1,), "both": (1, -1)}[mode]
    assert index.faiss is not None  # choose_path picks "fast" only for an index with one
    found = candidates(
        index.faiss,
        embedded_query(index, query),
        directions,
        selection,
        index.n_signatures,
        index.fast_settings,
        index.embedded,
    )
    if found is None or found.size == 0:
        return Selection(np.zeros(0, dtype=np.int64), 0, 0)
    return Selection(found, int(found[0]), int(found[-1]) + 1)


def score_query(
    index: SearchIndex, query: GeneQuery, selection: Selection, score: str, path: str
) -> Scored:
    """z_up and z_down (and the CD means) of the selected positions, exactly."""
    if score == "cd":
        return cd_scored(index, query, selection)
    n_genes = index.n_genes
    mean, var = scores.rank_moments(n_genes)
    sums: tuple[np.ndarray | None, ...]
    if path in ("flat", "gpu"):  # gpu here is FAISS GPU's flat path: torch's ran in run_search
        assert index.flat is not None  # choose_path and gpu_backend checked it
        vectors = []
        for rows in (query.up, query.down):
            vector = np.zeros(n_genes, dtype=np.float32)
            vector[rows] = 1.0
            vectors.append(vector)
        centred = cpu.flat_products(
            index.flat, np.stack(vectors), selection, gpu=path == "gpu", threads=index.threads
        )
        sums, mean = (centred[0], centred[1]), 0.0
    else:
        index.read_ahead(query.rows, selection)
        sums = tuple(
            cpu.set_sums(index.ranks, rows, selection, index.threads) if rows.size else None
            for rows in (query.up, query.down)
        )
    z_up, z_down = (
        scores.set_z(
            s if rows.size and s is not None else np.zeros(selection.size),
            rows.size,
            n_genes,
            mean,
            var,
        )
        for s, rows in zip(sums, (query.up, query.down), strict=True)
    )
    return Scored(selection.positions, z_up, z_down)


def embedded_query(index: SearchIndex, query: GeneQuery) -> np.ndarray:
    """P^T w, from the query genes' rows of the basis only."""
    rows = query.rows
    weights = query_weights(index, query)[rows]
    assert index.basis is not None  # the fast mode's: an index built with it
    embedded: NDArray[np.float32] = (weights @ index.basis[rows]).astype(np.float32)
    return embedded


def query_weights(index: SearchIndex, query: GeneQuery) -> np.ndarray:
    """w with z_sum = w . c over standardized centred ranks c."""
    n_genes = index.n_genes
    weights = np.zeros(n_genes, dtype=np.float64)
    for rows, sign in ((query.up, 1.0), (query.down, -1.0)):
        if rows.size:
            weights[rows] = sign / np.sqrt(rows.size * (n_genes - rows.size) / (n_genes - 1))
    return weights.astype(np.float32)


def value_sums(
    index: SearchIndex, query: GeneQuery, selection: Selection
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 'cd' score's inputs over the selected signatures: the up and down sides' sums of CD
    values (float64; zeros for a side without genes) and each signature's value mean and variance
    (selection.size, 2)."""
    if index.values is None:
        raise InvalidQueryError("this index stores no signature values for the 'cd' score")
    assert index.value_stats is not None  # written with the values
    stats = np.asarray(index.value_stats[selection.positions], dtype=np.float64)
    index.read_ahead(query.rows, selection, "values")
    up, down = (
        np.asarray(cpu.set_sums(index.values, rows, selection, index.threads), dtype=np.float64)
        if rows.size
        else np.zeros(selection.size)
        for rows in (query.up, query.down)
    )
    return up, down, stats


def cd_scored(
    index: SearchIndex,
    query: GeneQuery,
    selection: Selection,
    given: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Scored:
    """The 'cd' score of the selected signatures, from `value_sums` (given: computed elsewhere,
    such as by an index's shards)."""
    sums_up, sums_down, stats = given if given is not None else value_sums(index, query, selection)
    means, zs = [], []
    for rows, sums in ((query.up, sums_up), (query.down, sums_down)):
        if rows.size == 0:
            means.append(np.full(selection.size, np.nan))
            zs.append(np.full(selection.size, np.nan))
            continue
        means.append(sums / rows.size)
        zs.append(scores.set_z(sums, rows.size, index.n_genes, stats[:, 0], stats[:, 1]))
    return Scored(selection.positions, zs[0], zs[1], means[0], means[1])


def _ranked(
    index: SearchIndex,
    query: GeneQuery,
    scored: Scored,
    n_searched: int,
    mode: str,
    score: str,
    k: int,
    *,
    exact: bool,
    searched: Searched | None = None,
    order_key: np.ndarray | None = None,
) -> pd.DataFrame:
    """The top k of the scored signatures as the result table. searched: every searched
    signature's |z| when `scored` holds only candidates (the exact rank and gpu paths);
    order_key: the rows' tau when the search is ordered by it (ties by the mode's key)."""
    z_sum = np.nan_to_num(scored.z_up) - np.nan_to_num(scored.z_down)
    value = z_sum
    if score == "cd":
        assert scored.cd_up is not None  # cd_scored fills both for "cd"
        assert scored.cd_down is not None
        value = np.nan_to_num(scored.cd_up) - np.nan_to_num(scored.cd_down)
    key = {"both": np.abs(value), "mimic": value, "reverse": -value}[mode]
    picks = top_positions(key, k) if order_key is None else np.lexsort((-key, -order_key))[:k]
    sd = scores.z_sum_sd(index.n_genes, query.up.size, query.down.size)
    abs_z = np.abs(z_sum) / sd
    if searched is None:
        sides = [
            np.abs(z) if rows.size else None
            for z, rows in ((scored.z_up, query.up), (scored.z_down, query.down))
        ]
        searched = Searched(None, abs_z, sides[0], sides[1])
    places = picks if searched.found is None else searched.found[picks]
    fdrs = [
        _fdr(values, sd_, places, n_searched, exact=exact)
        for values, sd_ in (
            (searched.abs_z_sum, searched.sd),
            (searched.abs_z_up, 1.0),
            (searched.abs_z_down, 1.0),
        )
    ]
    meta = index.table.columns_at(scored.positions[picks])
    columns = {"sig_id": meta.pop("sig_id"), "score": value[picks]}
    if score == "cd":
        assert scored.cd_up is not None
        assert scored.cd_down is not None
        columns.update(cd_up=scored.cd_up[picks], cd_down=scored.cd_down[picks])
    columns.update(
        {
            "z_up": scored.z_up[picks],
            "z_down": scored.z_down[picks],
            "z_sum": z_sum[picks],
            "p_up": scores.two_sided_p(scored.z_up[picks]),
            "p_down": scores.two_sided_p(scored.z_down[picks]),
            "p": scores.two_sided_p(abs_z[picks]),
            "fdr_up": fdrs[1],
            "fdr_down": fdrs[2],
            "fdr": fdrs[0],
            **meta,
        }
    )
    return pd.DataFrame(columns)


def _fdr(
    abs_z: np.ndarray | scores.AbsZSource | None,
    sd: float,
    picks: np.ndarray,
    n_searched: int,
    *,
    exact: bool,
) -> np.ndarray:
    """BH-adjusted p (of |z| / sd) of the picks among every signature searched (NaN for a side
    with no genes); on the fast path, where only candidates were scored, its upper bound."""
    if abs_z is None:
        return np.full(picks.size, np.nan)
    if exact:
        return scores.fdr_for(abs_z, picks, sd=sd)
    return _bh_upper_bound(np.asarray(abs_z) / sd, picks, n_searched)


def top_positions(key: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest keys, largest first, ties by position."""
    candidates_ = compiled.top_candidates(key, k)
    ordered = candidates_[np.lexsort((candidates_, -key[candidates_]))]
    return ordered[:k]


def _bh_upper_bound(abs_z: np.ndarray, picks: np.ndarray, n_searched: int) -> np.ndarray:
    """BH over the candidates only, with n = signatures searched: >= the exact FDR."""
    p = scores.two_sided_p(abs_z)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * n_searched / np.arange(1, p.size + 1)
    q = np.empty(p.size)
    q[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    picked: NDArray[np.float64] = q[picks]
    return picked


def _empty_table(index: SearchIndex, score: str) -> pd.DataFrame:
    columns = ["sig_id", "score", *STAT_COLUMNS]
    if score == "cd":
        columns[2:2] = ["cd_up", "cd_down"]
    return pd.DataFrame(columns=[*columns, *index.table.columns])

"""The signature-level evaluation: does a version of the profiles keep the perturbation signal?

Measured for each version of `signature_sets` (docs/training.md); retrieval and agreement need a
world with ground truth, collapse and self-retrieval need none (a real release, the real plates):

- retrieval: each perturbation's true top-N raised and lowered genes (over every gene of the
  world) as an up/down query, searched with the portal's engine (the rank test, exact path) over
  each version's signatures; the rank of the perturbation's best-placed signature (1 = first).
  Also with the queries cut to the landmark genes, and random gene sets of the same sizes against
  the converted signatures (the floor). The minimum of genes per side is relaxed to 1 for these
  comparisons (the landmarks hold few of a query's genes); a query left with no gene in an index
  is counted apart, never dropped silently. Each top-1 and top-10 share has its Wilson 95 %
  interval, and the converted signatures are compared with L1000, the ridge and step 2 alone
  query by query (`comparisons`: wins, losses, the exact sign test);
- agreement: each signature against its perturbation's true effect: Spearman's rho and the
  cosine, over the landmarks and over all the version's genes;
- collapse: the share of the within-plate variance that the first 5 principal components hold,
  of the profiles and of the signatures (each batch's mean signature removed), the latter also on
  the landmark rows alone (the same genes for every version), and the largest share of queries
  that find the same signature first;
- self-retrieval: a replicate plate's signature among the next replicate plate's signatures of
  the same batch (by Spearman's rho), and a signature among another batch's signatures (its
  perturbation's best-placed one).
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from search.engine.build import BuildSettings, build_index
from search.engine.errors import InvalidQueryError
from search.engine.index import SearchIndex
from search.engine.sources import FrameSource
from search.engine.specificity import row_taus
from transform.evaluate.comparisons import paired_row, wilson_interval
from transform.evaluate.run import frame_markdown
from transform.evaluate.signature_sets import (
    CONVERTED,
    L1000,
    RIDGE,
    STEP1,
    STEP2,
    TRUTH,
    SignatureSet,
    WorldSignatures,
    top_variance,
)
from transform.io import read_gctx

QUERY_SIZES = (50, 100)
RANDOM = "random gene sets (against converted)"
TAU = "tau"
EVAL_BUILD = BuildSettings(
    top_genes=50,
    embedding_dim=16,
    sample=2000,
    recall_queries=4,
    full_checksums=False,
    store_values=False,
)
ORDER = (CONVERTED, STEP1, STEP2, L1000, RIDGE, TRUTH)


@dataclass(frozen=True)
class Query:
    pert_id: str
    up: tuple[str, ...]
    down: tuple[str, ...]


def true_queries(effects: pd.DataFrame, pert_ids: Sequence[str], n: int) -> list[Query]:
    """Each perturbation's n most raised and n most lowered genes by its true effect (genes x
    pert_id; ties by gene order)."""
    genes = effects.index.to_numpy()
    queries = []
    for pert in pert_ids:
        order = np.argsort(effects[pert].to_numpy(), kind="stable")
        queries.append(Query(pert, tuple(genes[order[::-1][:n]]), tuple(genes[order[:n]])))
    return queries


def cut_to(queries: list[Query], genes: Sequence[str]) -> list[Query]:
    keep = set(genes)
    return [
        Query(q.pert_id, tuple(g for g in q.up if g in keep), tuple(g for g in q.down if g in keep))
        for q in queries
    ]


def random_queries(queries: list[Query], genes: Sequence[str], seed: int) -> list[Query]:
    """Random up and down sets of each query's sizes, drawn from genes."""
    rng = np.random.default_rng(seed)
    pool = np.asarray(genes)
    out = []
    for q in queries:
        drawn = rng.choice(pool.size, len(q.up) + len(q.down), replace=False)
        out.append(
            Query(q.pert_id, tuple(pool[drawn[: len(q.up)]]), tuple(pool[drawn[len(q.up) :]]))
        )
    return out


def retrieval_ranks(
    index: SearchIndex, queries: list[Query], *, by: str = "z"
) -> tuple[np.ndarray, list[str]]:
    """Per query, the rank (1 = first) of its perturbation's best-placed signature, searched in
    mode mimic over every signature (NaN where no query gene is in the index), and the id of the
    signature each query finds first ("" where none). by="tau": the signatures ordered by their
    specificity (tau, search/engine/specificity.py) instead of z_sum, ties by z_sum."""
    ranks, firsts = np.full(len(queries), np.nan), []
    for at, q in enumerate(queries):
        try:
            found = index.search(
                q.up, q.down, mode="mimic", k=index.n_signatures, path="exact", min_genes=1
            ).table
        except InvalidQueryError:  # no gene of the query in this index
            firsts.append("")
            continue
        if by == "tau":
            found = by_tau(index, found)
        hits = np.flatnonzero(found["pert_id"].astype(str).to_numpy() == q.pert_id)
        ranks[at] = hits[0] + 1 if hits.size else np.nan
        firsts.append(str(found["sig_id"].iloc[0]))
    return ranks, firsts


def by_tau(index: SearchIndex, table: pd.DataFrame) -> pd.DataFrame:
    """The search's rows ordered by tau, highest first (mode mimic), ties by z_sum."""
    taus = row_taus(index, table["sig_id"].tolist(), table["z_sum"].to_numpy())
    if taus is None:
        raise ValueError("ranking by tau needs an index built with a specificity compendium")
    order = np.lexsort((-table["z_sum"].to_numpy(np.float64), -taus))
    return table.iloc[order].reset_index(drop=True)


def retrieval_row(ranks: np.ndarray, firsts: list[str]) -> dict[str, object]:
    """The shares found in the top 1, 5 and 10 (of the queries with a gene in the index), the
    Wilson 95 % interval of the top 1 and top 10 shares, the median rank, and the largest share
    of queries with the same first signature."""
    scored = ranks[np.isfinite(ranks)]
    named = [f for f in firsts if f]
    shared = pd.Series(named).value_counts().iloc[0] / len(named) if named else np.nan
    row: dict[str, object] = {"queries": f"{scored.size}/{ranks.size}"}
    for k in (1, 5, 10):
        row[f"top{k}"] = float(np.mean(scored <= k)) if scored.size else np.nan
    for k in (1, 10):
        low, high = wilson_interval(int(np.sum(scored <= k)), scored.size)
        row[f"top{k} 95% CI"] = f"{low:.2f}-{high:.2f}"
    row["median_rank"] = float(np.median(scored)) if scored.size else np.nan
    row["same_first"] = float(shared)
    return row


RANK_BLOCK = 512  # columns ranked at a time


def column_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 0..G-1 within each column (ties by position)."""
    order = np.argsort(values, axis=0, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(values.shape[0])[:, None], axis=0)
    return ranks.astype(np.float64)


def spearman_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's rho of each column of a with the same column of b, RANK_BLOCK columns at a
    time (a block's argsort is int64: the whole of a small world's signatures would be GBs)."""
    rho = np.empty(a.shape[1])
    for first in range(0, a.shape[1], RANK_BLOCK):
        cols = slice(first, first + RANK_BLOCK)
        rho[cols] = cosine_columns(centred_ranks(a[:, cols]), centred_ranks(b[:, cols]))
    return rho


def centred_ranks(values: np.ndarray) -> NDArray[np.float64]:
    """Each column's ranks minus their mean, float64, RANK_BLOCK columns at a time."""
    out = np.empty(values.shape, dtype=np.float64)
    for first in range(0, values.shape[1], RANK_BLOCK):
        cols = slice(first, first + RANK_BLOCK)
        out[:, cols] = _centred(column_ranks(values[:, cols]))
    return out


def cosine_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norms = np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosines: NDArray[np.float64] = (a * b).sum(axis=0) / norms
        return cosines


def _centred(x: np.ndarray) -> np.ndarray:
    centred: np.ndarray = x - x.mean(axis=0, keepdims=True)
    return centred


def agreement(
    found: SignatureSet, truth: SignatureSet, landmarks: Sequence[str]
) -> dict[str, float]:
    """Median Spearman and cosine of each signature with its true effect, over the landmarks and
    over every gene of the version (NaN where the version has no more genes than landmarks)."""
    truth_rows = pd.Index(truth.genes)
    row: dict[str, float] = {}
    for level, genes in (("landmarks", list(landmarks)), ("all genes", list(found.genes))):
        if level == "all genes" and len(found.genes) <= len(landmarks):
            row.update({f"spearman ({level})": np.nan, f"cosine ({level})": np.nan})
            continue
        mine = found.matrix[pd.Index(found.genes).get_indexer(genes)]
        true = truth.matrix[truth_rows.get_indexer(genes)]
        row[f"spearman ({level})"] = float(np.nanmedian(spearman_columns(mine, true)))
        row[f"cosine ({level})"] = float(np.nanmedian(cosine_columns(mine, true)))
    return row


def signature_collapse(values: np.ndarray, batches: pd.Series) -> float:
    """The share of the signatures' within-batch variance (each batch's mean signature removed)
    in the first principal components, batches apart, summed."""
    top = total = 0.0
    for batch in batches.unique():
        here = (batches == batch).to_numpy()
        part = values[:, here].astype(np.float64)
        found = top_variance(part - part.mean(axis=1, keepdims=True))
        top, total = top + found[0], total + found[1]
    return top / total if total > 0 else float("nan")


def replicate_retrieval(values: np.ndarray, plates: pd.DataFrame) -> dict[str, float]:
    """Each signature of a replicate plate among the signatures of the batch's next replicate
    plate, by Spearman's rho: the share found first and the median rank of its own."""
    ranks = []
    for _, part in plates.groupby("batch", sort=False):
        names = sorted(part["plate"].unique())
        for first, second in itertools.pairwise(names):
            a, b = part[part["plate"] == first], part[part["plate"] == second]
            rho = _rho(centred_ranks(values[:, a.index]), centred_ranks(values[:, b.index]))
            own = pd.Index(b["sig_id"]).get_indexer(a["sig_id"])
            for row, target in enumerate(own):
                if target >= 0:
                    ranks.append(1 + int(np.sum(rho[row] > rho[row, target])))
    return _self_row(np.asarray(ranks, dtype=float))


def cross_batch_retrieval(values: np.ndarray, table: pd.DataFrame) -> dict[str, float]:
    """Each signature among another batch's signatures, by Spearman's rho: the rank of its
    perturbation's best-placed signature there (batches without the perturbation skipped)."""
    ranks = []
    unit = centred_ranks(values)
    unit /= np.linalg.norm(unit, axis=0, keepdims=True)
    batches = table["batch"].to_numpy()
    perts = table["pert_id"].astype(str).to_numpy()
    for batch in np.unique(batches):
        mine, others = np.flatnonzero(batches == batch), np.flatnonzero(batches != batch)
        if others.size == 0:
            continue
        rho = (unit[:, mine].T @ unit)[:, others]  # no copy of the other batches' columns
        for row, at in enumerate(mine):
            for other in np.unique(batches[others]):
                there = batches[others] == other
                same = there & (perts[others] == perts[at])
                if same.any():
                    best = rho[row, same].max()
                    ranks.append(1 + int(np.sum(rho[row, there] > best)))
    return _self_row(np.asarray(ranks, dtype=float))


def _rho(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a columns, b columns) cosines of centred ranks: Spearman's rho."""
    a = a / np.linalg.norm(a, axis=0, keepdims=True)
    b = b / np.linalg.norm(b, axis=0, keepdims=True)
    rho: np.ndarray = a.T @ b
    return rho


def _self_row(ranks: np.ndarray) -> dict[str, float]:
    if ranks.size == 0:
        return {"pairs": 0, "top1": np.nan, "top10": np.nan, "median_rank": np.nan}
    top1, top10 = float(np.mean(ranks <= 1)), float(np.mean(ranks <= 10))
    return {
        "pairs": int(ranks.size),
        "top1": top1,
        "top10": top10,
        "median_rank": float(np.median(ranks)),
    }


def open_indexes(world: WorldSignatures, folder: Path) -> dict[str, SearchIndex]:
    """A search index of each version's signatures under folder."""
    meta = world.table[["sig_id", "pert_id", "pert_type", "cell_id", "batch"]].astype(str)
    indexes = {}
    for name in ORDER:
        found = world.sets[name]
        frame = pd.DataFrame(found.matrix, index=list(found.genes))
        build_index(FrameSource(frame, meta), folder / name.replace(" ", "_"), EVAL_BUILD)
        indexes[name] = SearchIndex.open(folder / name.replace(" ", "_"))
    return indexes


def evaluate_signatures(
    world: WorldSignatures,
    effects: pd.DataFrame | None,
    *,
    sizes: Sequence[int] = QUERY_SIZES,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """The tables (DataFrames): retrieval, comparisons, agreement (with collapse) and
    self_retrieval. Without ground truth (effects None) only what needs none: collapse (the
    `agreement` table without its agreement columns) and self_retrieval."""
    tables = {}
    if effects is not None:
        with tempfile.TemporaryDirectory(prefix="signature-eval-") as folder:
            indexes = open_indexes(world, Path(folder))
            tables["retrieval"], tables["comparisons"] = _retrieval(
                world, effects, indexes, sizes, seed
            )
    truth, quality, self_rows = world.sets.get(TRUTH), [], []
    for name in [name for name in ORDER if name in world.sets]:
        found = world.sets[name]
        row: dict[str, object] = {"signatures": name}
        if truth is not None:
            row.update(agreement(found, truth, world.landmarks))
        row["PC5 share, profiles"] = found.profile_collapse if found.profile_variance else np.nan
        row["PC5 share, signatures"] = signature_collapse(found.matrix, world.table["batch"])
        at = pd.Index(found.genes).get_indexer(list(world.landmarks))
        row["PC5 share, signatures (landmarks)"] = signature_collapse(
            found.matrix[at[at >= 0]], world.table["batch"]
        )
        quality.append(row)
        if name == TRUTH:
            continue
        plates = replicate_retrieval(found.plate_matrix, world.plate_table)
        batches = cross_batch_retrieval(found.matrix, world.table)
        self_rows.append({"signatures": name, "kind": "replicate plates", **plates})
        self_rows.append({"signatures": name, "kind": "across batches", **batches})
    tables["agreement"] = pd.DataFrame(quality)
    tables["self_retrieval"] = pd.DataFrame(self_rows)
    return tables


COMPARED = (L1000, RIDGE, STEP2)  # the versions the converted signatures are compared with
COMPARED_AT = (1, 10)


def _retrieval(
    world: WorldSignatures,
    effects: pd.DataFrame,
    indexes: dict[str, SearchIndex],
    sizes: Sequence[int],
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The retrieval table, and the converted signatures compared query by query with each of
    COMPARED (comparisons.paired_row) at the top 1 and top 10."""
    perts = list(dict.fromkeys(world.table["pert_id"].astype(str)))
    rows, paired = [], []
    for n in sizes:
        full = true_queries(effects, perts, n)
        for cut, queries in (("all genes", full), ("landmarks", cut_to(full, world.landmarks))):
            ranks = {}
            for name in ORDER:
                ranks[name], firsts = retrieval_ranks(indexes[name], queries)
                rows.append(
                    {
                        "N": n,
                        "query genes": cut,
                        "signatures": name,
                        **retrieval_row(ranks[name], firsts),
                    }
                )
            for name in (CONVERTED, L1000):  # specificity: does ranking by tau find more?
                found = retrieval_row(*retrieval_ranks(indexes[name], queries, by="tau"))
                rows.append(
                    {"N": n, "query genes": cut, "signatures": f"{name}, by {TAU}", **found}
                )
            genes = world.sets[CONVERTED].genes if cut == "all genes" else world.landmarks
            drawn = random_queries(queries, genes, seed)
            found = retrieval_row(*retrieval_ranks(indexes[CONVERTED], drawn))
            rows.append({"N": n, "query genes": cut, "signatures": RANDOM, **found})
            for other, k in itertools.product(COMPARED, COMPARED_AT):
                compared = paired_row(ranks[CONVERTED], ranks[other], k)
                paired.append({"N": n, "query genes": cut, "against": other, **compared})
    return pd.DataFrame(rows), pd.DataFrame(paired)


def read_effects(path: Path) -> pd.DataFrame:
    """A world's truth/effects.gctx as genes (symbols) x pert_id."""
    matrix = read_gctx(path)
    return pd.DataFrame(
        matrix.values, index=matrix.row_ids.astype(str), columns=matrix.col_ids.astype(str)
    )


def signature_markdown(tables: dict[str, pd.DataFrame]) -> str:
    """The three tables as markdown, each under a line saying what it measures."""
    notes = {
        "retrieval": "Retrieval: each perturbation's true top-N up/down genes searched (rank test, "
        "mode mimic, at least 1 gene a side); share of perturbations whose best signature ranks "
        "in the top 1/5/10, median rank, and the largest share of queries with the same first "
        "signature",
        "comparisons": "The converted signatures against each other version on the same queries: "
        "perturbations found in the top k by converted alone (wins) or by the other alone "
        "(losses), the exact two-sided sign test on them, and the verdict at p < 0.05",
        "agreement": "Agreement with the true effects (median over signatures, where the world "
        "has them) and collapse (share of within-plate variance in the first 5 principal "
        "components; of the signatures also on the landmark rows alone, the same genes for "
        "every version)",
        "self_retrieval": "Self-retrieval by Spearman's rho: a replicate plate's signature among "
        "the next plate's, and a signature's perturbation among another batch's signatures",
    }
    parts = []
    for name, table in tables.items():
        parts.append(f"**{notes[name]}**\n\n{frame_markdown(table)}\n")
    return "\n".join(parts)

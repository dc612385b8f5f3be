"""A plain float64 reference of the search scores (docs/search.md), written from the formulas alone.

Slow and obvious on purpose: loops over signatures, math.erfc, BH by its definition. Every path of
the engine is compared with it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def reference_ranks(values: np.ndarray) -> np.ndarray:
    """(G, N) values -> ranks 1 = smallest ... G per column, tied values sharing the largest rank
    of their run, as SigCom LINCS builds its rank files (MaayanLab/enrichmentAPI and the Signature
    Commons controller, `ranksHash`: sort the values ascending, map each value to the last
    position it takes in the sorted list, rank = that position + 1)."""
    ranks = np.zeros(values.shape, dtype=np.int64)
    for j in range(values.shape[1]):
        last_position = {}
        for position, value in enumerate(sorted(values[:, j].tolist())):
            last_position[value] = position
        ranks[:, j] = [last_position[value] + 1 for value in values[:, j].tolist()]
    return ranks


def reference_scores(
    values: np.ndarray,
    up: list[int],
    down: list[int],
    score: str = "rank",
    ranks: np.ndarray | None = None,
) -> pd.DataFrame:
    """Every signature (column of values, float64) scored against gene rows up and down."""
    n_genes, n_sigs = values.shape
    ranks = reference_ranks(values) if ranks is None else ranks
    rows = []
    for j in range(n_sigs):
        x = ranks[:, j].astype(np.float64) if score == "rank" else values[:, j]
        mean, var = x.mean(), x.var()
        z = {}
        for side, genes in (("up", up), ("down", down)):
            n = len(genes)
            if n == 0:
                z[side] = math.nan
            elif score == "rank":  # SigCom LINCS's formula, literally
                total = ranks[genes, j].sum()
                z[side] = (total - n * (n_genes + 1) / 2) / math.sqrt(
                    n * (n_genes - n) * (n_genes + 1) / 12
                )
            else:
                z[side] = (x[genes].sum() - n * mean) / math.sqrt(
                    var * n * (n_genes - n) / (n_genes - 1)
                )
        z_sum = np.nan_to_num(z["up"]) - np.nan_to_num(z["down"])
        cd_up = values[up, j].mean() if up else math.nan
        cd_down = values[down, j].mean() if down else math.nan
        value = z_sum if score == "rank" else np.nan_to_num(cd_up) - np.nan_to_num(cd_down)
        rows.append(
            {
                "z_up": z["up"],
                "z_down": z["down"],
                "z_sum": z_sum,
                "score": value,
                "cd_up": cd_up,
                "cd_down": cd_down,
            }
        )
    table = pd.DataFrame(rows)
    sd = null_sd(n_genes, up, down)
    table["p"] = [math.erfc(abs(z) / sd / math.sqrt(2)) for z in table["z_sum"]]
    table["p_up"] = [math.erfc(abs(z) / math.sqrt(2)) for z in table["z_up"]]
    table["p_down"] = [math.erfc(abs(z) / math.sqrt(2)) for z in table["z_down"]]
    table["fdr"] = reference_bh(table["p"].to_numpy())
    for side, genes in (("up", up), ("down", down)):  # each side's p, adjusted over all signatures
        p_side = table[f"p_{side}"].to_numpy()
        table[f"fdr_{side}"] = reference_bh(p_side) if genes else math.nan
    return table


def null_sd(n_genes: int, up: list[int], down: list[int]) -> float:
    """sd of z_up - z_down when the ranks 1..G are dealt at random: the variance of a weighted
    sum of a random permutation, s2 G / (G - 1) sum (w - mean w)^2."""
    if not up or not down:
        return 1.0
    s2 = (n_genes**2 - 1) / 12
    w = np.zeros(n_genes)
    for genes, sign in ((up, 1.0), (down, -1.0)):
        n = len(genes)
        w[genes] = sign / math.sqrt(n * (n_genes - n) * (n_genes + 1) / 12)
    return math.sqrt(s2 * n_genes / (n_genes - 1) * ((w - w.mean()) ** 2).sum())


def reference_bh(p: np.ndarray) -> np.ndarray:
    n = len(p)
    order = sorted(range(n), key=lambda i: p[i])
    q = np.empty(n)
    running = 1.0
    for rank in range(n, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * n / rank)
        q[i] = running
    return q


def reference_top(table: pd.DataFrame, mode: str, k: int) -> np.ndarray:
    """Positions of the top k rows for a mode, ties by position."""
    key = {"both": table["score"].abs(), "mimic": table["score"], "reverse": -table["score"]}[mode]
    order = sorted(range(len(table)), key=lambda i: (-key.iloc[i], i))
    return np.array(order[:k])


def structured_signatures(
    n_genes: int, n_sigs: int, *, latent: int = 8, noise: float = 0.6, seed: int = 0
) -> np.ndarray:
    """(G, N) float32 signatures near a low-dimensional space, unit columns."""
    rng = np.random.default_rng(seed)
    loadings = rng.standard_normal((n_genes, latent))
    signal = loadings @ rng.standard_normal((latent, n_sigs)) / math.sqrt(latent)
    values = signal + noise * rng.standard_normal((n_genes, n_sigs))
    return (values / np.linalg.norm(values, axis=0)).astype(np.float32)

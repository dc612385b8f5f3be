"""Reverse-search tables: for every gene, the signatures that raise or lower it most.

Kept per perturbation type, merged batch by batch in bounded memory (genes x (K + batch size)).
For each (gene, direction) the K best signatures by CD coefficient, with the gene's log2 fold change
and its rank within the signature (1 = the signature's most raised gene for "up", most lowered for
"down").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

DIRECTIONS = ("up", "down")


@dataclass
class TopSignatures:
    """The running top K of one perturbation type and direction."""

    k: int
    n_genes: int
    direction: str
    cd: np.ndarray = field(init=False)
    sig: np.ndarray = field(init=False)
    lfc: np.ndarray = field(init=False)
    rank: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.cd = np.full((self.n_genes, 0), np.nan, dtype=np.float32)
        self.sig = np.zeros((self.n_genes, 0), dtype=np.int64)
        self.lfc = np.zeros((self.n_genes, 0), dtype=np.float32)
        self.rank = np.zeros((self.n_genes, 0), dtype=np.int32)

    def merge(self, cd: np.ndarray, lfc: np.ndarray, sig_index: np.ndarray) -> None:
        """cd, lfc (genes x s) of the signatures numbered sig_index (s,)."""
        sign = 1.0 if self.direction == "up" else -1.0
        rank = gene_ranks(sign * cd)
        all_cd = np.concatenate([self.cd, cd], axis=1)
        numbers = np.broadcast_to(np.asarray(sig_index, dtype=np.int64), cd.shape)
        all_sig = np.concatenate([self.sig, numbers], axis=1)
        all_lfc = np.concatenate([self.lfc, lfc], axis=1)
        all_rank = np.concatenate([self.rank, rank], axis=1)
        keep = min(self.k, all_cd.shape[1])
        score = np.where(np.isnan(all_cd), -np.inf, sign * all_cd)
        top = np.argpartition(-score, keep - 1, axis=1)[:, :keep]
        best_first = np.argsort(-np.take_along_axis(score, top, 1), axis=1, kind="stable")
        order = np.take_along_axis(top, best_first, 1)
        self.cd, self.sig, self.lfc, self.rank = (
            np.take_along_axis(a, order, 1) for a in (all_cd, all_sig, all_lfc, all_rank)
        )


def gene_ranks(values: np.ndarray) -> np.ndarray:
    """Rank (1 = largest) of each gene within each column of values (genes x s)."""
    order = np.argsort(-values, axis=0, kind="stable")
    ranks = np.empty_like(order, dtype=np.int32)
    np.put_along_axis(ranks, order, np.arange(1, values.shape[0] + 1, dtype=np.int32)[:, None], 0)
    return ranks


def write_reverse_tables(
    path: Path, genes: list[str], sig_ids: list[str], tables: dict[tuple[str, str], TopSignatures]
) -> None:
    """HDF5: /genes, /sig_ids, and /<pert_type>/<direction>/{sig,cd,log2_fold_change,rank}."""
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as out:
        out.create_dataset("genes", data=np.array(genes, dtype=object), dtype=h5py.string_dtype())
        out.create_dataset(
            "sig_ids", data=np.array(sig_ids, dtype=object), dtype=h5py.string_dtype()
        )
        for (pert_type, direction), top in tables.items():
            group = out.create_group(f"{pert_type}/{direction}")
            for name, values in (
                ("sig", top.sig),
                ("cd", top.cd),
                ("log2_fold_change", top.lfc),
                ("rank", top.rank),
            ):
                group.create_dataset(name, data=values, compression="gzip")
    tmp.replace(path)

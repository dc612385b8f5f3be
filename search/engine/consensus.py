"""A perturbagen's consensus over its signatures (several cell lines, doses, times), by votes.

Each signature of the index stores its T most raised and T most lowered genes (`top_genes`,
T = 250 by default). A gene's consensus score is the share of the perturbagen's signatures that
put it among their T most raised genes, minus the share that put it among their T most lowered:
+1 when every signature raises it that much, -1 when every one lowers it, 0 when they disagree or
none moves it. Ties go to the gene with the best mean place in the lists that hold it, then to
gene order. Votes need only the signature-major top lists, so a consensus reads n x 2 x T numbers
whatever the size of the index (a whole-gene mean would read every gene of every signature from
the gene-major matrices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

METHOD = (
    "votes: for each gene, the share of the perturbagen's signatures that put it among their "
    "{t} most raised genes minus the share that put it among their {t} most lowered"
)


@dataclass(frozen=True)
class Consensus:
    n_signatures: int
    top: int  # T: genes per signature and side the votes come from
    up: list[tuple[int, float]]  # (gene row, score), best first
    down: list[tuple[int, float]]

    @property
    def method(self) -> str:
        return METHOD.format(t=self.top)


def votes(
    top_genes: NDArray[np.uint16], positions: NDArray[np.int64], n_genes: int, n: int
) -> Consensus:
    """The n genes of highest and of lowest consensus score over the signatures at `positions`
    (top_genes: (N, 2, T), side 0 raised, side 1 lowered, best first)."""
    if positions.size == 0:
        raise ValueError("a consensus needs at least one signature")
    lists = np.asarray(top_genes[np.sort(positions)], dtype=np.int64)  # (k, 2, T)
    k, _, top = lists.shape
    places = np.tile(np.arange(1, top + 1), k)  # each list's places, list after list
    counts = np.zeros((2, n_genes), dtype=np.int64)
    place_sums = np.zeros((2, n_genes), dtype=np.int64)
    for side in (0, 1):
        np.add.at(counts[side], lists[:, side].ravel(), 1)
        np.add.at(place_sums[side], lists[:, side].ravel(), places)
    score = (counts[0] - counts[1]) / k
    held = counts.sum(axis=0)
    mean_place = np.where(held > 0, place_sums.sum(axis=0) / np.maximum(held, 1), np.inf)
    genes = np.arange(n_genes)
    up = np.lexsort((genes, mean_place, -score))  # score high first, then best place
    down = np.lexsort((genes, mean_place, score))
    return Consensus(
        n_signatures=k,
        top=top,
        up=[(int(g), float(score[g])) for g in up[:n] if score[g] > 0],
        down=[(int(g), float(score[g])) for g in down[:n] if score[g] < 0],
    )

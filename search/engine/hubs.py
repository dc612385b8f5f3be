"""Hub genes: genes that move in many signatures, whatever the perturbation (stress,
proliferation, the cell cycle), and so pull a query toward every signature that moves them.

At build, for every gene, the fraction of the signatures whose top T raised genes hold it and the
fraction whose top T lowered genes hold it (hub.npy, (2, G); T = the top genes the index stores
per signature, 250 by default). A gene in no more top sets than chance is in T / G of them (about
1 % of 23,614 genes); a hub gene is one at least HUB_FACTOR times that, on either side. An index
built before hub.npy existed has none: `gene_hub` and `hub_genes` then say so (None), never guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from search.engine.index import SearchIndex

HUB_FACTOR = 5.0  # times the chance fraction T / G at which a gene counts as a hub


def expected_fraction(index: SearchIndex) -> float:
    """The fraction of signatures a gene's top set holds by chance: T / G."""
    return float(index.top_genes.shape[2]) / index.n_genes


def gene_hub(index: SearchIndex, symbol: str) -> dict[str, Any] | None:
    """One gene's fractions (up, down), the chance fraction, and whether it is a hub; None for an
    index without hub.npy or a gene outside its gene space."""
    row = index.gene_row(symbol)
    if index.hub is None or row is None:
        return None
    up, down = float(index.hub[0, row]), float(index.hub[1, row])
    expected = expected_fraction(index)
    return {
        "fraction_up": up,
        "fraction_down": down,
        "expected": expected,
        "times_expected": max(up, down) / expected,
        "is_hub": max(up, down) >= HUB_FACTOR * expected,
    }


def hub_genes(index: SearchIndex, symbols: Sequence[str]) -> list[dict[str, Any]] | None:
    """The hub genes among `symbols` (in their order), each with its fractions; None for an index
    without hub.npy."""
    if index.hub is None:
        return None
    found = []
    for symbol in symbols:
        hub = gene_hub(index, symbol)
        if hub is not None and hub["is_hub"]:
            found.append({"gene": symbol, **{k: v for k, v in hub.items() if k != "is_hub"}})
    return found

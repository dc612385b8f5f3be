"""Per-gene reliability: how well the model served predicts each gene, from its evaluation.

`python -m transform evaluate` writes, per output gene, Pearson's r across the held-out paired
samples (L1000 profiles with measured RNA-seq of the same samples) of the model's prediction and of
the ridge baseline's (per_gene.tsv), and records it in the model bundle's manifest;
`build_search_index --gene-accuracy per_gene.tsv` copies it into the index (FILE_NAME). A gene the
evaluation did not cover, or an index built without one, is "not evaluated": None here, never a
number. A gene is poorly predicted when its r is below POOR.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from search.engine.index import SearchIndex

FILE_NAME = "gene_accuracy.tsv"
COLUMNS = ("gene", "kind", "pcc_model", "pcc_ridge", "n_samples")
POOR = 0.3  # per-gene r below which the portal flags a gene as poorly predicted


def read_accuracy(path: Path) -> dict[str, dict[str, Any]]:
    """gene -> {kind, pcc_model, pcc_ridge, n_samples}; ValueError naming missing columns."""
    table = pd.read_csv(path, sep="\t", dtype={"gene": str, "kind": str})
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: a per-gene accuracy table needs the columns {missing}")
    numbers = table[["pcc_model", "pcc_ridge", "n_samples"]].apply(pd.to_numeric, errors="coerce")
    bad = table["gene"][~np.isfinite(numbers.to_numpy(np.float64)).all(axis=1)].tolist()
    if bad:  # a NaN r would reach the pages and the API as a number that is none
        raise ValueError(
            f"{path}: {len(bad)} genes without a finite r or sample count ({', '.join(bad[:10])}): "
            "leave out a gene that was not evaluated; a constant gene's r is 0, as `transform "
            "evaluate` writes it"
        )
    return {
        str(row.gene): {
            "kind": str(row.kind),
            "pcc_model": float(row.pcc_model),
            "pcc_ridge": float(row.pcc_ridge),
            "n_samples": int(row.n_samples),
        }
        for row in table.itertuples(index=False)
    }


@functools.lru_cache(maxsize=8)
def _stored(folder: str) -> dict[str, dict[str, Any]] | None:
    path = Path(folder) / FILE_NAME
    return read_accuracy(path) if path.is_file() else None


def evaluated(index: SearchIndex) -> bool:
    """Whether the index carries an evaluation of its model."""
    return _stored(str(index.folder)) is not None


def gene_accuracy(index: SearchIndex, symbol: str) -> dict[str, Any] | None:
    """The gene's evaluation (with `poor`), None where not evaluated."""
    table = _stored(str(index.folder))
    found = table.get(symbol) if table else None
    return {**found, "poor": found["pcc_model"] < POOR} if found else None


def poorly_predicted(index: SearchIndex, symbols: Sequence[str]) -> list[dict[str, Any]] | None:
    """The genes among `symbols` (in their order) the model predicts with r below POOR; None for
    an index without an evaluation. Genes it did not cover are not listed (not evaluated)."""
    table = _stored(str(index.folder))
    if table is None:
        return None
    return [
        {"gene": s, "pcc_model": table[s]["pcc_model"], "pcc_ridge": table[s]["pcc_ridge"]}
        for s in symbols
        if s in table and table[s]["pcc_model"] < POOR
    ]

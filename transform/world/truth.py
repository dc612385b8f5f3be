"""The ground truth written beside a world: what each perturbation really does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from transform.io import GctxWriter
from transform.io.gmt import GeneSet, write_gmt
from transform.world.biology import Biology
from transform.world.genes import GeneUniverse

TOP_GENES = 100
CHUNK_PERTS = 256


def write_truth(bio: Biology, universe: GeneUniverse, folder: Path) -> int:
    """perturbations.txt, sensitivity.txt, effects.gctx (genes x perturbations), up/down GMT."""
    table = bio.perturbations.drop(columns=["target_index"])
    table.to_csv(folder / "perturbations.txt", sep="\t", index=False)
    sensitivity = pd.DataFrame(bio.sensitivity, index=table["pert_id"], columns=list(bio.cell_ids))
    sensitivity.to_csv(folder / "sensitivity.txt", sep="\t", float_format="%.4f")
    symbols = universe.genes["symbol"].to_numpy()
    rows = pd.DataFrame(
        {"pr_gene_id": universe.genes["entrez_id"].to_numpy()}, index=pd.Index(symbols, name="rid")
    )
    up, down = [], []
    with GctxWriter(folder / "effects.gctx", rows) as writer:
        for start in range(0, len(table), CHUNK_PERTS):
            perts = np.arange(start, min(start + CHUNK_PERTS, len(table)))
            effects = bio.effects(perts)  # (n_perts, n_genes)
            cols = table.iloc[perts].set_index("pert_id")[["pert_iname", "pert_type", "moa"]]
            writer.append(effects.T.astype(np.float32), cols)
            for pert_id, effect in zip(cols.index, effects, strict=True):
                order = np.argsort(effect, kind="stable")
                up.append(GeneSet(pert_id, "true up", tuple(symbols[order[::-1][:TOP_GENES]])))
                down.append(GeneSet(pert_id, "true down", tuple(symbols[order[:TOP_GENES]])))
    write_gmt(folder / "true_up.gmt", up)
    write_gmt(folder / "true_down.gmt", down)
    return len(table)

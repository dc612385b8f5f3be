"""Real-data check at the signature level, which needs no ground truth.

The two real plates of the evaluation (LJP005 and LJP009, A375 24 h, measured months apart) are
joined into one Level 3 file of two batches (one plate each) and go through every version of
`signature_sets` (L1000, step 1, converted, step 2 alone, the ridge) with the portal's own
signature rule. Each signature of a compound that both plates hold is then ranked among the other
plate's signatures by Spearman's rho (`cross_batch_retrieval`: the rank of the compound's
best-placed signature there, any dose). A version that keeps the perturbation signal finds the
same compound on the other plate; one that maps a plate's differences onto a few directions does
not. Beside it, the collapse of each version (`signature_level.evaluate_signatures` without
truth).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from transform.evaluate.run import Fitted
from transform.evaluate.signature_level import evaluate_signatures
from transform.evaluate.signature_sets import world_signatures
from transform.inference import TwoStepModel
from transform.io import GeneMatrix
from transform.io.gctx import write_gctx
from transform.io.level3 import ENTREZ, SYMBOL, open_level3
from transform.io.lincs_meta import INST_INFO

FIELDS = INST_INFO.required  # the profile table's fields: what the signature rule reads
KEPT = ("pairs", "top1", "top10", "median_rank")


def joined_plates(plates: list[GeneMatrix]) -> GeneMatrix:
    """The plates side by side on the first plate's rows (matched by row id), with the profile
    fields the signature rule needs; a plate that lacks a row or a field is refused, named."""
    rows = plates[0].row_ids
    values, metas = [], []
    for number, plate in enumerate(plates, start=1):
        at = plate.row_ids.get_indexer(rows)
        lacks = [f"{int((at < 0).sum())} of the first plate's rows"] if (at < 0).any() else []
        lacks += [f"the field {field}" for field in FIELDS if field not in plate.col_meta]
        if lacks:
            raise ValueError(f"plate {number} of {len(plates)} lacks {', '.join(lacks)}")
        values.append(plate.values[at])
        metas.append(plate.col_meta[list(FIELDS)])
    row_meta = plates[0].row_meta[[name for name in (SYMBOL, ENTREZ) if name in plates[0].row_meta]]
    return GeneMatrix(np.concatenate(values, axis=1), row_meta, pd.concat(metas))


def real_plate_signatures(
    model: TwoStepModel, fitted: Fitted, plates: list[GeneMatrix]
) -> pd.DataFrame:
    """One row per version: its cross-plate self-retrieval and its collapse."""
    with tempfile.TemporaryDirectory(prefix="real-plates-") as folder:
        path = Path(folder) / "plates.gctx"
        write_gctx(path, joined_plates(plates))
        world = world_signatures(model, open_level3(path), None, fitted, None)
    tables = evaluate_signatures(world, None)
    found = tables["self_retrieval"]
    found = found[found["kind"] == "across batches"].set_index("signatures")[list(KEPT)]
    collapse = tables["agreement"].set_index("signatures")
    return found.join(collapse).reset_index()

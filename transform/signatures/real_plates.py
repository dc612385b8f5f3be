"""Signatures on the real Level 3 plates LJP005 and LJP009 (A375, 24 h, 978 landmarks).

Each plate was run without replicate plates, so each plate is its own batch, and a compound's cases
are its wells at doses of at least 1 µM (1.11, 3.33 and 10 µM: one well each), the doses at which
these kinase inhibitors act; the lower doses stay among the controls of the batch rule. Both control
rules are reported: the batch rule (every other well of the plate, SigCom's) and the vehicle rule
(the plate's DMSO wells). The check: a compound run on both plates should find its own signature on
the other plate before other compounds' (cosine of the CD vectors).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from transform.io import GeneMatrix, inst_info_from_gctx_cols, read_gct
from transform.io.errors import refuse_non_finite
from transform.signatures.compute import SignatureSettings, batch_signatures

MIN_DOSE_UM = 1.0
REAL_PLATES = (
    "LJP005_A375_24H_X1_B19_QNORM_n377x978.gct",
    "LJP009_A375_24H_X1_B20_QNORM_n371x978.gct",
)


def compound_signatures(plate: GeneMatrix, rule: str) -> pd.DataFrame:
    """Unit CD vectors (genes x compounds) of a plate's compounds, columns named by pert_iname."""
    inst = inst_info_from_gctx_cols(plate.col_meta)
    treated = inst[inst["pert_type"].str.startswith("trt_") & (inst["pert_dose"] >= MIN_DOSE_UM)]
    sigs = pd.DataFrame(
        [
            {"sig_id": name, "pert_type": "trt_cp", "distil_id": "|".join(group.index)}
            for name, group in treated.groupby("pert_iname", sort=True)
        ]
    )
    settings = SignatureSettings(rule=rule, scale="log2")
    result = batch_signatures(
        plate.values[:, plate.col_ids.get_indexer(inst.index)], inst, sigs, settings
    )
    return pd.DataFrame(result.cd, index=plate.row_ids, columns=sigs["sig_id"])


def cross_plate_ranks(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """For each compound on both plates: the rank of its own signature on the other plate among
    all that plate's compound signatures (1 = closest), both ways, and the cosines."""
    common = first.index.intersection(second.index)
    a, b = first.loc[common].to_numpy(), second.loc[common].to_numpy()
    cosine = (a / np.linalg.norm(a, axis=0)).T @ (b / np.linalg.norm(b, axis=0))
    rows = []
    for name in sorted(set(first.columns) & set(second.columns)):
        i, j = first.columns.get_loc(name), second.columns.get_loc(name)
        rows.append(
            {
                "compound": name,
                "rank_005_in_009": 1 + int(np.sum(cosine[i] > cosine[i, j])),
                "rank_009_in_005": 1 + int(np.sum(cosine[:, j] > cosine[i, j])),
                "cosine_self": float(cosine[i, j]),
                "cosine_others_median": float(np.median(np.delete(cosine[i], j))),
            }
        )
    return pd.DataFrame(rows)


def nearest(first: pd.DataFrame, second: pd.DataFrame, name: str, k: int = 5) -> list[str]:
    """The k signatures of `second` closest to `name` of `first` (cosine)."""
    common = first.index.intersection(second.index)
    query = first.loc[common, name].to_numpy()
    b = second.loc[common].to_numpy()
    scores = query @ (b / np.linalg.norm(b, axis=0)) / np.linalg.norm(query)
    return [f"{second.columns[i]} ({scores[i]:.2f})" for i in np.argsort(-scores)[:k]]


def real_plate_report(folder: Path) -> str:
    plates = [read_gct(folder / name) for name in REAL_PLATES]
    for name, plate in zip(REAL_PLATES, plates, strict=True):
        refuse_non_finite(plate.values, folder / name, plate.row_ids, plate.col_ids)
    lines = []
    for rule in ("batch", "vehicle"):
        first, second = (compound_signatures(p, rule) for p in plates)
        table = cross_plate_ranks(first, second)
        lines += [
            f"**Control rule: {rule}** ({first.shape[1]} compounds on LJP005, "
            f"{second.shape[1]} on LJP009)",
            "",
            table.to_string(index=False),
            "",
            "vemurafenib (LJP005, BRAF) -> nearest on LJP009: "
            + ", ".join(nearest(first, second, "vemurafenib")),
            "",
        ]
    return "\n".join(lines)

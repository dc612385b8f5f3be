"""Which profiles make each signature, and against which controls.

A signature is one perturbation (perturbagen, dose, time, cell line) within one plate batch: the
batch is the rna_plate without its "_X<n>" replicate suffix, the cases are the perturbation's
profiles in the batch (its replicates), and the controls are, by rule:
- "batch" (SigCom LINCS): every other profile of the batch;
- "vehicle": the batch's control profiles only (pert_type ctl_*: DMSO, empty vector, ...).
Where a sig_info table is given, its signatures (sig_id and the inst_ids of distil_id) are used.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from transform.io.errors import LincsTableError, name_some

REPLICATE_SUFFIX = re.compile(r"_X\d+$")
# The fields each profile must fill (not empty, not -666), and what they decide.
REQUIRED = {
    "rna_plate": "its batch",
    "pert_type": "whether it is a control, and its signatures' type",
}
RULES = ("batch", "vehicle")
METADATA = (
    "pert_type",
    "pert_id",
    "pert_iname",
    "pert_dose",
    "pert_dose_unit",
    "pert_time",
    "pert_time_unit",
    "cell_id",
)


def batch_of(rna_plate: str) -> str:
    return REPLICATE_SUFFIX.sub("", str(rna_plate))


def is_control(pert_type: pd.Series) -> np.ndarray:
    controls: np.ndarray = pert_type.astype(str).str.startswith("ctl_").to_numpy()
    return controls


def require_metadata(inst: pd.DataFrame, source: object) -> None:
    """Refuse profiles that leave a REQUIRED field empty, naming the field, the count and the
    first profiles: a LINCS table marks a missing value by an empty cell (beta) or -666 (GEO),
    and a profile with no plate or no perturbation type cannot be put in a batch or a rule."""
    for name, decides in REQUIRED.items():
        empty = inst.index[inst[name].isna().to_numpy()].astype(str).tolist()
        if empty:
            raise LincsTableError(
                f"{source}: {len(empty):,} profiles have no {name} (an empty cell or -666), "
                f"which decides {decides}: {name_some(empty)}"
            )


def signature_definitions(inst: pd.DataFrame, sig_info: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per signature: sig_id, batch, its metadata, distil_id ('|'-joined inst_ids), n_cases.

    inst: inst_info indexed by inst_id (only the profiles at hand). Rows in batch order.
    """
    inst = inst.assign(batch=inst["rna_plate"].map(batch_of))
    if sig_info is not None:
        return _from_sig_info(inst, sig_info)
    treated = inst[~is_control(inst["pert_type"])]
    dose = pd.to_numeric(treated["pert_dose"], errors="coerce")
    keys = treated.assign(dose_key=dose.round(6).fillna(-666.0))
    rows = []
    for (batch, pert_id, dose_key, _time, _cell), group in keys.groupby(
        ["batch", "pert_id", "dose_key", "pert_time", "cell_id"], sort=True, dropna=False
    ):
        dosed = "" if dose_key == -666.0 else f":{dose_key:g}"
        rows.append(_row(f"{batch}:{pert_id}{dosed}", batch, group))
    return pd.DataFrame(rows)


def _from_sig_info(inst: pd.DataFrame, sig_info: pd.DataFrame) -> pd.DataFrame:
    """The table's signatures over the profiles at hand. Those with no profile here, and those
    that lost some of their profiles (not converted, or left out by QC), are counted in
    `attrs["sig_info"]` with a few of their ids: a partial release is normal, a silent one not."""
    rows, absent, partial = [], [], []
    for sig_id, record in sig_info.iterrows():
        listed = str(record["distil_id"]).split("|")
        cases = [i for i in listed if i in inst.index]
        if not cases:
            absent.append(str(sig_id))
            continue
        if len(cases) < len(listed):
            partial.append(str(sig_id))
        batches = inst.loc[cases, "batch"].unique()
        if len(batches) != 1:
            raise ValueError(f"signature {sig_id} spans several batches: {', '.join(batches)}")
        rows.append(_row(str(sig_id), batches[0], inst.loc[cases]))
    if not rows:
        raise ValueError(
            f"no signature of the sig_info table has a profile here "
            f"({len(absent):,} signatures, e.g. {', '.join(absent[:3])})"
        )
    table = pd.DataFrame(rows).sort_values(["batch", "sig_id"], kind="stable")
    table.attrs["sig_info"] = {
        "signatures": len(sig_info),
        "used": len(rows),
        "without_profiles_here": len(absent),
        "without_profiles_here_ids": absent[:20],
        "with_some_profiles_missing": len(partial),
        "with_some_profiles_missing_ids": partial[:20],
    }
    return table


def _row(sig_id: str, batch: str, group: pd.DataFrame) -> dict[str, object]:
    first = group.iloc[0]
    meta = {name: first[name] for name in METADATA if name in group.columns}
    return {
        "sig_id": sig_id,
        "batch": batch,
        **meta,
        "distil_id": "|".join(group.index),
        "n_cases": len(group),
    }


def batch_masks(batch_inst: pd.DataFrame, sigs: pd.DataFrame) -> np.ndarray:
    """Case masks (n_profiles x n_signatures) of a batch's signatures over its profiles; a
    KeyError names the cases that are not among the batch's profiles."""
    cases = [distil.split("|") for distil in sigs["distil_id"]]
    flat = [inst_id for ids in cases for inst_id in ids]
    rows = batch_inst.index.get_indexer(pd.Index(flat))
    if (rows < 0).any():
        missing = sorted({inst_id for inst_id, row in zip(flat, rows, strict=True) if row < 0})
        raise KeyError(f"{len(missing)} cases not among the batch's profiles: {missing[:5]}")
    columns = np.repeat(np.arange(len(cases)), [len(ids) for ids in cases])
    masks = np.zeros((len(batch_inst), len(sigs)), dtype=bool)
    masks[rows, columns] = True
    return masks

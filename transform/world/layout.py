"""Plates of the world: batches of replicate 384-well plates and their inst_info rows.

A batch is one cell line, one time point and one perturbation class, run on replicate plates
`<batch>_X1 .. _Xn` with the same layout: vehicle (or empty-vector) control wells in columns 1
and 24, and treatment wells: compounds at every dose, or knock-outs. A signature of the batch is one
perturbation at one dose: its wells across the replicate plates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from transform.world.biology import Biology
from transform.world.config import WorldConfig

DOSE_UNIT = "uM"  # as CMap writes it, in ASCII (LINCS 2020: uM; the plates of GSE92742: um)

ROWS = "ABCDEFGHIJKLMNOP"
WELLS = tuple(f"{row}{col:02d}" for row in ROWS for col in range(1, 25))
CONTROL_WELLS = tuple(w for w in WELLS if w.endswith(("01", "24")))
TREATMENT_WELLS = tuple(w for w in WELLS if w not in CONTROL_WELLS)
VEHICLE = {"pert_id": "DMSO", "pert_iname": "DMSO", "pert_type": "ctl_vehicle"}
EMPTY_VECTOR = {"pert_id": "ctl_vector", "pert_iname": "EMPTY_VECTOR", "pert_type": "ctl_vector"}


@dataclass(frozen=True)
class Batch:
    index: int
    name: str  # e.g. WCP001_A375_24H; its plates are <name>_X1 ..
    kind: str  # "compound" or "knockout"
    cell: int  # position in Biology.cell_ids
    time_h: int
    perts: np.ndarray  # (384,) perturbation row per well, -1 for a control well
    doses_um: np.ndarray  # (384,) NaN for controls and knock-outs


def batches(config: WorldConfig, biology: Biology) -> Iterator[Batch]:
    """Every batch of the world, in order; deterministic for the config's seed."""
    table = biology.perturbations
    compounds = np.flatnonzero(table["pert_type"].to_numpy() == "trt_cp")
    knockouts = np.flatnonzero(table["pert_type"].to_numpy() == "trt_xpr")
    n_cells = len(biology.cell_ids)
    for b in range(config.n_compound_batches):
        cell = b % n_cells
        time_h = config.compound_times_h[(b // n_cells) % len(config.compound_times_h)]
        rng = np.random.default_rng([config.seed, 200, b])
        perts, doses = _compound_layout(compounds, config.doses_um, rng)
        name = f"WCP{b + 1:03d}_{biology.cell_ids[cell]}_{time_h}H"
        yield Batch(b, name, "compound", cell, time_h, perts, doses)
    for k in range(config.n_knockout_batches):
        b = config.n_compound_batches + k
        rng = np.random.default_rng([config.seed, 200, b])
        perts = _knockout_layout(knockouts, rng)
        name = f"WXP{k + 1:03d}_{biology.cell_ids[k % n_cells]}_{config.knockout_time_h}H"
        doses = np.full(len(WELLS), np.nan)
        yield Batch(b, name, "knockout", k % n_cells, config.knockout_time_h, perts, doses)


def _compound_layout(
    pool: np.ndarray, doses: tuple[float, ...], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    slots = len(TREATMENT_WELLS) // len(doses)
    chosen = np.sort(rng.choice(pool, size=min(slots, len(pool)), replace=False))
    pairs = [(p, d) for p in chosen for d in doses]
    while len(pairs) < len(TREATMENT_WELLS):  # fill the rest with the strongest dose again
        pairs.append((chosen[rng.integers(len(chosen))], doses[-1]))
    order = rng.permutation(len(TREATMENT_WELLS))
    return _place([pairs[i][0] for i in order], [pairs[i][1] for i in order])


def _knockout_layout(pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    chosen = np.sort(rng.choice(pool, size=min(len(TREATMENT_WELLS), len(pool)), replace=False))
    per_ko = len(TREATMENT_WELLS) // len(chosen)
    perts = np.repeat(chosen, per_ko)
    perts = np.concatenate([perts, rng.choice(chosen, len(TREATMENT_WELLS) - len(perts))])
    perts, _ = _place(rng.permutation(perts), [np.nan] * len(perts))
    return perts


def _place(perts: list[int] | np.ndarray, doses: list[float]) -> tuple[np.ndarray, np.ndarray]:
    well_perts = np.full(len(WELLS), -1)
    well_doses = np.full(len(WELLS), np.nan)
    positions = [WELLS.index(w) for w in TREATMENT_WELLS]
    well_perts[positions] = perts
    well_doses[positions] = doses
    return well_perts, well_doses


def plate_inst_info(batch: Batch, replicate: int, biology: Biology) -> pd.DataFrame:
    """inst_info rows (one per well) of replicate plate `replicate` (1-based) of a batch."""
    rna_plate = f"{batch.name}_X{replicate}"
    table = biology.perturbations
    control = VEHICLE if batch.kind == "compound" else EMPTY_VECTOR
    treated = batch.perts >= 0
    p = np.where(treated, batch.perts, 0)
    frame = pd.DataFrame(
        {
            "inst_id": [f"{rna_plate}_B1:{well}" for well in WELLS],
            "rna_plate": rna_plate,
            "rna_well": WELLS,
            "pert_id": np.where(treated, table["pert_id"].to_numpy()[p], control["pert_id"]),
            "pert_iname": np.where(
                treated, table["pert_iname"].to_numpy()[p], control["pert_iname"]
            ),
            "pert_type": np.where(treated, table["pert_type"].to_numpy()[p], control["pert_type"]),
            "pert_dose": np.where(np.isnan(batch.doses_um), -666.0, batch.doses_um),
            "pert_dose_unit": np.where(np.isnan(batch.doses_um), "-666", DOSE_UNIT),
            "pert_time": batch.time_h,
            "pert_time_unit": "h",
            "cell_id": biology.cell_ids[batch.cell],
            "det_plate": f"{rna_plate}_B1",
            "det_well": WELLS,
        }
    )
    return frame.set_index("inst_id")

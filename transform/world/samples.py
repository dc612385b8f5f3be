"""The samples of the world: L1000 plates, the RNA-seq collection and the paired set.

Every plate and chunk draws from its own seeded stream (seed, part, index), so a world is the same
whatever the chunk sizes and however it is streamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import pandas as pd

from transform.world.layout import DOSE_UNIT, WELLS, Batch
from transform.world.measure import (
    level3_plate,
    library_sizes,
    measure_l1000,
    rnaseq_counts,
    true_log_cpm,
)

if TYPE_CHECKING:
    from transform.world.biology import Biology
    from transform.world.generate import World

WELL_STATE_SD = 0.3  # module activity spread between wells of one cell line
PLATE_STATE_SD = 0.12  # a replicate plate's shared biological shift
SAMPLE_BLOCK = 100  # RNA-seq samples drawn from one random stream


def l1000_plate(world: World, batch: Batch, replicate: int) -> np.ndarray:
    """Level 3 values (978, 384) float32 of replicate plate `replicate` of a batch."""
    bio, cfg = world.biology, world.config
    rng = np.random.default_rng([cfg.seed, 300, batch.index, replicate])
    n, k = len(WELLS), cfg.n_modules
    lm = world.universe.landmark_index
    plate_shift = rng.normal(0.0, PLATE_STATE_SD, k)
    z = bio.cell_states[batch.cell] + plate_shift + rng.normal(0.0, WELL_STATE_SD, (n, k))
    cells = np.full(n, batch.cell)
    response = bio.response(batch.perts, cells, batch.doses_um, np.full(n, float(batch.time_h)))
    x = bio.expression(
        z, bio.cell_offsets[batch.cell, lm], batch.perts, response, lm, rng, noise_sd=0.2
    )
    noise = cfg.l1000_noise
    offset = rng.normal(0.0, 0.2 * noise, len(lm))
    return level3_plate(measure_l1000(x, world.platform, rng, plate_offset=offset, noise=noise))


def signature_rows(batch: Batch, wells: pd.DataFrame, bio: Biology) -> pd.DataFrame:
    """sig_info rows of a batch: one per perturbation and dose, its wells across replicates."""
    treated = wells[~wells["pert_type"].str.startswith("ctl_")]
    rows = []
    for (pert_id, dose), group in treated.groupby(["pert_id", "pert_dose"], sort=True):
        first = group.iloc[0]
        is_dosed = dose != -666.0
        rows.append(
            {
                "sig_id": f"{batch.name}:{pert_id}" + (f":{dose:g}" if is_dosed else ""),
                "pert_id": pert_id,
                "pert_iname": first["pert_iname"],
                "pert_type": first["pert_type"],
                "cell_id": first["cell_id"],
                "pert_idose": f"{dose:g} {DOSE_UNIT}" if is_dosed else "-666",
                "pert_itime": f"{batch.time_h} h",
                "distil_id": "|".join(group.index),
                "distil_nsample": len(group),
                "batch": batch.name,
            }
        )
    return pd.DataFrame(rows)


def series_sizes(n_samples: int, seed: int) -> np.ndarray:
    """The GEO series of each RNA-seq sample (n_samples,), GSE ids as integers."""
    rng = np.random.default_rng([seed, 500])
    sizes = list(1 + rng.geometric(1 / 25, size=n_samples))
    if n_samples >= 2000:
        sizes.insert(3, 320)  # one big series: the paper keeps series of fewer than 200 samples
    series = np.repeat(np.arange(len(sizes)), sizes)[:n_samples]
    return 100000 + series


# module activities (n, K), gene offsets, perturbations (-1: none), responses, labels, cell ids
_States: TypeAlias = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], np.ndarray]


def _random_states(world: World, n: int, rng: np.random.Generator, p_cell: float) -> _States:
    """Module activities, gene offsets, perturbation and labels for n samples."""
    bio, cfg = world.biology, world.config
    n_cells, n_tissues = len(bio.cell_ids), len(bio.tissue_states)
    is_cell = rng.random(n) < p_cell
    cell = rng.integers(0, n_cells, n)
    tissue = rng.integers(0, n_tissues, n)
    z = np.where(
        is_cell[:, None],
        bio.cell_states[cell] + rng.normal(0.0, 0.3, (n, cfg.n_modules)),
        bio.tissue_states[tissue] + rng.normal(0.0, 0.45, (n, cfg.n_modules)),
    )
    offsets = np.where(is_cell[:, None], bio.cell_offsets[cell], bio.tissue_offsets[tissue])
    treated = is_cell & (rng.random(n) < 0.6)
    perts = np.where(treated, rng.integers(0, len(bio.perturbations), n), -1)
    knockout = treated & (
        bio.perturbations["pert_type"].to_numpy()[np.maximum(perts, 0)] == "trt_xpr"
    )
    doses = np.where(treated & ~knockout, rng.choice(cfg.doses_um, n), np.nan)
    times = np.where(knockout, float(cfg.knockout_time_h), rng.choice([6.0, 24.0], n))
    times = np.where(treated, times, 0.0)
    response = bio.response(perts, cell, doses, times)
    labels = [
        _label(bio, c, t, p, d, h, ic)
        for c, t, p, d, h, ic in zip(cell, tissue, perts, doses, times, is_cell, strict=True)
    ]
    cells = np.where(is_cell, np.array(bio.cell_ids)[cell], "-666")
    return z, offsets, perts, response, labels, cells


def _label(
    bio: Biology, cell: int, tissue: int, pert: int, dose: float, hours: float, is_cell: bool
) -> str:
    if not is_cell:
        return f"tissue-{tissue + 1:02d}"
    if pert < 0:
        return bio.cell_ids[cell]
    name = bio.perturbations["pert_iname"].iat[pert]
    dose_text = "" if np.isnan(dose) else f" {dose:g} {DOSE_UNIT}"
    return f"{bio.cell_ids[cell]} {name}{dose_text} {hours:g} h"


def rnaseq_chunk(
    world: World, start: int, n: int, series: np.ndarray
) -> tuple[np.ndarray, pd.DataFrame]:
    """Counts (n_genes, n) uint32 and ARCHS4 sample metadata of samples start .. start + n.

    Drawn in blocks of SAMPLE_BLOCK samples, each from its own stream, so that any chunking of the
    collection into whole blocks gives the same samples.
    """
    if start % SAMPLE_BLOCK:
        raise ValueError(f"RNA-seq chunks start at multiples of {SAMPLE_BLOCK}, not {start}")
    parts = [
        _rnaseq_block(world, block_start, min(SAMPLE_BLOCK, start + n - block_start), series)
        for block_start in range(start, start + n, SAMPLE_BLOCK)
    ]
    counts = np.concatenate([part[0] for part in parts], axis=1)
    return counts, pd.concat([part[1] for part in parts], ignore_index=True)


def _rnaseq_block(
    world: World, start: int, n: int, series: np.ndarray
) -> tuple[np.ndarray, pd.DataFrame]:
    cfg = world.config
    rng = np.random.default_rng([cfg.seed, 400, start])
    p_cell = cfg.collection_cell_share  # samples of the L1000 cell lines (the rest: tissues)
    z, offsets, perts, response, labels, _ = _random_states(world, n, rng, p_cell=p_cell)
    genes = np.arange(world.universe.n_genes)
    x = world.biology.expression(z, offsets, perts, response, genes, rng, noise_sd=0.25)
    sizes = library_sizes(n, cfg.median_library_size, rng)
    counts = rnaseq_counts(x, sizes, rng)
    ids = np.arange(start, start + n)
    meta = pd.DataFrame(
        {
            "geo_accession": [f"GSM{9000000 + i}" for i in ids],
            "series_id": [f"GSE{s}" for s in series[ids]],
            "source_name_ch1": labels,
            "characteristics_ch1": [f"state: {label}" for label in labels],
            "readsaligned": counts.sum(axis=0, dtype=np.int64),
        }
    )
    return counts, meta


@dataclass(frozen=True)
class PairedChunk:
    level3: np.ndarray  # (978, n) float32
    counts: np.ndarray  # (n_genes, n) uint32
    true_log_cpm: np.ndarray  # (n_genes, n) float32, log10(CPM + 1) of the noise-free state
    samples: pd.DataFrame  # index sample_id
    archs4_meta: pd.DataFrame


def paired_chunk(world: World, start: int, n: int) -> PairedChunk:
    """n samples measured both ways: one L1000 plate and the RNA-seq of the same RNA."""
    cfg = world.config
    rng = np.random.default_rng([cfg.seed, 600, start])
    z, offsets, perts, response, labels, cells = _random_states(world, n, rng, p_cell=0.5)
    genes = np.arange(world.universe.n_genes)
    x = world.biology.expression(z, offsets, perts, response, genes, rng, noise_sd=0.25)
    lm = world.universe.landmark_index
    noise = cfg.l1000_noise
    offset = rng.normal(0.0, 0.2 * noise, len(lm))
    level3 = level3_plate(
        measure_l1000(x[:, lm], world.platform, rng, plate_offset=offset, noise=noise)
    )
    sizes = np.maximum(library_sizes(n, cfg.median_library_size, rng), 5e6)
    counts = rnaseq_counts(x, sizes, rng)
    ids = [f"PAIRED{start + i + 1:06d}" for i in range(n)]
    plate = f"WPA{start // len(WELLS) + 1:03d}_X1"
    samples = pd.DataFrame(
        {"rna_plate": plate, "rna_well": WELLS[:n], "cell_id": cells, "state": labels},
        index=pd.Index(ids, name="sample_id"),
    )
    archs4 = pd.DataFrame(
        {
            "geo_accession": ids,
            "series_id": "GSE_PAIRED",
            "source_name_ch1": labels,
            "characteristics_ch1": [f"state: {s}" for s in labels],
            "readsaligned": counts.sum(axis=0, dtype=np.int64),
        }
    )
    truth = true_log_cpm(x).T.astype(np.float32)
    return PairedChunk(level3, counts, truth, samples, archs4)

"""`python -m transform world --compare-real`: the world's plates beside the real L1000 plates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from transform.io import read_gct, read_gctx
from transform.io.matrix import GeneMatrix
from transform.world.config import world_config
from transform.world.generate import build_world, landmark_row_meta
from transform.world.layout import batches, plate_inst_info
from transform.world.realism import compare_table, plate_statistics
from transform.world.samples import l1000_plate

REAL_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "l1000"
REAL_PLATES = (
    "LJP005_A375_24H_X1_B19_QNORM_n377x978.gct",
    "LJP009_A375_24H_X1_B20_QNORM_n371x978.gct",
)
MAX_WORLD_BATCHES = 6


def real_plates(folder: Path = REAL_DIR) -> GeneMatrix:
    """The real Level 3 plates side by side on the rows of the first."""
    plates = [read_gct(folder / name) for name in REAL_PLATES]
    rows = plates[0].row_ids
    values = np.concatenate([p.values[p.row_ids.get_indexer(rows)] for p in plates], axis=1)
    col_meta = pd.concat([p.col_meta for p in plates])
    return GeneMatrix(values, plates[0].row_meta, col_meta)


def world_plates(size: str, seed: int, world_dir: Path | None) -> GeneMatrix:
    """A world's compound plates: read from `world_dir`, else made in memory (a few batches)."""
    if world_dir is not None:
        level3 = read_gctx(world_dir / "l1000" / "level3.gctx")
        inst = pd.read_csv(world_dir / "l1000" / "inst_info.txt", sep="\t", index_col="inst_id")
        keep = inst.index[inst["rna_plate"].str.startswith("WCP")]
        keep = keep[: MAX_WORLD_BATCHES * 3 * 384]
        columns = level3.col_ids.get_indexer(keep)
        return GeneMatrix(level3.values[:, columns], level3.row_meta, inst.loc[keep])
    world = build_world(world_config(size, seed=seed))
    values, metas = [], []
    compound = [b for b in batches(world.config, world.biology) if b.kind == "compound"]
    for batch in compound[:MAX_WORLD_BATCHES]:
        for replicate in range(1, world.config.replicate_plates + 1):
            values.append(l1000_plate(world, batch, replicate))
            metas.append(plate_inst_info(batch, replicate, world.biology))
    return GeneMatrix(
        np.concatenate(values, axis=1), landmark_row_meta(world.universe), pd.concat(metas)
    )


def print_comparison(*, size: str, seed: int, world_dir: Path | None, real: Path | None) -> int:
    real_stats = plate_statistics(real_plates(real or REAL_DIR))
    world_stats = plate_statistics(world_plates(size, seed, world_dir))
    print(
        f"Realism: real Level 3 plates (LJP005, LJP009; A375 24 h) against the {size} world's "
        f"compound plates (seed {seed})\n"
    )
    print(compare_table(real_stats, world_stats))
    return 0

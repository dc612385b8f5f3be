"""Write a world to disk, streamed plate by plate and chunk by chunk (constant memory).

Layout of the output folder (docs/world.md):
    l1000/level3.gctx  l1000/inst_info.txt  l1000/sig_info.txt  l1000/gene_info.txt
    rnaseq/archs4_gene_counts.h5
    paired/l1000_level3.gctx  paired/rnaseq_counts.h5  paired/true_log_cpm.gctx  paired/samples.txt
    truth/perturbations.txt  truth/sensitivity.txt  truth/signatures.txt  truth/effects.gctx
    truth/true_up.gmt  truth/true_down.gmt
    world.json
"""

from __future__ import annotations

import json
import platform as host
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transform.io import Archs4Writer, GctxWriter
from transform.io.files import sha256_file
from transform.io.hdf5 import mark_synthetic
from transform.world.biology import Biology, make_biology
from transform.world.config import REFERENCE_DIR, WorldConfig
from transform.world.genes import GeneUniverse, gene_universe
from transform.world.layout import WELLS, Batch, batches, plate_inst_info
from transform.world.measure import Platform, make_platform
from transform.world.samples import (
    SAMPLE_BLOCK,
    l1000_plate,
    paired_chunk,
    rnaseq_chunk,
    series_sizes,
    signature_rows,
)
from transform.world.truth import write_truth

FORMAT_VERSION = 1


@dataclass(frozen=True)
class World:
    config: WorldConfig
    universe: GeneUniverse
    biology: Biology
    platform: Platform


def build_world(config: WorldConfig, reference_dir: Path = REFERENCE_DIR) -> World:
    """The world's fixed parts (genes, biology, platform): small, held in memory."""
    universe = gene_universe(reference_dir, n_noncoding=config.n_noncoding_genes, seed=config.seed)
    biology = make_biology(config, universe, np.random.default_rng([config.seed, 1]))
    platform = make_platform(universe, biology, np.random.default_rng([config.seed, 2]))
    return World(config, universe, biology, platform)


def generate_world(
    config: WorldConfig,
    out: Path,
    *,
    progress: Callable[[str], None] = print,
    parts: tuple[str, ...] = ("l1000", "rnaseq", "paired", "truth"),
) -> dict[str, Any]:
    out = Path(out)
    for folder in ("l1000", "rnaseq", "paired", "truth"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    world = build_world(config)
    counts: dict[str, int] = {}
    if "l1000" in parts:
        counts["l1000_profiles"], counts["signatures"] = write_l1000(world, out / "l1000", progress)
    if "rnaseq" in parts:
        counts["rnaseq_samples"] = write_rnaseq(world, out / "rnaseq", progress)
    if "paired" in parts:
        counts["paired_samples"] = write_paired(world, out / "paired", progress)
    if "truth" in parts:
        counts["perturbations"] = write_truth(world.biology, world.universe, out / "truth")
    origin = {"size": config.size, "seed": config.seed, "setting": config.setting}
    for path in sorted(p for p in out.rglob("*") if p.suffix in (".gctx", ".h5")):
        mark_synthetic(path, origin)  # so that a model trained on it says so (bundle, convert)
    manifest = _manifest(config, out, counts, time.perf_counter() - started)
    (out / "world.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def landmark_row_meta(universe: GeneUniverse) -> pd.DataFrame:
    """Level 3 row metadata as GSE92742 ships it: probe ids with 2017 symbols and Entrez IDs."""
    lm = universe.landmarks
    return pd.DataFrame(
        {
            "pr_gene_id": lm["pr_gene_id"].astype(int).to_numpy(),
            "pr_gene_symbol": lm["pr_gene_symbol"].to_numpy(),
            "pr_gene_title": lm["pr_gene_title"].to_numpy(),
            "pr_is_lm": 1,
            "pr_is_bing": 1,
        },
        index=pd.Index(lm["pr_id"].to_numpy(), name="rid"),
    )


def write_l1000(world: World, folder: Path, progress: Callable[[str], None]) -> tuple[int, int]:
    config, n_profiles, n_sigs = world.config, 0, 0
    row_meta = landmark_row_meta(world.universe)
    row_meta.rename_axis("pr_id").reset_index().to_csv(
        folder / "gene_info.txt", sep="\t", index=False
    )
    inst_path, sig_path = folder / "inst_info.txt", folder / "sig_info.txt"
    with GctxWriter(folder / "level3.gctx", row_meta) as writer:
        for batch in batches(config, world.biology):
            wells = []
            for replicate in range(1, config.replicate_plates + 1):
                values = l1000_plate(world, batch, replicate)
                inst = plate_inst_info(batch, replicate, world.biology)
                writer.append(values, inst)
                _append_table(inst_path, inst.reset_index())
                wells.append(inst)
                n_profiles += len(inst)
            sigs = signature_rows(batch, pd.concat(wells), world.biology)
            _append_table(sig_path, sigs)
            n_sigs += len(sigs)
            progress(f"l1000: batch {batch.name}, {n_profiles} profiles")
    return n_profiles, n_sigs


def write_rnaseq(world: World, folder: Path, progress: Callable[[str], None]) -> int:
    config = world.config
    series = series_sizes(config.n_rnaseq_samples, config.seed)
    step = max(SAMPLE_BLOCK, config.chunk_samples // SAMPLE_BLOCK * SAMPLE_BLOCK)
    with Archs4Writer(folder / "archs4_gene_counts.h5", archs4_gene_meta(world.universe)) as writer:
        for start in range(0, config.n_rnaseq_samples, step):
            n = min(step, config.n_rnaseq_samples - start)
            counts, meta = rnaseq_chunk(world, start, n, series)
            writer.append(counts, meta)
            progress(f"rnaseq: {start + n} of {config.n_rnaseq_samples} samples")
    return config.n_rnaseq_samples


def write_paired(world: World, folder: Path, progress: Callable[[str], None]) -> int:
    config, universe = world.config, world.universe
    genes = pd.DataFrame(index=pd.Index(universe.genes["symbol"].to_numpy(), name="rid"))
    with (
        GctxWriter(folder / "l1000_level3.gctx", landmark_row_meta(universe)) as l1000,
        Archs4Writer(folder / "rnaseq_counts.h5", archs4_gene_meta(universe)) as rnaseq,
        GctxWriter(folder / "true_log_cpm.gctx", genes) as truth,
    ):
        for start in range(0, config.n_paired_samples, len(WELLS)):
            n = min(len(WELLS), config.n_paired_samples - start)
            chunk = paired_chunk(world, start, n)
            l1000.append(chunk.level3, chunk.samples)
            rnaseq.append(chunk.counts, chunk.archs4_meta)
            truth.append(chunk.true_log_cpm, chunk.samples[["cell_id"]])
            _append_table(folder / "samples.txt", chunk.samples.reset_index())
            progress(f"paired: {start + n} of {config.n_paired_samples} samples")
    return config.n_paired_samples


def archs4_gene_meta(universe: GeneUniverse) -> pd.DataFrame:
    genes = universe.genes
    return pd.DataFrame(
        {
            "symbol": genes["symbol"].to_numpy(),
            "ensembl_gene": genes["ensembl_gene"].to_numpy(),
            "biotype": genes["biotype"].to_numpy(),
        }
    )


def _append_table(path: Path, frame: pd.DataFrame) -> None:
    frame.to_csv(path, sep="\t", index=False, mode="a", header=not path.exists())


def _manifest(
    config: WorldConfig, out: Path, counts: dict[str, int], seconds: float
) -> dict[str, Any]:
    files = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name != "world.json"):
        files[str(path.relative_to(out))] = {
            "bytes": path.stat().st_size,
            "sha256": sha256_file(path),
        }
    return {
        "format_version": FORMAT_VERSION,
        "kind": "synthetic world",
        "config": config.as_dict(),
        "counts": counts,
        "files": files,
        "seconds": round(seconds, 2),
        "created_by": " ".join(["python -m transform", *sys.argv[1:]]),
        "versions": {
            "python": host.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
    }


__all__ = ["Batch", "World", "build_world", "generate_world"]

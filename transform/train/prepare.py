"""Training data, prepared once per run folder: gene spaces, drawn profiles, normalized samples.

    prepared.json         key (data config + source files), counts, gene space summaries
    genes.json            input and output gene spaces, input symbol -> Entrez id, normalization
    l1000_inputs.npy      (n_profiles, n_input) float32  Level 3 values as they are
    rnaseq_inputs.npy     (n_samples, n_input) float32   model scale (log10 CPM + 1, QN)
    rnaseq_outputs.npy    (n_samples, n_output) float32  model scale
    l1000_ids.txt  rnaseq_ids.txt                        the drawn profiles and samples, in order
    cell_lines.json       the L1000 profiles' cell lines, and per RNA-seq sample the one of them
                          its description names ("" for none; see populations.py)

The arrays are written as memory maps (the normalized RNA-seq side of the paper's 50,000 samples
is about 5 GB) and read back memory-mapped; the RNA-seq counts are read chunk by chunk in two
passes (fit the quantile reference, then map). A folder prepared from the same files and data
config is reused, so a resumed run trains on the very same data.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from transform.gene_ids import match_landmarks
from transform.gene_space import GeneSpace, GeneSpaceMismatch, output_gene_space
from transform.io.hdf5 import synthetic_origin
from transform.io.level3 import Level3
from transform.normalize import normalize_rnaseq_chunked
from transform.rnaseq import Normalization, SymbolRows
from transform.train.config import DataConfig
from transform.train.populations import l1000_cell_lines, named_cell_lines
from transform.train.sources import (
    Sources,
    draw,
    iter_counts,
    l1000_positions,
    read_l1000_profiles,
    read_sample_meta,
    rnaseq_genes,
    rnaseq_symbols,
    training_sample_positions,
)

FORMAT_VERSION = 2
Progress = Callable[[str], None]


@dataclass(frozen=True)
class PreparedData:
    """The arrays the two steps train on, with the gene spaces and normalization facts."""

    input_genes: GeneSpace
    output_genes: GeneSpace
    input_gene_ids: dict[
        str, int | None
    ]  # input symbol -> Entrez id (pr_gene_id) in the L1000 file
    normalization: Normalization
    l1000: np.ndarray  # (n_profiles, n_input) float32
    rnaseq_inputs: np.ndarray  # (n_samples, n_input) float32
    rnaseq_outputs: np.ndarray  # (n_samples, n_output) float32
    rnaseq_ids: tuple[str, ...]
    manifest: dict[str, Any]
    l1000_cell_lines: tuple[str, ...] = ()  # distinct cell ids of the drawn L1000 profiles
    rnaseq_cell_lines: tuple[str, ...] = ()  # per RNA-seq sample: the L1000 cell line it names

    def genes_state(self) -> dict[str, object]:
        """What a checkpoint stores so that its model can be used alone."""
        return {
            "input_genes": self.input_genes.to_dict(),
            "output_genes": self.output_genes.to_dict(),
            "input_gene_ids": dict(self.input_gene_ids),
            "normalization": self.normalization.to_dict(),
        }


def prepare_data(
    sources: Sources, config: DataConfig, folder: Path, *, progress: Progress = print
) -> PreparedData:
    """Prepare the training data into `folder`, or reuse what it holds for the same key."""
    folder = Path(folder)
    key = {"format_version": FORMAT_VERSION, "data": config.as_dict(), **sources.identity()}
    if (folder / "prepared.json").exists():
        if json.loads((folder / "prepared.json").read_text())["key"] != key:
            raise FileExistsError(
                f"{folder} holds data prepared from other files or settings; "
                "remove it or choose another data folder"
            )
        progress(f"reusing the training data prepared in {folder}")
        return load_prepared(folder)
    temp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    manifest = _prepare(sources, config, temp, progress)
    (temp / "prepared.json").write_text(json.dumps({"key": key, **manifest}, indent=1) + "\n")
    if folder.exists():
        folder.rmdir()  # an empty folder only: anything else stays and fails here
    os.replace(temp, folder)
    return load_prepared(folder)


def _prepare(sources: Sources, config: DataConfig, out: Path, progress: Progress) -> dict[str, Any]:
    started = time.perf_counter()
    rows = rnaseq_symbols(sources.rnaseq)
    level3 = sources.level3
    for note in level3.notes:
        progress(f"note: {note}")
    match = match_landmarks(level3.landmarks(), rnaseq_genes(sources.rnaseq))
    progress(match.report())
    if match.matched.empty:
        raise GeneSpaceMismatch(f"no landmark of {sources.l1000} is among the RNA-seq genes")
    input_genes = GeneSpace("input", tuple(sorted(match.matched["rnaseq_symbol"])))
    samples = read_sample_meta(sources.rnaseq)
    progress(f"output genes: counting reads in up to {config.gene_filter_samples:,} samples")
    output_genes = _output_genes(sources, rows, len(samples), config)
    kept = training_sample_positions(
        samples, min_reads=config.min_reads, max_series_samples=config.max_series_samples
    )
    chosen = draw(kept, config.max_rnaseq_samples, np.random.default_rng([config.seed, 2]))
    progress(f"RNA-seq: normalizing {len(chosen):,} of {len(kept):,} eligible samples")
    normalization = _write_rnaseq(sources, chosen, rows, (input_genes, output_genes), config, out)
    _write_lines(out / "rnaseq_ids.txt", samples["geo_accession"].iloc[chosen].astype(str))
    by_symbol = match.matched.reset_index(names="probe").set_index("rnaseq_symbol")
    probes = by_symbol.loc[list(input_genes.symbols)]
    cells = _write_l1000(sources, level3, probes["probe"].tolist(), config, out, progress)
    matched = named_cell_lines(samples["description"].iloc[chosen].tolist(), cells)
    (out / "cell_lines.json").write_text(json.dumps({"l1000": cells, "rnaseq": matched}) + "\n")
    entrez = {s: None if _missing(e) else int(e) for s, e in probes["entrez"].items()}
    genes = {
        "input_genes": input_genes.to_dict(),
        "output_genes": output_genes.to_dict(),
        "input_gene_ids": entrez,
        "normalization": normalization.to_dict(),
    }
    (out / "genes.json").write_text(json.dumps(genes) + "\n")
    return {
        "counts": {
            "landmarks": len(match.matched) + len(match.dropped),
            "input_genes": len(input_genes),
            "output_genes": len(output_genes),
            "rnaseq_genes": len(rows.symbols),
            "rnaseq_samples_in_file": len(samples),
            "rnaseq_samples_eligible": len(kept),
            "rnaseq_samples": len(chosen),
            "rnaseq_samples_of_l1000_cell_lines": sum(1 for m in matched if m),
            "l1000_profiles": len(np.load(out / "l1000_inputs.npy", mmap_mode="r")),
            "l1000_cell_lines": len(cells),
        },
        "input_genes": input_genes.summary(),
        "landmark_match": match.summary(),
        "output_genes": output_genes.summary(),
        "normalization": normalization.summary(),
        # a generated world's files say so (transform world): the model then learnt its gene map
        "synthetic_world": synthetic_origin(sources.rnaseq) or synthetic_origin(sources.l1000),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _missing(value: object) -> bool:
    return value is None or value != value or str(value) in ("", "<NA>", "-666")


def _output_genes(
    sources: Sources, rows: SymbolRows, n_samples: int, config: DataConfig
) -> GeneSpace:
    rng = np.random.default_rng([config.seed, 1])
    positions = draw(np.arange(n_samples), config.gene_filter_samples, rng)
    chunks = iter_counts(sources.rnaseq, positions, rows, chunk=config.chunk_samples)
    return output_gene_space(
        rows.symbols, chunks, min_reads=config.gene_min_reads, min_fraction=config.gene_min_fraction
    )


def _write_rnaseq(
    sources: Sources,
    positions: np.ndarray,
    rows: SymbolRows,
    spaces: tuple[GeneSpace, GeneSpace],
    config: DataConfig,
    out: Path,
) -> Normalization:
    """Normalize the chosen samples (two passes) and write their input and output gene rows."""
    full = GeneSpace("rnaseq", rows.symbols)
    at = [np.array([full.positions[s] for s in space.symbols]) for space in spaces]
    targets = [
        np.lib.format.open_memmap(
            out / name, mode="w+", dtype=np.float32, shape=(len(positions), len(space))
        )
        for name, space in zip(("rnaseq_inputs.npy", "rnaseq_outputs.npy"), spaces, strict=True)
    ]
    reference, normalized = normalize_rnaseq_chunked(
        lambda: iter_counts(sources.rnaseq, positions, rows, chunk=config.chunk_samples)
    )
    start = 0
    for block in normalized:  # (n_genes, k)
        for target, rows_at in zip(targets, at, strict=True):
            target[start : start + block.shape[1]] = block[rows_at].T
        start += block.shape[1]
    for target in targets:
        target.flush()
    return Normalization(full, reference)


def _write_l1000(
    sources: Sources,
    level3: Level3,
    probes: list[str],
    config: DataConfig,
    out: Path,
    progress: Progress,
) -> list[str]:
    """Write the drawn profiles; returns their distinct cell lines."""
    rng = np.random.default_rng([config.seed, 3])
    eligible = l1000_positions(level3, qc_pass_only=sources.qc_pass_only)
    if sources.qc_pass_only:
        progress(f"L1000: {len(eligible):,} of {level3.n_profiles:,} profiles pass QC")
    positions = draw(eligible, config.max_l1000_profiles, rng)
    progress(f"L1000: reading {len(positions):,} profiles")
    ids, values, cells = read_l1000_profiles(
        level3, probes, positions, chunk=8 * config.chunk_samples
    )
    np.save(out / "l1000_inputs.npy", values)
    _write_lines(out / "l1000_ids.txt", ids)
    return l1000_cell_lines(cells)


def _write_lines(path: Path, lines: Iterable[object]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines))


def load_prepared(folder: Path) -> PreparedData:
    """The prepared data of `folder`, arrays memory-mapped."""
    genes = json.loads((folder / "genes.json").read_text())
    manifest = json.loads((folder / "prepared.json").read_text())
    cells = json.loads((folder / "cell_lines.json").read_text())
    return PreparedData(
        input_genes=GeneSpace.from_dict(genes["input_genes"]),
        output_genes=GeneSpace.from_dict(genes["output_genes"]),
        input_gene_ids=genes["input_gene_ids"],
        normalization=Normalization.from_dict(genes["normalization"]),
        l1000=np.load(folder / "l1000_inputs.npy", mmap_mode="r"),
        rnaseq_inputs=np.load(folder / "rnaseq_inputs.npy", mmap_mode="r"),
        rnaseq_outputs=np.load(folder / "rnaseq_outputs.npy", mmap_mode="r"),
        rnaseq_ids=tuple((folder / "rnaseq_ids.txt").read_text().split()),
        manifest=manifest,
        l1000_cell_lines=tuple(cells["l1000"]),
        rnaseq_cell_lines=tuple(cells["rnaseq"]),
    )

"""The two-step model at inference: L1000 Level 3 profiles -> RNA-seq-like profiles.

    model = TwoStepModel.load("model.pt")
    landmarks = model.align_inputs(level3)          # (n_input, n) in the model's gene order
    profiles = model.transform(landmarks)           # (n_output, n), log10(CPM + 1) QN scale
    truth = model.rnaseq_to_model_scale(counts)     # RNA-seq counts on the same scale

Matrices are genes x profiles, as everywhere in `transform`. Networks run in eval mode (batch norm
uses its running statistics) under torch.no_grad, in chunks of profiles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from transform.bundle import BUNDLE_FORMAT, synthetic_world
from transform.gene_ids import entrez_id
from transform.gene_space import GeneSpace, GeneSpaceMismatch
from transform.io import GeneMatrix
from transform.io.hdf5 import synthetic_origin
from transform.models import Extrapolator, ExtrapolatorConfig, Generator, GeneratorConfig
from transform.rnaseq import Missing, Normalization
from transform.train.checkpoint import load_checkpoint

CHUNK = 4096  # profiles per forward pass
SYMBOL, ENTREZ, LANDMARK_FLAG = "pr_gene_symbol", "pr_gene_id", "pr_is_lm"


class TwoStepModel:
    """G_AB (step 1) and the extrapolator (step 2) with their gene spaces and RNA-seq scale."""

    def __init__(
        self,
        generator: Generator,
        extrapolator: Extrapolator,
        genes: dict[str, Any],
        *,
        device: str | torch.device = "cpu",
        learnt_from: dict[str, Any] | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.learnt_from = learnt_from  # the generated world it was trained on, None if real
        self.generator = generator.to(self.device).eval()
        self.extrapolator = extrapolator.to(self.device).eval()
        self.input_space = GeneSpace.from_dict(genes["input_genes"])
        self.output_space = GeneSpace.from_dict(genes["output_genes"])
        self.input_gene_ids: dict[str, int | None] = dict(genes["input_gene_ids"])
        self.normalization = Normalization.from_dict(genes["normalization"])
        self.input_genes: tuple[str, ...] = self.input_space.symbols
        self.output_genes: tuple[str, ...] = self.output_space.symbols

    @classmethod
    def load(cls, path: str | Path, *, device: str = "cpu") -> TwoStepModel:
        """A bundle written by `python -m transform bundle`."""
        bundle = load_checkpoint(Path(path))
        if bundle["format"] != BUNDLE_FORMAT:
            raise ValueError(f"{path}: a {bundle['format']} file, not a model bundle")
        genes = bundle["genes"]
        n_in, n_out = len(genes["input_genes"]["symbols"]), len(genes["output_genes"]["symbols"])
        with torch.device("meta"):  # no random initialization of weights about to be replaced
            generator = Generator(n_in, GeneratorConfig.from_dict(bundle["generator"]["config"]))
            config = ExtrapolatorConfig.from_dict(bundle["extrapolator"]["config"])
            extrapolator = Extrapolator(n_in, n_out, config)
        generator.load_state_dict(bundle["generator"]["state"], assign=True)
        extrapolator.load_state_dict(bundle["extrapolator"]["state"], assign=True)
        return cls(
            generator, extrapolator, genes, device=device, learnt_from=synthetic_world(bundle)
        )

    def origin_warning(self, path: str | Path) -> str | None:
        """Why its output on the file at `path` may mislead: a model trained on a generated
        world, given a file that is not that world's (a real release); None otherwise."""
        world = self.learnt_from
        if world is None or synthetic_origin(path) == world:
            return None
        return (
            f"the model was trained on a generated world ({world.get('size')}, seed "
            f"{world.get('seed')}, setting {world.get('setting')}) and {path} is not that world's: "
            "its inferred genes follow the world's gene modules, not real cells', and on real "
            'plates its signatures lose the perturbation signal (docs/training.md, "Real plates '
            'at the signature level"); train it on the real collection first'
        )

    def align_inputs(self, matrix: GeneMatrix) -> np.ndarray:
        """(n_input, n) float32: the rows of a Level 3 matrix in the model's input gene order.

        Rows are found among the landmark rows (pr_is_lm == 1, where flagged) by Entrez id
        (pr_gene_id, through the input symbol -> Entrez table saved with the model: symbols
        change, ids do not), else by pr_gene_symbol (the row ids where the field is absent).
        Genes found neither way raise GeneSpaceMismatch. Give a GCTX that carries no row
        metadata its gene table first (`transform.io.level3`).
        """
        rows = matrix.row_meta
        candidates = np.arange(len(rows))
        if LANDMARK_FLAG in rows.columns and (rows[LANDMARK_FLAG] == 1).any():
            candidates = np.flatnonzero((rows[LANDMARK_FLAG] == 1).to_numpy())
        symbols = rows[SYMBOL] if SYMBOL in rows.columns else rows.index.to_series()
        by_symbol = _unique_lookup(symbols.iloc[candidates].astype(str), candidates)
        by_entrez = {}
        if ENTREZ in rows.columns:
            by_entrez = _unique_lookup(rows[ENTREZ].iloc[candidates].map(entrez_id), candidates)
        found = [
            by_entrez.get(self.input_gene_ids.get(s), by_symbol.get(s)) for s in self.input_genes
        ]
        missing = [s for s, at in zip(self.input_genes, found, strict=True) if at is None]
        if missing:
            raise GeneSpaceMismatch(
                "the L1000 matrix lacks input genes of the model (by symbol and by Entrez id)",
                missing=missing,
            )
        return np.asarray(matrix.values[np.asarray(found)], dtype=np.float32)

    def step1(self, l1000: np.ndarray) -> np.ndarray:
        """(n_input, n) Level 3 values -> (n_input, n) on the RNA-seq scale (G_AB)."""
        return self._run(self.generator, l1000, len(self.input_genes))

    def step2(self, landmarks: np.ndarray) -> np.ndarray:
        """(n_input, n) RNA-seq-scale landmarks -> (n_output, n), negatives clipped to 0."""
        profiles: NDArray[np.float32] = np.maximum(
            self._run(self.extrapolator, landmarks, len(self.output_genes)), 0
        )
        return profiles

    def transform(self, l1000: np.ndarray) -> np.ndarray:
        """(n_input, n) Level 3 values -> (n_output, n) RNA-seq-like profiles."""
        return self.step2(self.step1(l1000))

    def rnaseq_to_model_scale(
        self, counts: GeneMatrix, *, missing: Missing = "error"
    ) -> GeneMatrix:
        """Raw counts (genes x samples; symbols as row ids or a `symbol` field) -> the output genes
        on the training scale: log10(CPM + 1) over the training's full gene matrix, quantile-mapped
        onto its reference. See `Normalization.align` for genes the counts lack (`missing`)."""
        aligned = self.normalization.align(counts, missing=missing)
        rows = np.array([self.normalization.genes.positions[s] for s in self.output_genes])
        values = np.empty((len(rows), aligned.shape[1]), dtype=np.float32)
        for start in range(0, aligned.shape[1], CHUNK):
            values[:, start : start + CHUNK] = self.normalization.apply(
                aligned[:, start : start + CHUNK]
            )[rows]
        row_meta = pd.DataFrame(index=pd.Index(self.output_genes, name="rid"))
        return GeneMatrix(values, row_meta, counts.col_meta)

    @torch.no_grad()
    def _run(self, network: torch.nn.Module, values: np.ndarray, n_out: int) -> np.ndarray:
        values = np.asarray(values, dtype=np.float32)
        if values.ndim != 2 or values.shape[0] != len(self.input_genes):
            raise ValueError(
                f"expected ({len(self.input_genes)}, n) values in the input gene order, "
                f"got {values.shape}"
            )
        out = np.empty((n_out, values.shape[1]), dtype=np.float32)
        for start in range(0, values.shape[1], CHUNK):
            batch = torch.from_numpy(np.ascontiguousarray(values[:, start : start + CHUNK].T))
            out[:, start : start + CHUNK] = network(batch.to(self.device)).cpu().numpy().T
        return out


def _unique_lookup(keys: pd.Series, positions: np.ndarray) -> dict[Any, int]:
    """key -> row position, for keys that name one row only (and are not missing)."""
    counts = keys.value_counts()
    return {
        key: int(at)
        for key, at in zip(keys, positions, strict=True)
        if key is not None and counts.get(key) == 1
    }

"""The signatures of one world's L1000 profiles, made several ways, for the signature-level
evaluation (`transform.evaluate.signature_level`, docs/training.md, "Signature level").

The profiles of each batch are read once and turned into each version below; each version's
characteristic-direction signatures are computed the portal's way (`batch_signatures`, the batch
rule, the signatures of the world's sig_info):

- converted: the two-step model's output, every output gene (log10 scale);
- step 1: the CycleGAN's landmarks alone (log10);
- L1000: the measured Level 3 landmarks (log2);
- step 2 alone: the extrapolator fed the L1000 landmarks moment-matched onto the RNA-seq scale
  (per-gene standardization, no CycleGAN) (log10);
- ridge: the output genes inferred linearly from step 1's landmarks, CMap's way (log10);
- truth: each signature's perturbation's true effect on the output genes (the ceiling).

Beside the pooled signatures (every replicate plate of a batch together), each replicate plate's
own signatures are kept for the replicate self-retrieval, and each version's share of the
within-plate variance of its profiles that the first principal components hold (collapse).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from transform.evaluate.baselines import standardized
from transform.evaluate.run import Fitted
from transform.inference import TwoStepModel
from transform.io.level3 import Level3
from transform.signatures.compute import SignatureSettings, batch_signatures
from transform.signatures.definitions import batch_of, signature_definitions

N_COMPONENTS = 5  # principal components whose share of the within-plate variance is reported
CONVERTED, STEP1, L1000, RIDGE, TRUTH = "converted", "step 1", "L1000", "ridge", "truth"
STEP2 = "step 2 alone"
SCALE = {CONVERTED: "log10", STEP1: "log10", STEP2: "log10", L1000: "log2", RIDGE: "log10"}


@dataclass
class SignatureSet:
    """One version's signatures: values (genes x signatures) in the order of the signature table,
    and the same per replicate plate (`plate_values`, in the order of `plate_table`)."""

    name: str
    genes: tuple[str, ...]
    values: list[np.ndarray] = field(default_factory=list)  # per batch, joined by `matrix`
    plate_values: list[np.ndarray] = field(default_factory=list)
    profile_variance: list[tuple[float, float]] = field(default_factory=list)  # (top, total)

    @property
    def matrix(self) -> np.ndarray:
        """The batches' signatures side by side (read once every batch is in): joined on the
        first read, in place of the blocks, so that a version is held once."""
        return _joined(self.values)

    @property
    def plate_matrix(self) -> np.ndarray:
        return _joined(self.plate_values) if self.plate_values else np.empty(0)

    @property
    def profile_collapse(self) -> float:
        """The share of the profiles' within-plate variance in the first N_COMPONENTS PCs, each
        batch's principal components apart, summed over batches."""
        top, total = np.sum(self.profile_variance, axis=0)
        return float(top / total) if total > 0 else float("nan")


def _joined(blocks: list[np.ndarray]) -> np.ndarray:
    """The blocks side by side, left in the list as its one block."""
    if len(blocks) != 1:
        blocks[:] = [np.concatenate(blocks, axis=1)]
    return blocks[0]


@dataclass(frozen=True)
class WorldSignatures:
    table: pd.DataFrame  # one row per signature: sig_id, batch, pert_id, cell_id, ...
    plate_table: pd.DataFrame  # one row per (signature, replicate plate)
    sets: dict[str, SignatureSet]
    landmarks: tuple[str, ...]  # the model's input genes (symbols)


def world_signatures(
    model: TwoStepModel,
    level3: Level3,
    sig_info: pd.DataFrame,
    fitted: Fitted,
    effects: pd.DataFrame | None,
    *,
    batches: Sequence[str] | None = None,
) -> WorldSignatures:
    """Every version's signatures of the world's profiles, batch by batch. fitted: the
    evaluation's baselines (the ridge, the per-gene moments); effects: the true effects, genes
    (symbols) x pert_id, or None where there is no ground truth (no truth version then);
    batches: only these batches' signatures (all when None; a name not in the file raises)."""
    inst = level3.column_meta().copy()
    inst["rna_plate"] = inst["rna_plate"].astype(str)
    if batches is not None:
        inst = in_batches(inst, batches)
    table = signature_definitions(inst, sig_info)
    table = table.sort_values("batch", kind="stable").reset_index(drop=True)  # batches together
    versions = _versions(model, fitted)
    sets = {name: SignatureSet(name, genes) for name, (genes, _) in versions.items()}
    plate_rows = []
    landmark_rows = level3.landmark_positions()
    position = pd.Series(np.arange(level3.n_profiles), index=level3.col_ids.astype(str))
    for batch, sigs in table.groupby("batch", sort=False):
        batch_inst = inst[inst["rna_plate"].map(batch_of) == batch]
        cols = position.loc[batch_inst.index.astype(str)].to_numpy()
        x = model.align_inputs(level3.read(rows=landmark_rows, cols=cols))
        plates = _plate_signatures(batch_inst, sigs)
        plate_rows.append(plates)
        for name, profiles in _made(versions, x):
            settings = SignatureSettings(scale=SCALE[name])
            sets[name].values.append(batch_signatures(profiles, batch_inst, sigs, settings).cd)
            sets[name].plate_values.append(_per_plate(profiles, batch_inst, plates, settings))
            sets[name].profile_variance.append(_within_plate_share(profiles, batch_inst))
    if effects is not None:
        truth = SignatureSet(TRUTH, model.output_genes)
        truth.values.append(_true_effects(effects, model.output_genes, table["pert_id"]))
        sets[TRUTH] = truth
    plate_table = pd.concat(plate_rows, ignore_index=True)
    return WorldSignatures(table, plate_table, sets, model.input_genes)


def in_batches(inst: pd.DataFrame, batches: Sequence[str]) -> pd.DataFrame:
    """The profiles of the named batches; a name that is no batch of the file is refused."""
    of = inst["rna_plate"].map(batch_of)
    unknown = sorted(set(batches) - set(of))
    if unknown:
        known = sorted(set(of))
        raise ValueError(
            f"{len(unknown)} batch(es) not in the Level 3 file: {', '.join(unknown[:5])} "
            f"(it has {len(known):,}, e.g. {', '.join(known[:3])})"
        )
    return inst[of.isin(batches).to_numpy()]


Version = tuple[tuple[str, ...], Callable[[dict[str, np.ndarray]], np.ndarray]]


def _versions(model: TwoStepModel, fitted: Fitted) -> dict[str, Version]:
    """name -> (genes, profiles from the versions made before it), in the order they are made."""
    ridge, reference = fitted.ridge, fitted.reference

    def step2_alone(made: dict[str, np.ndarray]) -> np.ndarray:
        return model.step2(standardized(made[L1000], reference).astype(np.float32))

    return {
        L1000: (model.input_genes, lambda made: made["x"]),
        STEP1: (model.input_genes, lambda made: model.step1(made[L1000])),
        CONVERTED: (model.output_genes, lambda made: model.step2(made[STEP1])),
        STEP2: (model.output_genes, step2_alone),
        RIDGE: (model.output_genes, lambda made: ridge.predict(made[STEP1]).astype(np.float32)),
    }


def _made(versions: dict[str, Version], x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    made = {"x": x}
    for name, (_, make) in versions.items():
        made[name] = make(made)
    return [(name, made[name]) for name in versions]


def _plate_signatures(batch_inst: pd.DataFrame, sigs: pd.DataFrame) -> pd.DataFrame:
    """One row per signature and replicate plate holding some of its profiles: the signature of
    that plate's profiles alone."""
    plate_of = batch_inst["rna_plate"]
    rows = []
    for _, sig in sigs.iterrows():
        cases = pd.Index(str(sig["distil_id"]).split("|"))
        for plate, group in plate_of.loc[cases].groupby(plate_of.loc[cases], sort=True):
            rows.append(
                {
                    **sig.to_dict(),
                    "plate": plate,
                    "distil_id": "|".join(group.index),
                    "n_cases": len(group),
                }
            )
    return pd.DataFrame(rows)


def _per_plate(
    profiles: np.ndarray,
    batch_inst: pd.DataFrame,
    plates: pd.DataFrame,
    settings: SignatureSettings,
) -> np.ndarray:
    """The plate signatures (columns in `plates` order), each plate's with its own controls."""
    out = np.empty((profiles.shape[0], len(plates)), dtype=np.float32)
    plate_of = batch_inst["rna_plate"].to_numpy()
    for plate in plates["plate"].unique():
        here = plate_of == plate
        which = np.flatnonzero((plates["plate"] == plate).to_numpy())
        found = batch_signatures(profiles[:, here], batch_inst[here], plates.iloc[which], settings)
        out[:, which] = found.cd
    return out


def _within_plate_share(profiles: np.ndarray, batch_inst: pd.DataFrame) -> tuple[float, float]:
    """(variance in the first N_COMPONENTS principal components, total variance) of the batch's
    profiles after each plate's mean profile is removed."""
    centred = np.asarray(profiles, dtype=np.float64).copy()
    plate_of = batch_inst["rna_plate"].to_numpy()
    for plate in np.unique(plate_of):
        here = plate_of == plate
        centred[:, here] -= centred[:, here].mean(axis=1, keepdims=True)
    return top_variance(centred)


def top_variance(centred: np.ndarray, k: int = N_COMPONENTS) -> tuple[float, float]:
    """(sum of the k largest eigenvalues, trace) of the columns' scatter matrix, from the
    smaller side's Gram matrix."""
    small = centred.T @ centred if centred.shape[1] <= centred.shape[0] else centred @ centred.T
    eigen = np.linalg.eigvalsh(small)
    return float(np.sort(eigen)[::-1][:k].sum()), float(np.trace(small))


def _true_effects(effects: pd.DataFrame, genes: tuple[str, ...], pert_ids: pd.Series) -> np.ndarray:
    """(genes, signatures): each signature's perturbation's true effect (0 for a gene the world
    does not know)."""
    aligned = effects.reindex(index=list(genes)).fillna(0.0)
    true_effects: NDArray[np.float32] = aligned[pert_ids.astype(str).tolist()].to_numpy(np.float32)
    return true_effects

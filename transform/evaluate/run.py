"""Evaluate a model bundle on a paired set: tables, CSV and plots.

Two levels, as PAPER.md asks: step 1 on the landmarks (the CycleGAN's output against the RNA-seq
landmarks) and the two-step output on all output genes. Each row has a role:

- model: the two-step model (step 1 alone at the landmark level);
- baseline: the rows the issue names, which the model must beat on global PCC, mean per-sample
  PCC and RMSE: untransformed L1000 per-gene standardized, per-gene quantile mapping, the
  extrapolator fed L1000 without the CycleGAN (at the full level the landmark baselines are fed
  to the extrapolator too), and the gene-shuffled model output;
- informative: rows that explain the numbers but are not competitors: the raw Level 3 values,
  standardization on the evaluated profiles' own moments (transductive), the mean profile of the
  RNA-seq collection, and the extrapolator fed the measured RNA-seq landmarks (the ceiling that
  step 2 sets on any step 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from transform.evaluate import baselines
from transform.evaluate.metrics import METRICS, prediction_metrics, sample_pccs
from transform.inference import TwoStepModel
from transform.io import GeneMatrix, archs4_info, gctx_shape, read_archs4, read_gctx

PAPER = {"global_pcc": 0.914, "mse": 1.167}  # GSE92743 / GTEx; the code's "rmse" returns the MSE
MODEL, BASELINE, INFORMATIVE = "model", "baseline", "informative"
BEAT_ON = ("global_pcc", "sample_pcc", "rmse")  # higher, higher, lower is better
LEVELS = ("landmarks", "all output genes")


@dataclass(frozen=True)
class Evaluation:
    table: pd.DataFrame  # one row per (level, method): role and METRICS columns
    sample_pcc: dict[str, np.ndarray]  # full-level per-sample PCC per method
    two_step: np.ndarray  # (n_output, n) prediction
    truth: np.ndarray  # (n_output, n)
    step1: np.ndarray  # (n_input, n) step 1 prediction
    truth_landmarks: np.ndarray  # (n_input, n)


def model_scale(
    model: TwoStepModel, counts: GeneMatrix, *spaces: tuple[str, ...]
) -> list[np.ndarray]:
    """Counts on the model's RNA-seq scale (one normalization), restricted to each gene list of
    `spaces`: a (n_genes, n) float32 matrix per list."""
    scaled = model.normalization.apply(model.normalization.align(counts))
    positions = model.normalization.genes.positions
    return [
        np.asarray(scaled[np.array([positions[s] for s in genes])], dtype=np.float32)
        for genes in spaces
    ]


def paired_columns(l1000: GeneMatrix, counts: GeneMatrix) -> tuple[GeneMatrix, GeneMatrix]:
    """The two sides restricted to the samples both have, in the L1000 order."""
    ids = counts.col_meta.get("geo_accession", counts.col_ids.to_series())
    position = pd.Series(np.arange(len(ids)), index=pd.Index(ids.astype(str)))
    shared = [cid for cid in l1000.col_ids.astype(str) if cid in position.index]
    if not shared:
        raise ValueError("the paired L1000 and RNA-seq files share no sample id")
    left = l1000.col_ids.astype(str).get_indexer(shared)
    right = position.loc[shared].to_numpy()
    return _columns(l1000, left), _columns(counts, right)


def _columns(matrix: GeneMatrix, at: np.ndarray) -> GeneMatrix:
    return GeneMatrix(matrix.values[:, at], matrix.row_meta, matrix.col_meta.iloc[at])


def fit_reference(
    model: TwoStepModel, collection: Path, level3: Path, *, n: int, seed: int, chunk: int = 500
) -> tuple[baselines.Reference, np.ndarray]:
    """Baseline facts from up to n random RNA-seq samples and n random L1000 profiles, and the
    collection's mean profile (n_output,); the RNA-seq samples are read `chunk` at a time."""
    rng = np.random.default_rng(seed)
    n_rnaseq = archs4_info(collection).n_samples
    picked = np.sort(rng.choice(n_rnaseq, size=min(n, n_rnaseq), replace=False))
    landmarks, total = [], np.zeros(len(model.output_genes))
    for start in range(0, len(picked), chunk):
        counts = read_archs4(collection, samples=picked[start : start + chunk])
        scaled = model_scale(model, counts, model.input_genes, model.output_genes)
        landmarks.append(scaled[0])
        total += scaled[1].sum(axis=1, dtype=np.float64)
    n_profiles = gctx_shape(level3)[1]
    cols = np.sort(rng.choice(n_profiles, size=min(n, n_profiles), replace=False))
    l1000_in = model.align_inputs(read_gctx(level3, cols=cols))
    reference = baselines.Reference.fit(np.concatenate(landmarks, axis=1), l1000_in)
    return reference, total / len(picked)


Rows = list[tuple[str, str, Callable[[], np.ndarray]]]  # (method, role, prediction)


def evaluate(model: TwoStepModel, l1000: GeneMatrix, counts: GeneMatrix,
             reference: baselines.Reference, output_mean: np.ndarray) -> Evaluation:  # fmt: skip
    l1000, counts = paired_columns(l1000, counts)
    x = model.align_inputs(l1000).astype(np.float64)
    truth_in, truth_out = model_scale(model, counts, model.input_genes, model.output_genes)
    step1 = model.step1(x)
    two_step = model.step2(step1)
    rows, per_sample = [], {}
    for method, role, make in _landmark_rows(x, step1, reference):
        rows.append({"level": LEVELS[0], "method": method, "role": role,
                     **prediction_metrics(make(), truth_in, reference.rnaseq_mean)})  # fmt: skip
    for method, role, make in _full_rows(model, x, truth_in, two_step, reference, output_mean):
        pred = make()
        rows.append({"level": LEVELS[1], "method": method, "role": role,
                     **prediction_metrics(pred, truth_out, output_mean)})  # fmt: skip
        per_sample[method] = sample_pccs(pred, truth_out)
    return Evaluation(pd.DataFrame(rows), per_sample, two_step, truth_out, step1, truth_in)


def _landmark_rows(x: np.ndarray, step1: np.ndarray, reference: baselines.Reference) -> Rows:
    n = x.shape[1]
    return [
        ("two-step model (step 1, CycleGAN)", MODEL, lambda: step1),
        ("L1000 per-gene standardized", BASELINE, lambda: baselines.standardized(x, reference)),
        ("per-gene quantile mapping", BASELINE, lambda: baselines.quantile_mapped(x, reference)),
        ("gene-shuffled model output", BASELINE, lambda: baselines.gene_shuffled(step1)),
        ("L1000 untransformed (log2 Level 3)", INFORMATIVE, lambda: x),
        ("L1000 standardized on its own moments (transductive)", INFORMATIVE,
         lambda: baselines.standardized_on_own_moments(x, reference)),
        ("mean profile of the RNA-seq collection", INFORMATIVE,
         lambda: baselines.mean_profile(n, reference.rnaseq_mean)),
    ]  # fmt: skip


def _full_rows(model: TwoStepModel, x: np.ndarray, truth_in: np.ndarray, two_step: np.ndarray,
               reference: baselines.Reference, output_mean: np.ndarray) -> Rows:  # fmt: skip
    n = x.shape[1]
    return [
        ("two-step model", MODEL, lambda: two_step),
        ("extrapolator on L1000 without the CycleGAN", BASELINE, lambda: model.step2(x)),
        ("extrapolator on standardized L1000", BASELINE,
         lambda: model.step2(baselines.standardized(x, reference))),
        ("extrapolator on quantile-mapped L1000", BASELINE,
         lambda: model.step2(baselines.quantile_mapped(x, reference))),
        ("gene-shuffled model output", BASELINE, lambda: baselines.gene_shuffled(two_step)),
        ("extrapolator on L1000 standardized on its own moments (transductive)", INFORMATIVE,
         lambda: model.step2(baselines.standardized_on_own_moments(x, reference))),
        ("mean profile of the RNA-seq collection", INFORMATIVE,
         lambda: baselines.mean_profile(n, output_mean)),
        ("extrapolator on the measured RNA-seq landmarks (step 2 ceiling)", INFORMATIVE,
         lambda: model.step2(truth_in)),
    ]  # fmt: skip


def verdict(table: pd.DataFrame) -> pd.DataFrame:
    """Per level and baseline: does the model beat it on global PCC, sample PCC and RMSE?"""
    rows = []
    for level, part in table.groupby("level", sort=False):
        model = part[part["role"] == MODEL].iloc[0]
        for _, base in part[part["role"] == BASELINE].iterrows():
            wins = {
                f"beats on {name}": bool(
                    model[name] < base[name] if name == "rmse" else model[name] > base[name]
                )
                for name in BEAT_ON
            }
            rows.append({"level": level, "baseline": base["method"], **wins})
    return pd.DataFrame(rows)


def beats_every_baseline(table: pd.DataFrame) -> dict[str, bool]:
    """Per level: True where the model beats every baseline on every metric of BEAT_ON."""
    checks = verdict(table)
    wins = checks.drop(columns=["baseline"]).groupby("level", sort=False).all().all(axis=1)
    return {str(level): bool(won) for level, won in wins.items()}


def markdown_table(table: pd.DataFrame, *, n_samples: int, n_input: int, n_output: int) -> str:
    lines = [
        f"Paired samples: {n_samples}; landmarks (model inputs): {n_input}; "
        f"output genes: {n_output}.",
        "sample PCC: mean per-sample Pearson r across genes; centred: after subtracting each "
        "gene's RNA-seq collection mean (the mean profile scores 0); gene PCC: mean per-gene r "
        "across samples. Roles: the model; the baselines the issue names; informative rows.",
        "",
    ]
    for level, part in table.groupby("level", sort=False):
        lines += [f"**{level}**", "", frame_markdown(part[["method", "role", *METRICS]]), ""]
    lines += _verdict_lines(table)
    lines.append(
        f"Paper (GSE92743 vs GTEx, real data): global PCC {PAPER['global_pcc']}, "
        f'"RMSE" {PAPER["mse"]} (the released code\'s rmse returns the MSE).'
    )
    return "\n".join(lines) + "\n"


def _verdict_lines(table: pd.DataFrame) -> list[str]:
    checks = verdict(table)
    lines = ["**Does the model beat every baseline on global PCC, sample PCC and RMSE?**", ""]
    for level, won in beats_every_baseline(table).items():
        part = checks[checks["level"] == level]
        lost = [
            f"{row.baseline} ({', '.join(c[9:] for c in part.columns[2:] if not row[c])})"
            for _, row in part.iterrows()
            if not all(row[c] for c in part.columns[2:])
        ]
        lines.append(f"- {level}: " + ("yes" if won else "no; not beaten: " + "; ".join(lost)))
    return [*lines, ""]


def frame_markdown(frame: pd.DataFrame) -> str:
    """A markdown table: text left-aligned, numbers right-aligned to 3 decimals."""
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]  # fmt: skip
    for row in frame.itertuples(index=False):
        cells = [
            f"{v:.3f}" if n and isinstance(v, float) else str(v)
            for v, n in zip(row, numeric, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)

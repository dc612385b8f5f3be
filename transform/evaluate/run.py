"""Evaluate a model bundle on a paired set: tables, CSV and plots.

Two levels, as the paper's evaluation needs: step 1 on the landmarks (the CycleGAN's output
against the RNA-seq landmarks) and the two-step output on all output genes. Each row has a role:

- model: the two-step model (step 1 alone at the landmark level);
- baseline: the rows the issue names, which the model must beat on global PCC, mean per-sample
  PCC and RMSE: untransformed L1000 per-gene standardized, per-gene quantile mapping, the
  extrapolator fed L1000 without the CycleGAN (at the full level the landmark baselines are fed
  to the extrapolator too), the gene-shuffled model output, and at the full level CMap's way to
  the genes L1000 does not measure: a ridge regression from the landmarks to the output genes,
  fitted on the RNA-seq collection, fed the same step 1 output as the extrapolator;
- informative: rows that explain the numbers but are not competitors: the raw Level 3 values,
  standardization on the evaluated profiles' own moments (transductive), the mean profile of the
  RNA-seq collection, and the extrapolator and the ridge fed the measured RNA-seq landmarks (the
  ceiling that step 2, or a linear step 2, sets on any step 1).

The paired set is read by `transform.evaluate.paired`; genes of the model that its counts lack are
counted, and left out of the metrics of their level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from transform.evaluate import baselines
from transform.evaluate.metrics import METRICS, column_pearson, prediction_metrics, sample_pccs
from transform.evaluate.paired import Coverage, PairedSet
from transform.inference import TwoStepModel
from transform.io import GeneMatrix, archs4_info, read_archs4
from transform.io.level3 import Level3
from transform.rnaseq import Missing

PAPER = {"global_pcc": 0.914, "mse": 1.167}  # GSE92743 / GTEx; the code's "rmse" returns the MSE
MODEL, BASELINE, INFORMATIVE = "model", "baseline", "informative"
BEAT_ON = ("global_pcc", "sample_pcc", "rmse")  # higher, higher, lower is better
LEVELS = ("landmarks", "all output genes")
SCALE_CHUNK = 1000  # samples normalized at once (the full gene matrix in float64 each)
RIDGE_ON_STEP1 = "ridge on step 1 output (CMap-style linear inference)"
RIDGE_ON_MEASURED = "ridge on the measured RNA-seq landmarks"


@dataclass(frozen=True)
class Evaluation:
    """The table and what the plots need; genes the paired counts lack are left out of both."""

    table: pd.DataFrame  # one row per (level, method): role and METRICS columns
    sample_pcc: dict[str, np.ndarray]  # full-level per-sample PCC per method
    two_step: np.ndarray  # (n_output held, n) prediction
    truth: np.ndarray  # (n_output held, n)
    step1: np.ndarray  # (n_input held, n) step 1 prediction
    truth_landmarks: np.ndarray  # (n_input held, n)
    coverage: Coverage
    per_gene: pd.DataFrame  # per output gene held: its PCC across the paired samples (per_gene)


@dataclass(frozen=True)
class Fitted:
    """What the baselines learn from the unpaired collections."""

    reference: baselines.Reference  # per-landmark facts of both collections
    output_mean: np.ndarray  # (n_output,) the RNA-seq collection's mean profile
    ridge: baselines.Ridge  # input landmarks -> output genes on RNA-seq samples


def model_scale(
    model: TwoStepModel, counts: GeneMatrix, *spaces: tuple[str, ...], missing: Missing = "error"
) -> list[np.ndarray]:
    """Counts on the model's RNA-seq scale (one normalization), restricted to each gene list of
    `spaces`: a (n_genes, n) float32 matrix per list, normalized SCALE_CHUNK samples at a time.
    Genes of the model's gene matrix that the counts lack raise, or count as zero reads with
    missing="zero" (`Normalization.align`)."""
    aligned = model.normalization.align(counts, missing=missing)
    positions = model.normalization.genes.positions
    rows = [np.array([positions[s] for s in genes]) for genes in spaces]
    out = [np.empty((len(at), aligned.shape[1]), dtype=np.float32) for at in rows]
    for start in range(0, aligned.shape[1], SCALE_CHUNK):
        scaled = model.normalization.apply(aligned[:, start : start + SCALE_CHUNK])
        for target, at in zip(out, rows, strict=True):
            target[:, start : start + SCALE_CHUNK] = scaled[at]
    return out


def fit_reference(
    model: TwoStepModel, collection: Path, level3: Level3, *, n: int, seed: int, chunk: int = 500
) -> Fitted:
    """Baseline facts from up to n random RNA-seq samples and n random L1000 profiles (their
    landmark rows): per-landmark distributions, the collection's mean profile, and the ridge
    from input landmarks to output genes (a seeded tenth of the samples choosing its alpha). The
    RNA-seq samples are read `chunk` at a time; the ridge keeps running sums, not samples."""
    rng = np.random.default_rng(seed)
    n_rnaseq = archs4_info(collection).n_samples
    picked = np.sort(rng.choice(n_rnaseq, size=min(n, n_rnaseq), replace=False))
    held = baselines.holdout_mask(len(picked), seed=seed)
    sums = [
        baselines.RidgeSums.empty(len(model.input_genes), len(model.output_genes)) for _ in range(2)
    ]
    landmarks = []
    for start in range(0, len(picked), chunk):
        counts = read_archs4(collection, samples=picked[start : start + chunk])
        x, y = model_scale(model, counts, model.input_genes, model.output_genes)
        landmarks.append(x)
        held_here = held[start : start + chunk]
        for part, columns in zip(sums, (~held_here, held_here), strict=True):
            part.add(x[:, columns], y[:, columns])
    cols = np.sort(rng.choice(level3.n_profiles, size=min(n, level3.n_profiles), replace=False))
    l1000_in = model.align_inputs(level3.read(rows=level3.landmark_positions(), cols=cols))
    reference = baselines.Reference.fit(np.concatenate(landmarks, axis=1), l1000_in)
    output_mean = (sums[0].y + sums[1].y) / len(picked)
    return Fitted(reference, output_mean, baselines.Ridge.from_sums(sums[0], sums[1]))


Rows = list[tuple[str, str, Callable[[], np.ndarray]]]  # (method, role, prediction)


def evaluate(model: TwoStepModel, paired: PairedSet, fitted: Fitted) -> Evaluation:
    """Every row of both levels on the paired set. Genes of the model's gene matrix that the
    counts lack count as zero reads; the metrics are over the genes they hold (as the paper's
    22,240 of 23,614 output genes in GTEx)."""
    coverage = Coverage.of(
        paired.counts, model.normalization.genes.symbols, model.input_genes, model.output_genes
    )
    lm, out = coverage.inputs, coverage.outputs
    if not lm.any() or not out.any():
        raise ValueError("the paired RNA-seq counts hold no input gene or no output gene")
    x = model.align_inputs(paired.l1000).astype(np.float64)
    truth_in, truth_out = model_scale(
        model, paired.counts, model.input_genes, model.output_genes, missing="zero"
    )
    step1 = model.step1(x)
    two_step = model.step2(step1)
    reference, truth_held = fitted.reference, truth_out[out]
    rows, per_sample = [], {}
    for method, role, make in _landmark_rows(x, step1, reference):
        rows.append(
            {
                "level": LEVELS[0],
                "method": method,
                "role": role,
                **prediction_metrics(make()[lm], truth_in[lm], reference.rnaseq_mean[lm]),
            }
        )
    for method, role, make in _full_rows(model, x, truth_in, step1, two_step, fitted):
        pred = make()[out]
        rows.append(
            {
                "level": LEVELS[1],
                "method": method,
                "role": role,
                **prediction_metrics(pred, truth_held, fitted.output_mean[out]),
            }
        )
        per_sample[method] = sample_pccs(pred, truth_held)
    genes = np.asarray(model.output_genes)[out]
    accuracy = per_gene(
        genes, model.input_genes, two_step[out], fitted.ridge.predict(step1)[out], truth_held
    )
    return Evaluation(
        pd.DataFrame(rows),
        per_sample,
        two_step[out],
        truth_held,
        step1[lm],
        truth_in[lm],
        coverage,
        accuracy,
    )


def per_gene(
    genes: np.ndarray,
    landmarks: Sequence[str],
    model: np.ndarray,
    ridge: np.ndarray,
    truth: np.ndarray,
) -> pd.DataFrame:
    """Per gene (rows of genes x samples): Pearson r across the paired samples of the model's
    prediction and of the ridge's with the measured RNA-seq values; whether it is a landmark (a
    model input, measured by L1000) or inferred. A gene constant in either gets r = 0."""
    inputs = set(landmarks)
    return pd.DataFrame(
        {
            "gene": genes,
            "kind": ["landmark" if g in inputs else "inferred" for g in genes],
            "pcc_model": column_pearson(model.T, truth.T),
            "pcc_ridge": column_pearson(ridge.T, truth.T),
            "n_samples": truth.shape[1],
        }
    )


def _landmark_rows(x: np.ndarray, step1: np.ndarray, reference: baselines.Reference) -> Rows:
    n = x.shape[1]
    return [
        ("two-step model (step 1, CycleGAN)", MODEL, lambda: step1),
        ("L1000 per-gene standardized", BASELINE, lambda: baselines.standardized(x, reference)),
        ("per-gene quantile mapping", BASELINE, lambda: baselines.quantile_mapped(x, reference)),
        ("gene-shuffled model output", BASELINE, lambda: baselines.gene_shuffled(step1)),
        ("L1000 untransformed (log2 Level 3)", INFORMATIVE, lambda: x),
        (
            "L1000 standardized on its own moments (transductive)",
            INFORMATIVE,
            lambda: baselines.standardized_on_own_moments(x, reference),
        ),
        (
            "mean profile of the RNA-seq collection",
            INFORMATIVE,
            lambda: baselines.mean_profile(n, reference.rnaseq_mean),
        ),
    ]


def _full_rows(
    model: TwoStepModel,
    x: np.ndarray,
    truth_in: np.ndarray,
    step1: np.ndarray,
    two_step: np.ndarray,
    fitted: Fitted,
) -> Rows:
    n, reference = x.shape[1], fitted.reference
    return [
        ("two-step model", MODEL, lambda: two_step),
        ("extrapolator on L1000 without the CycleGAN", BASELINE, lambda: model.step2(x)),
        (
            "extrapolator on standardized L1000",
            BASELINE,
            lambda: model.step2(baselines.standardized(x, reference)),
        ),
        (
            "extrapolator on quantile-mapped L1000",
            BASELINE,
            lambda: model.step2(baselines.quantile_mapped(x, reference)),
        ),
        (RIDGE_ON_STEP1, BASELINE, lambda: fitted.ridge.predict(step1)),
        ("gene-shuffled model output", BASELINE, lambda: baselines.gene_shuffled(two_step)),
        (
            "extrapolator on L1000 standardized on its own moments (transductive)",
            INFORMATIVE,
            lambda: model.step2(baselines.standardized_on_own_moments(x, reference)),
        ),
        (
            "mean profile of the RNA-seq collection",
            INFORMATIVE,
            lambda: baselines.mean_profile(n, fitted.output_mean),
        ),
        (
            "extrapolator on the measured RNA-seq landmarks (step 2 ceiling)",
            INFORMATIVE,
            lambda: model.step2(truth_in),
        ),
        (RIDGE_ON_MEASURED, INFORMATIVE, lambda: fitted.ridge.predict(truth_in)),
    ]


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
    """A markdown table: text left-aligned, numbers right-aligned to 3 decimals, "-" for none."""
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines = [
        "| " + " | ".join(map(str, frame.columns)) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    for row in frame.itertuples(index=False):
        cells = [
            ("-" if np.isnan(v) else f"{v:.3f}") if n and isinstance(v, float) else str(v)
            for v, n in zip(row, numeric, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)

"""`python -m transform evaluate`: a model bundle on a paired set, against the baselines."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from transform.evaluate.paired import load_paired, report_lines
from transform.evaluate.plots import sample_pcc_boxplot, scatter_plot
from transform.evaluate.provenance import departures, model_lines, read_manifest
from transform.evaluate.real_plates import before_and_after
from transform.evaluate.real_signatures import KEPT as REAL_KEPT
from transform.evaluate.real_signatures import real_plate_signatures
from transform.evaluate.run import (
    Fitted,
    beats_every_baseline,
    evaluate,
    fit_reference,
    frame_markdown,
    markdown_table,
    verdict,
)
from transform.evaluate.signature_level import (
    evaluate_signatures,
    read_effects,
    signature_markdown,
)
from transform.evaluate.signature_sets import in_batches, world_signatures
from transform.inference import TwoStepModel
from transform.io import read_gct, read_sig_info
from transform.io.files import sha256_file
from transform.io.level3 import Level3, open_level3

if TYPE_CHECKING:
    import pandas as pd

REAL_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "l1000"
REAL_PLATES = (
    "LJP005_A375_24H_X1_B19_QNORM_n377x978.gct",
    "LJP009_A375_24H_X1_B20_QNORM_n371x978.gct",
)

REAL_SIGNATURES_NOTE = (
    "Real plates at the signature level (no ground truth needed): each plate one batch, every "
    "version's signatures by the portal's rule; a signature of a compound on both plates ranked "
    "among the other plate's signatures by Spearman's rho (its compound's best-placed one, any "
    "dose), and each version's collapse"
)
NO_TRUTH_NOTE = (
    "No ground truth here: retrieval and agreement need the true effects, so only collapse and "
    "self-retrieval are measured, on the batches named by --signature-batches.\n\n"
)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "evaluate", help="evaluate a model bundle on a paired L1000 / RNA-seq set against baselines"
    )
    parser.add_argument("--model", type=Path, required=True, help="bundle from `transform bundle`")
    parser.add_argument(
        "--world", type=Path, help="a world folder: takes its paired set and collections"
    )
    parser.add_argument("--paired-l1000", type=Path, help="Level 3 GCTX of the paired samples")
    parser.add_argument(
        "--paired-rnaseq",
        type=Path,
        help="read counts of the same samples: ARCHS4-style HDF5, or GCT (.gct, .gct.gz; e.g. "
        "GTEx v8's *_gene_reads.gct.gz, of which only the paired columns are read)",
    )
    parser.add_argument(
        "--pairs",
        type=Path,
        help="tab-separated table with a header line and two columns, L1000 column id and "
        "RNA-seq sample id (default: pair identical ids)",
    )
    parser.add_argument(
        "--collection", type=Path, help="the unpaired RNA-seq collection (ARCHS4 HDF5)"
    )
    parser.add_argument("--level3", type=Path, help="the unpaired L1000 Level 3 GCTX")
    parser.add_argument(
        "--gene-info",
        type=Path,
        help="gene table of the L1000 files, needed when they carry no row metadata, e.g. "
        "GSE92743's *_gene_info.txt.gz",
    )
    for flag, text in (
        (
            "--truth",
            "a world's truth folder (effects.gctx): adds the signature-level evaluation "
            "(default: the world's, when it has one)",
        ),
        ("--sig-info", "sig_info of the Level 3 file (default: the world's)"),
        (
            "--inst-info",
            "profile table of the Level 3 file, needed where it carries no column metadata "
            "(LINCS 2020's instinfo_beta.txt, GEO's *_inst_info.txt.gz) for the signature level",
        ),
    ):
        parser.add_argument(flag, type=Path, help=text)
    parser.add_argument(
        "--query-sizes",
        default="50,100",
        help="genes per side of the signature-level retrieval queries (comma-separated)",
    )
    parser.add_argument(
        "--signature-batches",
        help="batches (rna_plate without its _X replicate suffix, comma-separated) whose "
        "signatures the signature level takes: all of a world's by default; on a Level 3 file "
        "without ground truth (a real release) the signature level runs only on the batches "
        "named here, with what needs no truth (collapse, replicate and cross-batch "
        "self-retrieval)",
    )
    parser.add_argument("--real", type=Path, default=REAL_DIR, help="folder of the real LJP plates")
    parser.add_argument("--reference-samples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.set_defaults(run=run)


def _paths(args: argparse.Namespace) -> dict[str, Path]:
    world = args.world
    paths = {
        "paired_l1000": args.paired_l1000 or (world and world / "paired" / "l1000_level3.gctx"),
        "paired_rnaseq": args.paired_rnaseq or (world and world / "paired" / "rnaseq_counts.h5"),
        "collection": args.collection or (world and world / "rnaseq" / "archs4_gene_counts.h5"),
        "level3": args.level3 or (world and world / "l1000" / "level3.gctx"),
    }
    missing = [name.replace("_", "-") for name, path in paths.items() if not path]
    if missing:
        raise ValueError(f"give --world or every one of --{', --'.join(missing)}")
    return paths


def _signature_level(
    args: argparse.Namespace,
    model: TwoStepModel,
    level3: Level3,
    fitted: Fitted,
    batches: list[str] | None,
) -> dict[str, pd.DataFrame] | None:
    """The signature-level tables: all of them on a world with ground truth; without one, what
    needs none, on the named batches (--signature-batches; None where none are named)."""
    truth = args.truth or (args.world and args.world / "truth")
    has_truth = bool(truth) and (Path(truth) / "effects.gctx").exists()
    if not has_truth and batches is None:
        return None
    sig_info_path = args.sig_info or (args.world and args.world / "l1000" / "sig_info.txt")
    sig_info = read_sig_info(sig_info_path) if sig_info_path else None
    effects = read_effects(Path(truth) / "effects.gctx") if has_truth else None
    world = world_signatures(model, level3, sig_info, fitted, effects, batches=batches)
    sizes = [int(n) for n in str(args.query_sizes).split(",") if n.strip()]
    return evaluate_signatures(world, effects, sizes=sizes, seed=args.seed)


def _names(text: str | None) -> list[str] | None:
    names = [name.strip() for name in str(text).split(",") if name.strip()] if text else []
    return names or None


def run(args: argparse.Namespace) -> int:
    paths = _paths(args)
    model = TwoStepModel.load(args.model)
    paired = load_paired(
        open_level3(paths["paired_l1000"], gene_info=args.gene_info),
        paths["paired_rnaseq"],
        model.normalization.genes.symbols,
        pairs=args.pairs,
    )
    level3 = open_level3(paths["level3"], gene_info=args.gene_info, inst_info=args.inst_info)
    named = _names(args.signature_batches)
    if named is not None:
        in_batches(level3.column_meta(), named)  # an unknown batch is refused before any work
    fitted = fit_reference(
        model, paths["collection"], level3, n=args.reference_samples, seed=args.seed
    )
    result = evaluate(model, paired, fitted)
    args.out.mkdir(parents=True, exist_ok=True)
    n_samples = result.truth.shape[1]
    manifest = read_manifest(args.model)
    report = "\n".join(model_lines(manifest)).rstrip("\n") + "\n\n"
    report += "\n".join(report_lines(paired, result.coverage)) + "\n"
    report += markdown_table(
        result.table,
        n_samples=n_samples,
        n_input=len(model.input_genes),
        n_output=len(model.output_genes),
    )
    plates = [read_gct(args.real / name) for name in REAL_PLATES]
    real = before_and_after(plates, model.align_inputs, model.transform)
    report += "\n**Real plates LJP005 and LJP009 (A375 24 h): compounds shared by both**\n\n"
    report += frame_markdown(real) + "\n"
    real_signatures = real_plate_signatures(model, fitted, plates)
    report += f"\n**{REAL_SIGNATURES_NOTE}**\n\n" + frame_markdown(real_signatures) + "\n"
    warning = model.origin_warning(args.real / REAL_PLATES[0])
    if warning:
        report += f"\nOn these real plates, {warning}.\n"
    (args.out / "evaluation.md").write_text(report)
    result.table.to_csv(args.out / "evaluation.csv", index=False)
    accuracy = record_evaluation(
        result.per_gene, args.out / PER_GENE, args.model, paths, real_signatures
    )
    real.to_csv(args.out / "real_plates.csv", index=False)
    real_signatures.to_csv(args.out / "real_plate_signatures.csv", index=False)
    verdict(result.table).to_csv(args.out / "verdict.csv", index=False)
    signature_tables = _signature_level(args, model, level3, fitted, named)
    if signature_tables is not None:
        report += "\n## Signature level: is the perturbation signal kept?\n\n"
        if "retrieval" not in signature_tables:
            report += NO_TRUTH_NOTE
        report += signature_markdown(signature_tables)
        (args.out / "evaluation.md").write_text(report)
        for name, table in signature_tables.items():
            table.to_csv(args.out / f"signatures_{name}.csv", index=False)
    scatter_plot(result.two_step, result.truth, args.out / "scatter_two_step.png")
    scatter_plot(
        result.step1,
        result.truth_landmarks,
        args.out / "scatter_step1.png",
        title="Step 1 (CycleGAN) against measured, landmarks",
    )
    sample_pcc_boxplot(result.sample_pcc, args.out / "sample_pcc.png")
    summary = {
        "samples": n_samples,
        "model": str(args.model),
        "paths": {k: str(v) for k, v in paths.items()},
        "paired": paired.summary(),
        "genes": result.coverage.summary(),
        "ridge": {
            "alpha": fitted.ridge.alpha,
            "alpha_scale": fitted.ridge.scale,
            "holdout_mse": {str(k): v for k, v in fitted.ridge.holdout_mse.items()},
        },
        "beats_every_baseline": beats_every_baseline(result.table),
        "per_gene": accuracy,
        "departures_from_paper": departures(manifest) if manifest else None,
        "metrics": result.table.to_dict(orient="records"),
        "real_plate_signatures": real_signatures.to_dict(orient="records"),
        "signature_level": None
        if signature_tables is None
        else {name: table.to_dict(orient="records") for name, table in signature_tables.items()},
    }
    (args.out / "evaluation.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(report)
    return 0


PER_GENE = "per_gene.tsv"


def record_evaluation(
    table: pd.DataFrame,
    path: Path,
    model: Path,
    paths: dict[str, Path],
    real_signatures: pd.DataFrame,
) -> dict[str, Any]:
    """Write each output gene's accuracy on the paired set (per_gene.tsv) and record it in the
    bundle's manifest (model.json, "evaluation"), whence build_search_index --gene-accuracy
    carries it into the index. The manifest keeps the file's checksum and the paired files, and
    the real plates' signature check (each version's cross-plate self-retrieval), which goes
    with the model wherever model.json is published."""
    table.to_csv(path, sep="\t", index=False, float_format="%.4f")
    summary = {
        "per_gene": str(path.resolve()),
        "sha256": sha256_file(path),
        "paired": {name: str(value) for name, value in paths.items() if "paired" in name},
        "n_samples": int(table["n_samples"].iloc[0]) if len(table) else 0,
        "n_genes": len(table),
        "median_pcc_model": float(table["pcc_model"].median()) if len(table) else None,
        "median_pcc_ridge": float(table["pcc_ridge"].median()) if len(table) else None,
        "real_plate_signatures": {
            str(row["signatures"]): {name: row[name] for name in REAL_KEPT}
            for row in real_signatures.to_dict(orient="records")
        },
    }
    manifest_path = Path(model).with_suffix(".json")
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        manifest["evaluation"] = summary
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return summary

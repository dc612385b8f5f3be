"""`python -m transform signatures`: CD signatures, gene sets and reverse-search tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from transform.inputs import add_table_options
from transform.signatures.compute import SCALES, SignatureSettings
from transform.signatures.definitions import RULES
from transform.signatures.real_plates import real_plate_report
from transform.signatures.run import OutputSettings, compute_signatures

REAL_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "l1000"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "signatures", help="characteristic-direction signatures of every perturbation, per batch"
    )
    parser.add_argument("--profiles", type=Path, help="profiles GCTX (genes x profiles)")
    add_table_options(
        parser,
        gene_info=False,
        qc=True,
        inst_default="the profiles GCTX's column metadata (a converted GCTX carries the table "
        "it was given)",
    )
    parser.add_argument(
        "--out",
        "--output",
        dest="output",
        type=Path,
        help="output folder (resumes a run left there; --output: the older name)",
    )
    parser.add_argument("--rule", choices=RULES, default="batch", help="controls (default batch)")
    parser.add_argument(
        "--per-gene",
        action="store_true",
        help="z-score each gene (the paper's text) instead of each sample (its code)",
    )
    parser.add_argument("--gamma", type=float, default=1.0)
    parser.add_argument(
        "--device", default="cpu", help="cpu (numpy), or a torch device such as cuda (batch rule)"
    )
    parser.add_argument(
        "--scale",
        choices=sorted(SCALES),
        default="log10",
        help="log10: RNA-seq-like log10(CPM+1) profiles; log2: L1000 Level 3",
    )
    parser.add_argument("--top-genes", type=int, default=250, help="genes per up/down set")
    parser.add_argument(
        "--top-signatures",
        type=int,
        default=100,
        help="signatures per gene and direction in the reverse tables",
    )
    parser.add_argument(
        "--real-check",
        action="store_true",
        help="print the cross-plate table of the real LJP005/LJP009 plates",
    )
    parser.add_argument("--real", type=Path, default=REAL_DIR)
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace finished signatures in --out; discard an unfinished run of other inputs "
        "or settings left there",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.real_check:
        print(real_plate_report(args.real))
        return 0
    missing = [
        flag for flag, value in (("--profiles", args.profiles), ("--out", args.output)) if not value
    ]
    if missing:
        raise ValueError(f"{', '.join(missing)} required")
    settings = SignatureSettings(
        rule=args.rule,
        per_gene=args.per_gene,
        gamma=args.gamma,
        scale=args.scale,
        device=args.device,
    )
    outputs = OutputSettings(top_genes=args.top_genes, top_signatures=args.top_signatures)
    manifest = compute_signatures(
        args.profiles,
        args.inst_info,
        args.output,
        sig_info=args.sig_info,
        settings=settings,
        outputs=outputs,
        qc_pass_only=args.qc_pass_only,
        force=args.force,
        progress=_progress,
    )
    used = manifest.get("sig_info")
    if used and (used["without_profiles_here"] or used["with_some_profiles_missing"]):
        print(
            f"\nsig_info: {used['used']:,} of {used['signatures']:,} signatures have profiles "
            f"here; {used['with_some_profiles_missing']:,} of them lost some (manifest.json "
            "names them)",
            file=sys.stderr,
        )
    empty = manifest["gene_sets"]["left_out_empty"]
    if empty:
        named = manifest["gene_sets"]["left_out_empty_names"][:5]
        more = f" and {empty - len(named):,} more" if empty > len(named) else ""
        print(
            f"\nup.gmt, down.gmt: {empty:,} gene sets left out for having no gene (all the top "
            f"genes of their signature have the other sign): {', '.join(map(repr, named))}"
            f"{more} (manifest.json: gene_sets)",
            file=sys.stderr,
        )
    print(
        f"\n{manifest['n_signatures']:,} signatures in {manifest['n_batches']} batches "
        f"({manifest['by_pert_type']}) in {manifest['seconds']} s -> {args.output}"
    )
    return 0


def _progress(message: str) -> None:
    print(f"\r{message[:110]:<110}", end="", file=sys.stderr, flush=True)

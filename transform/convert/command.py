"""`python -m transform convert`: Level 3 profiles through a model bundle, resumable."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from transform.convert.chunks import autocast_line
from transform.convert.run import ConvertOptions, ConvertSummary, convert_profiles
from transform.gene_space import GeneSpaceMismatch
from transform.inputs import add_table_options

HELP = "convert L1000 Level 3 profiles into RNA-seq-like profiles with a model bundle"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("convert", help=HELP, description=HELP)
    parser.add_argument("--checkpoint", type=Path, required=True, help="model bundle (model.pt)")
    parser.add_argument("--input", type=Path, required=True, help="Level 3 GCTX")
    add_table_options(parser, sig_info=False)
    parser.add_argument(
        "--out",
        "--output",
        dest="output",
        type=Path,
        required=True,
        help="GCTX to write; its manifest goes beside it (--output: the same, the older name)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=ConvertOptions.chunk_size,
        help="profiles per chunk: the unit of work and of resuming",
    )
    parser.add_argument("--dtype", choices=("float32", "float16"), default="float32")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--autocast",
        choices=("bf16", "fp16"),
        help="mixed-precision forward passes, checked against float32",
    )
    parser.add_argument("--limit", type=int, help="convert only the first N profiles")
    parser.add_argument(
        "--workers",
        action="store_true",
        help="send the chunks to Celery workers (CELERY_BROKER_URL)",
    )
    parser.add_argument("--queue", default=ConvertOptions.queue, help="the workers' queue")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the output; discard an unfinished job of other settings",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    options = ConvertOptions(
        chunk_size=args.chunk_size,
        dtype=args.dtype,
        device=args.device,
        autocast=args.autocast,
        limit=args.limit,
        workers=args.workers,
        queue=args.queue,
        force=args.force,
        command=shlex.join(sys.orig_argv),
        gene_info=args.gene_info,
        inst_info=args.inst_info,
    )
    try:
        summary = convert_profiles(
            checkpoint=args.checkpoint, input=args.input, output=args.output, options=options
        )
    except GeneSpaceMismatch as error:
        if error.missing:
            print(
                f"missing input genes ({len(error.missing)}): {', '.join(error.missing)}",
                file=sys.stderr,
            )
        raise
    print(summary_line(summary, workers=args.workers))
    return 0


def summary_line(summary: ConvertSummary, *, workers: bool) -> str:
    lines = []
    if workers and summary.autocast_check:  # printed as measured when converting here
        lines.append(autocast_line(summary.autocast_check))
    before = f"; {summary.chunks_before} chunks were done before" if summary.chunks_before else ""
    lines.append(
        f"converted {summary.converted:,} of {summary.profiles:,} profiles in "
        f"{summary.seconds:,.1f} s ({summary.rate:,.0f} profiles/s) into {summary.output}, "
        f"checksum {summary.manifest['checksum']}{before}"
    )
    return "\n".join(lines)

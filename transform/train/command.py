"""`python -m transform train-cyclegan | train-extrapolator | bundle`: arguments and their runs.

Torch is imported only when a command runs, so `python -m transform world` stays light.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transform.inputs import add_table_options

if TYPE_CHECKING:
    from transform.train.config import CycleGanTrainConfig, ExtrapolatorTrainConfig
    from transform.train.sources import Sources

    TrainConfig = CycleGanTrainConfig | ExtrapolatorTrainConfig

RUN_FILE = "run.json"
STEPS = {
    "train-cyclegan": ("cyclegan", "train step 1, the CycleGAN (L1000 <-> RNA-seq landmarks)"),
    "train-extrapolator": ("extrapolator", "train step 2, the extrapolator (landmarks -> genes)"),
}


def add_training_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    for name, (kind, help_text) in STEPS.items():
        parser = commands.add_parser(name, help=help_text, description=help_text)
        _add_inputs(parser)
        _add_overrides(parser, kind)
        parser.set_defaults(run=_run_training, kind=kind)
    bundle = commands.add_parser(
        "bundle", help="join a CycleGAN and an extrapolator checkpoint into one inference file"
    )
    bundle.add_argument("--cyclegan", type=Path, required=True, help="step 1 checkpoint.pt")
    bundle.add_argument("--extrapolator", type=Path, required=True, help="step 2 checkpoint.pt")
    bundle.add_argument("--out", type=Path, required=True, help="bundle file (model.pt)")
    bundle.set_defaults(run=_run_bundle)


def _add_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--world", type=Path, help="a synthetic world folder (its l1000 and rnaseq)"
    )
    parser.add_argument("--l1000", type=Path, help="L1000 Level 3 GCTX")
    parser.add_argument("--rnaseq", type=Path, help="ARCHS4 gene-count HDF5")
    add_table_options(parser, sig_info=False, qc=True)
    parser.add_argument("--out", type=Path, required=True, help="run folder (RUN_DIR)")
    parser.add_argument(
        "--data", type=Path, help="prepared data folder to write or reuse (default RUN_DIR/data)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
    parser.add_argument("--until-epoch", type=int, help="stop after this epoch (resume later)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")


def _add_overrides(parser: argparse.ArgumentParser, kind: str) -> None:
    parser.add_argument("--preset", choices=("paper", "demo", "demo-mlp"), default="paper")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--seed", type=int, help="training seed (weights, batch order)")
    parser.add_argument("--data-seed", type=int, help="seed of the profile and sample draws")
    parser.add_argument("--max-profiles", type=int, help="L1000 profiles drawn (50,000)")
    parser.add_argument("--max-samples", type=int, help="RNA-seq samples drawn (50,000)")
    layers = "generator widths, e.g. 512,512" if kind == "cyclegan" else "e.g. 2048,4096,8192"
    parser.add_argument("--hidden", type=_widths, help=f"hidden layer widths ({layers})")
    if kind == "extrapolator":
        parser.add_argument(
            "--linear",
            action=argparse.BooleanOptionalAction,
            help="a fixed ridge path beside the network, which learns the rest (not in the paper; "
            "on in demo)",
        )
    if kind == "cyclegan":
        parser.add_argument("--bottleneck", type=int, help="generator bottleneck width (128)")
        parser.add_argument("--disc-hidden", type=_widths, help="discriminator widths")
        parser.add_argument("--identity-weight", type=float, help="identity loss weight (0)")
        parser.add_argument(
            "--rnaseq-samples",
            choices=("all", "l1000_cell_lines"),
            help="RNA-seq samples of domain B: all (paper) or those of the L1000 cell lines",
        )
        parser.add_argument(
            "--standardized",
            action=argparse.BooleanOptionalAction,
            help="generators on per-gene z-scores (not in the paper)",
        )
        parser.add_argument(
            "--skip",
            action=argparse.BooleanOptionalAction,
            help="generator output = input + network, on z-scores (not in the paper)",
        )


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: widths are comma-separated integers") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: widths must be positive")
    return widths


def build_config(args: argparse.Namespace) -> TrainConfig:
    """The preset with the options given on the command line applied."""
    from transform.train.config import cyclegan_preset, extrapolator_preset

    data = {
        "seed": args.data_seed,
        "max_l1000_profiles": args.max_profiles,
        "max_rnaseq_samples": args.max_samples,
    }
    top = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed}
    if args.kind == "extrapolator":
        step2 = extrapolator_preset(args.preset)
        step2 = replace(step2, data=replace(step2.data, **_given(data)), **_given(top))
        model = _given({"hidden": args.hidden, "linear": args.linear})
        return replace(step2, model=replace(step2.model, **model))
    config = cyclegan_preset(args.preset)
    config = replace(config, data=replace(config.data, **_given(data)), **_given(top))
    generator = {
        "hidden": args.hidden,
        "bottleneck": args.bottleneck,
        "standardized": args.standardized,
        "skip": args.skip,
    }
    return replace(
        config,
        generator=replace(config.generator, **_given(generator)),
        discriminator=replace(config.discriminator, **_given({"hidden": args.disc_hidden})),
        **_given({"identity_weight": args.identity_weight, "rnaseq_samples": args.rnaseq_samples}),
    )


def _given(options: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in options.items() if value is not None}


def _run_training(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # no spinning threads on a shared CPU
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    run_dir: Path = args.out
    config, sources, data_dir = _resumed(args) if args.resume else _started(args)
    from transform.train.prepare import prepare_data

    data = prepare_data(sources, config.data, data_dir, progress=_say)
    train = _trainer(args.kind)
    path = train(
        config, data, run_dir, device=args.device, resume=args.resume, until_epoch=args.until_epoch
    )
    _say(f"checkpoint: {path}")
    return 0


def _trainer(kind: str) -> Callable[..., Path]:
    if kind == "cyclegan":
        from transform.train.cyclegan import train_cyclegan

        return train_cyclegan
    from transform.train.extrapolator import train_extrapolator

    return train_extrapolator


def _started(args: argparse.Namespace) -> tuple[TrainConfig, Sources, Path]:
    """A new run: config from the preset and options; run.json records it for --resume."""
    from transform.train.sources import Sources

    if args.world is not None:
        sources = Sources.from_world(args.world)
    elif args.l1000 is not None and args.rnaseq is not None:
        sources = Sources(args.l1000, args.rnaseq)
    else:
        raise ValueError("give --world DIR, or both --l1000 GCTX and --rnaseq H5")
    sources = replace(
        sources, gene_info=args.gene_info, inst_info=args.inst_info, qc_pass_only=args.qc_pass_only
    )
    if not sources.level3.n_profiles:  # opening it refuses bad tables before anything is written
        raise ValueError(f"{sources.l1000} holds no profiles")
    config = build_config(args)
    data_dir = args.data or args.out / "data"
    args.out.mkdir(parents=True, exist_ok=True)
    if (args.out / RUN_FILE).exists():
        raise FileExistsError(f"{args.out} holds a run; pass --resume to continue it")
    run = {
        "kind": args.kind,
        "config": config.as_dict(),
        "data": str(data_dir.resolve()),
        "sources": sources.as_dict(),
        "argv": sys.argv,
    }
    (args.out / RUN_FILE).write_text(json.dumps(run, indent=1) + "\n")
    return config, sources, data_dir


def _resumed(args: argparse.Namespace) -> tuple[TrainConfig, Sources, Path]:
    """The run's own config, files and data folder; only --epochs may change (to extend it)."""
    from transform.train.config import CycleGanTrainConfig, ExtrapolatorTrainConfig
    from transform.train.sources import Sources

    path = args.out / RUN_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: no run to resume")
    run = json.loads(path.read_text())
    if run["kind"] != args.kind:
        raise ValueError(f"{args.out} holds a {run['kind']} run")
    kind = CycleGanTrainConfig if args.kind == "cyclegan" else ExtrapolatorTrainConfig
    config = kind.from_dict(run["config"])
    if args.epochs is not None:
        config = replace(config, epochs=args.epochs)
    return config, Sources.from_dict(run["sources"]), Path(run["data"])


def _run_bundle(args: argparse.Namespace) -> int:
    from transform.bundle import write_bundle

    manifest = write_bundle(cyclegan=args.cyclegan, extrapolator=args.extrapolator, out=args.out)
    genes = f"{manifest['input_genes']['n_genes']} -> {manifest['output_genes']['n_genes']} genes"
    _say(f"bundle: {args.out} ({genes}); manifest {args.out.with_suffix('.json')}")
    return 0


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

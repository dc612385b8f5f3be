"""`python -m transform <command>`: the offline jobs."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from transform import publish
from transform.convert import command as convert_command
from transform.evaluate import command as evaluate_command
from transform.signatures import command as signatures_command
from transform.train.command import add_training_commands
from transform.world.config import SETTINGS, SIZES, world_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m transform", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_world(commands)
    signatures_command.add_parser(commands)
    add_training_commands(commands)
    evaluate_command.add_parser(commands)
    convert_command.add_parser(commands)
    publish.add_parser(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _add_world(commands: argparse._SubParsersAction) -> None:
    world = commands.add_parser(
        "world", help="generate a synthetic world in the real file formats (docs/world.md)"
    )
    world.add_argument("--size", choices=sorted(SIZES), default="demo")
    world.add_argument("--seed", type=int, default=0)
    world.add_argument(
        "--setting",
        choices=list(SETTINGS),
        default="default",
        help="how hard the world makes keeping the perturbation signal (docs/world.md)",
    )
    world.add_argument("--out", type=Path, help="output folder (must be empty unless --force)")
    world.add_argument("--force", action="store_true", help="replace an existing world in --out")
    world.add_argument(
        "--parts",
        default="l1000,rnaseq,paired,truth",
        help="comma-separated parts to write (default: all)",
    )
    world.add_argument(
        "--compare-real",
        action="store_true",
        help="print realism statistics of the world's plates beside the real L1000 plates",
    )
    world.add_argument("--real", type=Path, help="folder of the real Level 3 GCT plates")
    world.set_defaults(run=_run_world)


def _run_world(args: argparse.Namespace) -> int:
    from transform.world.generate import generate_world

    if args.compare_real:
        from transform.world.compare import print_comparison

        return print_comparison(size=args.size, seed=args.seed, world_dir=args.out, real=args.real)
    if args.out is None:
        raise ValueError("--out is required")
    if args.out.exists() and any(args.out.iterdir()):
        if not args.force:
            raise FileExistsError(f"{args.out} is not empty; pass --force to replace its world")
        shutil.rmtree(args.out)
    parts = tuple(part.strip() for part in args.parts.split(",") if part.strip())
    config = world_config(args.size, seed=args.seed, setting=args.setting)
    manifest = generate_world(config, args.out, parts=parts, progress=_progress)
    counts = ", ".join(
        f"{value:,} {key.replace('_', ' ')}" for key, value in manifest["counts"].items()
    )
    print(f"\nworld {args.size} (seed {args.seed}, setting {args.setting}) in {args.out}: "
          f"{counts}; {manifest['seconds']} s")  # fmt: skip
    return 0


def _progress(message: str) -> None:
    print(f"\r{message[:100]:<100}", end="", file=sys.stderr, flush=True)

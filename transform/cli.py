"""`python -m transform <command>`: the offline jobs."""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from transform.world.config import SETTINGS, SIZES, world_config

# command -> (module, the function that adds its parser). Only the command asked for is imported,
# so that a light one (publish, world) loads neither torch nor matplotlib: the web image, which
# runs publish and has neither, depends on it. --help (or no command) imports them all.
COMMANDS: dict[str, tuple[str, str]] = {
    "world": ("transform.cli", "_add_world"),
    "signatures": ("transform.signatures.command", "add_parser"),
    "train-cyclegan": ("transform.train.command", "add_training_commands"),
    "train-extrapolator": ("transform.train.command", "add_training_commands"),
    "bundle": ("transform.train.command", "add_training_commands"),
    "evaluate": ("transform.evaluate.command", "add_parser"),
    "convert": ("transform.convert.command", "add_parser"),
    "publish": ("transform.publish", "add_parser"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m transform", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for add in _parser_adders(argv):
        add(commands)
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
        return status
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _parser_adders(
    argv: Sequence[str],
) -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    """The functions that add the parsers needed for argv: the named command's alone, or every
    command's when none is named (help, or a mistake that argparse then explains)."""
    named = COMMANDS.get(argv[0]) if argv else None
    wanted = [named] if named else list(dict.fromkeys(COMMANDS.values()))
    return [getattr(importlib.import_module(module), name) for module, name in wanted]


def _add_world(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    print(
        f"\nworld {args.size} (seed {args.seed}, setting {args.setting}) in {args.out}: "
        f"{counts}; {manifest['seconds']} s"
    )
    return 0


def _progress(message: str) -> None:
    print(f"\r{message[:100]:<100}", end="", file=sys.stderr, flush=True)

"""`python -m transform.convert ...`: the convert command on its own (as `python -m transform
convert ...`)."""

from __future__ import annotations

import argparse
import sys

from transform.convert.command import add_parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m transform.convert")
    commands = parser.add_subparsers(dest="command")
    add_parser(commands)
    args = parser.parse_args(["convert", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.run(args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


sys.exit(main())

"""`python -m core`: one entry point, one sub-command per module in this package.

Each command module defines ``register(subparsers)``, which adds its parser and
sets ``func`` to a function taking the parsed args and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from core.errors import SongscapeError

#: Command modules, in the order of the pipeline.
COMMANDS = ("demo", "features", "train", "info", "evaluate", "prepare")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="Songscape: cluster English and Bangla music with deep generative models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"core.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"core.cli.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SongscapeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

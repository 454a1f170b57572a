"""`python -m core`: one entry point, one sub-command per module in this package.

Each command module defines ``register(subparsers)``, which adds its parser and
sets ``func`` to a function taking the parsed args and returning an exit code
(the module's ``run(args)``).

Command modules are imported lazily: :data:`COMMANDS` names each one's module
and the one-line help that ``python -m core --help`` lists, so the listing
imports none of them (no torch, numba, pandas or scipy), and running a command
imports only its own module.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Callable, NamedTuple

from core.errors import SongscapeError
from core.params import SPECS, check, describe


class Command(NamedTuple):
    module: str
    help: str


#: Sub-commands, in the order of the pipeline: name -> (module, the line ``--help`` lists).
COMMANDS: dict[str, Command] = {
    "demo": Command("core.cli.demo", "synthesise the demo corpus (WAVs + manifest.csv)"),
    "features": Command("core.cli.features", "extract the 57 GTZAN features of audio sources to a CSV or Parquet"),
    "train": Command("core.cli.train", "train a model and save its checkpoint"),
    "info": Command("core.cli.info", "describe a checkpoint"),
    "encode": Command("core.cli.encode", "write a corpus's latents under a checkpoint to CSV or Parquet (Dask: --cluster)"),
    "evaluate": Command("core.cli.evaluate",
                        "run the study's tasks on a corpus and write the results table (CSV + Markdown)"),
    "prepare": Command("core.cli.prepare",
                       "make the corpus and warm the dashboard's caches (scripts/start.sh runs it)"),
}


def setting(parser, name: str, *flags: str, many: bool = False, **kwargs) -> argparse.Action:
    """Add the argument of setting ``name`` to ``parser`` (a parser or an argument group), as its spec in
    :data:`core.params.SPECS` declares it: a choice takes the spec's choices, a number its type and range
    (:func:`ranged`), and the help is the spec's; the default is the spec's unless ``kwargs`` gives one.

    ``flags`` default to ``--name-with-dashes``; ``kwargs`` go to ``add_argument`` (``dest``, ``required``...).
    """
    spec = SPECS[name]
    if spec.kind == "choice":
        kwargs.setdefault("choices", spec.choices)
    else:
        kwargs.setdefault("type", ranged(name, many=many))
    kwargs.setdefault("default", spec.default)
    kwargs.setdefault("help", spec.help)
    return parser.add_argument(*(flags or (f"--{name.replace('_', '-')}",)), **kwargs)


def ranged(name: str, *, many: bool = False) -> Callable[[str], object]:
    """An argparse ``type=`` that accepts a value inside the range of setting ``name`` (:mod:`core.params`).

    argparse names the argument in its message: ``argument --batch-size: must be a whole number from 1
    to 1000000, got '0'`` (exit 2, no traceback). ``many=True`` takes a comma-separated list (a tuple).
    """
    def parse(text: str):
        try:
            if many:
                parts = [p for p in text.split(",")]
                if not parts or any(not p.strip() for p in parts):
                    raise ValueError(text)
                return tuple(check(name, p) for p in parts)
            return check(name, text)
        except ValueError:
            each = "comma-separated values, each " if many else ""
            raise argparse.ArgumentTypeError(f"must be {each}{describe(name)}, got {text!r}") from None

    parse.__name__ = name
    return parse


def _chosen(argv: list[str]) -> str | None:
    """The sub-command named in ``argv`` (the first word that is not an option), or None."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with ``command``'s full parser (its module imported) and a placeholder for every other one."""
    parser = argparse.ArgumentParser(
        # the installed console script names itself; `python -m core` otherwise
        prog="songscape" if os.path.basename(sys.argv[0]) == "songscape" else "python -m core",
        description="Songscape: cluster English and Bangla music with deep generative models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, cmd in COMMANDS.items():
        if name == command:
            importlib.import_module(cmd.module).register(sub)
        else:
            sub.add_parser(name, help=cmd.help)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_chosen(argv)).parse_args(argv)
    return report_errors(lambda: args.func(args))


def report_errors(call: Callable[[], int | None]) -> int:
    """Run ``call`` and return its exit code; a bad file or argument (:class:`SongscapeError`) is said in one line
    that names it, without a traceback (exit 2). The benchmarks in ``bench/`` run their ``main`` through it too."""
    try:
        return int(call() or 0)
    except SongscapeError as exc:
        if "core.progress" in sys.modules:  # a run stopped mid-way: its progress bar must not swallow the message
            sys.modules["core.progress"].close_bars()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``core info ... | head``): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at interpreter exit
        return 141

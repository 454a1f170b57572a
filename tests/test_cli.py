"""The command line: a lazy command table, so that `python -m core --help` starts fast."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "numba", "pandas", "scipy", "sklearn", "librosa", "streamlit")


def test_help_imports_no_heavy_module():
    code = (
        "import runpy, sys\n"
        "sys.argv = ['python -m core', '--help']\n"
        "try:\n"
        "    runpy.run_module('core', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
        "print(sorted(m for m in sys.modules if m.startswith('core.cli.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         timeout=120)
    heavy, commands = out.stdout.splitlines()[-2:]
    assert heavy == "[]"
    assert commands == "[]"  # no command module is imported to list the commands
    for name in COMMANDS:
        assert name in out.stdout


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_module_registers_its_command(name):
    module = importlib.import_module(COMMANDS[name].module)
    sub = argparse.ArgumentParser().add_subparsers()
    module.register(sub)
    assert list(sub.choices) == [name]
    assert sub.choices[name].get_default("func") is module.run


def test_only_the_chosen_command_is_built():
    parser = build_parser("demo")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert sub.choices["demo"].get_default("func") is not None
    assert sub.choices["train"].get_default("func") is None  # a placeholder: its module was not needed


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["no-such-command"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_a_reader_that_goes_away_ends_the_command_quietly(monkeypatch, capsys):
    """``python -m core info checkpoints/conv.pt | head -2`` printed a BrokenPipeError traceback."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (head) has gone: every write now fails with EPIPE
    stdout = os.fdopen(write_end, "w", buffering=1)
    monkeypatch.setattr("sys.stdout", stdout)
    try:
        assert main(["info", str(ROOT / "checkpoints" / "basic.pt")]) == 141
    finally:
        stdout.close()
    assert "Traceback" not in capsys.readouterr().err

"""Errors that name the file and what is wrong with it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class SongscapeError(Exception):
    """Base class of every error raised on purpose by `core`."""


class BadInputError(SongscapeError):
    """An input file that cannot be used. The message names the file and the problem."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class CheckpointError(BadInputError):
    """A checkpoint that cannot be loaded, or does not fit what it is loaded into."""


class OutputError(SongscapeError):
    """An output that could not be written. The message names the file; the old file is kept."""


@dataclass(frozen=True)
class Skipped:
    """One item left out of a batch, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"

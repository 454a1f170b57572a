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


#: First bytes of common files -> what they are, for messages about a file that is not what was expected.
SIGNATURES = ((b"ID3", "an MP3 audio file"), (b"\xff\xfb", "an MP3 audio file"), (b"\xff\xf3", "an MP3 audio file"),
              (b"\xff\xf2", "an MP3 audio file"), (b"RIFF", "a WAV (RIFF) file"), (b"fLaC", "a FLAC audio file"),
              (b"OggS", "an Ogg audio file"), (b"\x93NUMPY", "a NumPy .npy file"), (b"\x89HDF", "an HDF5 file"),
              (b"\x1f\x8b", "a gzip file"), (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
              (b"GIF8", "a GIF image"), (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a zip archive"),
              (b"\x7fELF", "a program (ELF executable)"))


def looks_like(head: bytes) -> str:
    """What a file whose first bytes are ``head`` looks like ("a PNG image", "a text file"...)."""
    for magic, what in SIGNATURES:
        if head.startswith(magic):
            return what
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data of an unknown kind"
    return "a text file" if b"\0" not in head else "binary data of an unknown kind"

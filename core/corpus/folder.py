"""Any folder of audio files: genre = the parent folder's name, ``song.txt`` = the lyrics of ``song.wav``."""

from __future__ import annotations

import os
from pathlib import Path

from core.corpus.scan import audio_or_skip, read_lyrics, require_dir, to_corpus, visible_files
from core.corpus.table import Corpus
from core.errors import BadInputError, Skipped


def load_folder(root: str | Path, *, language: str | None = None) -> Corpus:
    """Any folder of audio files: genre = the parent folder's name (``""`` for files directly in ``root``).

    ``song.txt`` beside ``song.wav`` is its lyrics. Non-audio files are listed in ``skipped`` as
    "not an audio file" (``.txt`` lyrics and hidden files are not). Track ids are paths relative to
    ``root`` without extension (``rock/song1``).
    """
    root = require_dir(root, "audio")
    skipped: list[Skipped] = []
    rows = []
    for f in visible_files(root, skipped=skipped):
        if not audio_or_skip(f, skipped):
            continue
        lyr = f.with_suffix(".txt")
        text = ""
        if os.path.lexists(lyr):
            try:
                text = read_lyrics(lyr)
            except BadInputError as exc:
                skipped.append(Skipped(str(lyr), f"lyrics ignored: {exc.problem}"))
            except OSError as exc:
                skipped.append(Skipped(str(lyr), f"lyrics ignored: cannot be read ({exc.strerror})"))
        rows.append({"track_id": f.relative_to(root).with_suffix("").as_posix(), "path": str(f),
                     "genre": f.parent.name if f.parent != root else "", "language": language or "",
                     "lyrics": text, "source": "folder"})
    return to_corpus(rows, skipped, "folder", root, empty_hint="no audio files in the folder")

"""GTZAN audio folders (Kaggle ``genres_original/`` or the original ``genres/`` release)."""

from __future__ import annotations

import re
from pathlib import Path

from core.audio import is_audio_path
from core.corpus.scan import audio_or_skip, require_dir, subfolders, to_corpus, visible_files
from core.corpus.table import Corpus
from core.errors import Skipped


_GTZAN_NAME = re.compile(r"^[A-Za-z]+\.\d{5}$")


def gtzan_base(root: Path) -> Path | None:
    """The folder holding GTZAN's genre folders, or None."""
    for cand in (root / "genres_original", root / "genres", root / "Data" / "genres_original"):
        if cand.is_dir():
            return cand
    for d in subfolders(root):
        try:
            if any(_GTZAN_NAME.match(f.stem) and is_audio_path(f) and f.is_file() for f in d.iterdir()):
                return root
        except OSError:  # an unreadable folder is reported when the files are listed
            continue
    return None


def load_gtzan(root: str | Path, *, language: str = "eng") -> Corpus:
    """GTZAN audio: ``genres_original/<genre>/<genre>.000NN.wav`` (Kaggle) or ``genres/<genre>/*.au``
    (original release), or ``root`` pointing directly at the genre folders.

    Track ids are the file stems (``blues.00000``), the same ids as the Kaggle feature tables.
    """
    root = require_dir(root, "GTZAN")
    base = gtzan_base(root) or root
    rows: list[dict] = []
    skipped: list[Skipped] = []
    for gdir in subfolders(base):
        for f in visible_files(gdir, skipped=skipped):
            if audio_or_skip(f, skipped):
                rows.append({"track_id": f.stem, "path": str(f), "genre": gdir.name, "language": language,
                             "lyrics": "", "source": "gtzan"})
    return to_corpus(rows, skipped, "gtzan", base,
                   empty_hint="expected genres_original/<genre>/<genre>.000NN.wav or genres/<genre>/*.au")

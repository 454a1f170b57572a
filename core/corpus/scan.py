"""Shared steps of the folder loaders: listing visible files, skipping and listing bad ones, unique ids.

Design decisions shared by every loader:

* Loaders never decode audio (that is ``core.audio.load_audio``'s job, later,
  with per-file errors). They skip and list missing and empty files, and list
  non-audio files as "not an audio file"; hidden files (``.DS_Store``...) are
  ignored silently. Unreadable audio is reported when features are extracted.
* A loader that finds no usable track raises :class:`~core.errors.BadInputError`
  naming the folder, what it expected, and the first skipped file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.audio import is_audio_path
from core.corpus.table import Corpus
from core.errors import BadInputError, Skipped
from core.lyrics import decode_lyrics_bytes


def _hidden(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = path.parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def visible_files(root: Path, *, recursive: bool = True) -> list[Path]:
    """Visible files under ``root``, sorted."""
    it = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in it if p.is_file() and not _hidden(p, root))


def require_dir(root: str | Path, what: str) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise BadInputError(root, f"{what} folder not found")
    if not root.is_dir():
        raise BadInputError(root, f"expected a {what} folder, got a file")
    return root.resolve()


def audio_or_skip(path: Path, skipped: list[Skipped]) -> bool:
    """True when ``path`` can be listed as a track; else records why not."""
    if not is_audio_path(path):
        if path.suffix.lower() != ".txt":
            skipped.append(Skipped(str(path), "not an audio file"))
        return False
    if path.stat().st_size == 0:
        skipped.append(Skipped(str(path), "empty file (0 bytes)"))
        return False
    return True


def read_lyrics(path: Path) -> str:
    return decode_lyrics_bytes(path.read_bytes(), path).strip()


def _unique_ids(rows: list[dict], root: Path) -> None:
    """Make ``track_id`` unique: a clashing id becomes the path relative to ``root`` without extension,
    then with it (``a.wav`` beside ``a.mp3``); a file outside ``root`` (a joined clip) gets ``<genre>/<id>``."""

    def clashing() -> set[str]:
        seen: dict[str, int] = {}
        for r in rows:
            seen[r["track_id"]] = seen.get(r["track_id"], 0) + 1
        return {k for k, v in seen.items() if v > 1}

    for with_suffix in (False, True):
        dups = clashing()
        if not dups:
            return
        for r in rows:
            if r["track_id"] in dups:
                try:
                    rel = Path(r["path"]).relative_to(root)
                    r["track_id"] = (rel if with_suffix else rel.with_suffix("")).as_posix()
                except ValueError:
                    r["track_id"] = f"{r['genre']}/{r['track_id']}"


def to_corpus(rows: list[dict], skipped: list[Skipped], name: str, root: Path, *, empty_hint: str) -> Corpus:
    if not rows:
        detail = f"; {len(skipped)} file(s) skipped, e.g. {skipped[0]}" if skipped else ""
        raise BadInputError(root, f"no usable tracks found ({empty_hint}){detail}")
    _unique_ids(rows, root)
    for r in rows:
        r.setdefault("source", name)
    return Corpus(pd.DataFrame(rows), None, skipped, name)

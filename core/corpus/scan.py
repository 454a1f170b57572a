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

import errno
import os
import stat
from pathlib import Path

import pandas as pd

from core.audio import is_audio_path
from core.corpus.roots import MAX_LYRICS_BYTES, check_lyrics_file
from core.corpus.table import Corpus
from core.errors import BadInputError, Skipped
from core.lyrics import decode_lyrics_bytes


def _hidden(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = path.parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


#: A folder source listing more entries than this is refused (a folder on ``/`` or ``/usr`` is a mistake).
MAX_ENTRIES = 200_000


def _describe_oserror(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or type(exc).__name__


def visible_files(root: Path, *, recursive: bool = True, skipped: list[Skipped] | None = None) -> list[Path]:
    """Visible regular files under ``root`` (symbolic links followed), sorted.

    Nothing is left out silently: when ``skipped`` is given, a dangling link, a link loop, an entry that
    cannot be stat'ed, a FIFO or device, an unreadable sub-folder and a folder reached twice through links
    are recorded there with the reason. More than :data:`MAX_ENTRIES` entries raise BadInputError.
    """
    notes: list[Skipped] = skipped if skipped is not None else []
    files: list[Path] = []
    seen_dirs: dict[tuple[int, int], str] = {}
    count = 0

    def unreadable(exc: OSError) -> None:
        where = exc.filename or root
        notes.append(Skipped(str(where), f"folder cannot be read ({_describe_oserror(exc)}); its files are left out"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=True):
        here = Path(dirpath)
        try:
            st = os.stat(here)
            ident = (st.st_dev, st.st_ino)
        except OSError as exc:
            notes.append(Skipped(str(here), f"folder cannot be read ({_describe_oserror(exc)})"))
            dirnames[:] = []
            continue
        if ident in seen_dirs:
            notes.append(Skipped(str(here), f"symbolic link loop: the same folder as {seen_dirs[ident]}; not listed twice"))
            dirnames[:] = []
            continue
        seen_dirs[ident] = str(here)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX") if recursive else []
        count += len(filenames) + len(dirnames)
        if count > MAX_ENTRIES:
            raise BadInputError(root, f"more than {MAX_ENTRIES:,} entries under this folder; choose the folder "
                                      "that holds the music")
        for name in filenames:
            p = here / name
            if _hidden(p, root):
                continue
            try:
                mode = os.stat(p).st_mode
            except FileNotFoundError:
                if os.path.islink(p):
                    notes.append(Skipped(str(p), "dangling symbolic link (its target does not exist)"))
                continue
            except OSError as exc:
                notes.append(Skipped(str(p), f"cannot be read ({_describe_oserror(exc)})"))
                continue
            if stat.S_ISREG(mode):
                files.append(p)
            elif not stat.S_ISDIR(mode):
                notes.append(Skipped(str(p), "not a regular file (a FIFO, device or socket)"))
    return sorted(files)


def subfolders(root: Path) -> list[Path]:
    """Visible sub-folders of ``root``, sorted; entries that cannot be stat'ed are left out here (the
    file listing reports them)."""
    out = []
    try:
        entries = list(root.iterdir())
    except OSError as exc:
        raise BadInputError(root, f"folder cannot be read ({_describe_oserror(exc)})") from None
    for d in entries:
        try:
            if not d.name.startswith(".") and d.is_dir():
                out.append(d)
        except OSError:
            continue
    return sorted(out)


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
    try:
        size = path.stat().st_size
    except OSError as exc:
        skipped.append(Skipped(str(path), f"cannot be read ({_describe_oserror(exc)})"))
        return False
    if size == 0:
        skipped.append(Skipped(str(path), "empty file (0 bytes)"))
        return False
    return True


def read_lyrics(path: Path, *, allowed: list[Path] | None = None) -> str:
    """The text of a lyrics file: a regular file of at most ``MAX_LYRICS_BYTES``, under ``allowed`` folders
    when given (:func:`core.corpus.roots.check_lyrics_file`). BadInputError names the file; FileNotFoundError
    when it is missing."""
    path = check_lyrics_file(path, allowed=allowed)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_LYRICS_BYTES + 1)  # bounded even if the file grew since it was checked
    except IsADirectoryError:
        raise BadInputError(path, "lyrics file is a folder, not a text file") from None
    except PermissionError:
        raise BadInputError(path, "lyrics file cannot be read (permission denied)") from None
    if len(data) > MAX_LYRICS_BYTES:
        raise BadInputError(path, f"lyrics file is too large (more than {MAX_LYRICS_BYTES:,} bytes)")
    return decode_lyrics_bytes(data, path).strip()


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

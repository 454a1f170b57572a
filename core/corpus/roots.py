"""Data roots: the folders the dashboard may open sources from, and the rules for lyrics files.

The setting is ``SONGSCAPE_DATA_ROOTS``: folders separated by ``os.pathsep``
(``:`` on Linux and macOS). Default: the user's home folder and the project's
data folder (``core.config.DATA_DIR``). Read at call time, so a test or the
operator can change it.

* Sources opened from the **dashboard** must lie under a data root
  (:func:`core.corpus.specs.check_specs`), and so must every audio and lyrics file of their
  tracks (:func:`restrict_corpus`): anyone who can reach the dashboard must not
  be able to read other files of the server through it.
* The **command line** opens any path the user names (it runs as that user).
* Everywhere, a manifest's ``lyrics_file`` must lie under the manifest's folder
  or a data root, be a regular file (not a folder, a FIFO or ``/dev/zero``) and
  hold at most :data:`MAX_LYRICS_BYTES` (:func:`check_lyrics_file`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable

from core import config
from core.errors import BadInputError, Skipped

#: Environment variable holding the data roots.
ENV = "SONGSCAPE_DATA_ROOTS"
#: A lyrics file larger than this is refused (a song's lyrics are a few kB).
MAX_LYRICS_BYTES = 1 << 20


def data_roots() -> list[Path]:
    """The configured data roots, resolved (``SONGSCAPE_DATA_ROOTS``, else the home folder and ``data/``)."""
    raw = os.environ.get(ENV)
    if raw is not None and raw.strip():
        parts = [p for p in raw.split(os.pathsep) if p.strip()]
    else:
        parts = [str(Path.home()), str(config.DATA_DIR)]
    roots = []
    for p in parts:
        root = Path(p.strip()).expanduser().resolve()
        if root not in roots:
            roots.append(root)
    return roots


def under(path: str | Path, roots: Iterable[Path]) -> bool:
    """True when ``path`` (symlinks resolved) is one of ``roots`` or lies inside one."""
    resolved = Path(path).expanduser().resolve()
    return any(resolved == r or r in resolved.parents for r in roots)


def check_under_roots(path: str | Path, *, what: str = "source", roots: Iterable[Path] | None = None) -> Path:
    """``path`` resolved, or BadInputError naming it when it lies outside the data roots."""
    roots = list(data_roots() if roots is None else roots)
    if not under(path, roots):
        shown = ", ".join(str(r) for r in roots) or "(none)"
        raise BadInputError(path, f"{what} is outside the data roots ({shown}); set {ENV} to allow another folder")
    return Path(path).expanduser().resolve()


def restrict_corpus(corpus, *, roots: Iterable[Path] | None = None):
    """``corpus`` without the tracks whose audio lies outside the data roots (listed as skipped).

    A manifest under a root may still name audio anywhere; the dashboard must not play it.
    """
    roots = list(data_roots() if roots is None else roots)
    paths = corpus.tracks["path"]
    outside = [bool(p) and not under(p, roots) for p in paths]
    if not any(outside):
        return corpus
    keep = [t for t, out in zip(corpus.track_ids, outside) if not out]
    if not keep:
        raise BadInputError(None, f"every track of '{corpus.name}' lies outside the data roots; set {ENV}")
    restricted = corpus.subset(keep)
    restricted.skipped += [Skipped(p, "outside the data roots: not opened from the dashboard")
                           for p, out in zip(paths, outside) if out]
    return restricted


def root_choices(roots: Iterable[Path] | None = None, *, limit: int = 200) -> list[str]:
    """Sources to offer when the dashboard is reachable from the network: each data root, its visible
    sub-folders and its CSV files (at most ``limit``), as paths."""
    out: list[str] = []
    for root in data_roots() if roots is None else roots:
        if not root.is_dir():
            continue
        out.append(str(root))
        try:
            entries = sorted(root.iterdir())
        except OSError:
            continue
        for p in entries:
            if len(out) >= limit:
                return out
            try:
                if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() == ".csv"):
                    out.append(str(p))
            except OSError:
                continue
    return out


#: Server addresses that mean "this machine only".
LOCAL_ADDRESSES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_local_address(address: str | None) -> bool:
    """True when the dashboard listens on this machine only (``server.address``; unset or empty means every
    interface, so not local)."""
    text = (address or "").strip().lower()
    return text in LOCAL_ADDRESSES or text.startswith("127.")


def lyrics_locations(base: str | Path) -> list[Path]:
    """Where a manifest in folder ``base`` may take its ``lyrics_file`` from: ``base`` and the data roots."""
    return [Path(base).expanduser().resolve()] + data_roots()


def check_lyrics_file(path: str | Path, *, allowed: Iterable[Path] | None = None) -> Path:
    """``path`` resolved when it may be read as lyrics; BadInputError naming it otherwise.

    It must be a regular file of at most :data:`MAX_LYRICS_BYTES` bytes and, when ``allowed`` is given
    (:func:`lyrics_locations`), lie under one of those folders. A missing file raises ``FileNotFoundError``.
    """
    path = Path(path).expanduser()
    if allowed is not None and not under(path, allowed):
        raise BadInputError(path, "lyrics file lies outside the manifest's folder and the data roots "
                                  f"({ENV}); refused")
    st = path.stat()  # FileNotFoundError for a missing file
    if stat.S_ISDIR(st.st_mode):
        raise BadInputError(path, "lyrics file is a folder, not a text file")
    if not stat.S_ISREG(st.st_mode):
        raise BadInputError(path, "lyrics file is not a regular file (a device, FIFO or socket); refused")
    if st.st_size > MAX_LYRICS_BYTES:
        raise BadInputError(path, f"lyrics file is too large ({st.st_size:,} bytes; at most "
                                  f"{MAX_LYRICS_BYTES:,})")
    return path.resolve()

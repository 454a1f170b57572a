"""The checkpoint shelf: the ready-made checkpoints and the user's saved runs, listed, named, chosen and deleted.

File bookkeeping only (no loading, no scoring, no UI). Checkpoints come from two places: the ready-made
ones shipped in ``checkpoints/`` (:data:`core.config.CHECKPOINT_DIR`) and those saved from the dashboard
in ``data/runs/`` (:data:`core.config.RUNS_DIR`). A run never takes a ready-made checkpoint's name, so a
link or a list never confuses the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core import config
from core.corpus import Corpus
from core.errors import BadInputError

#: Shipped checkpoint the dashboard opens with: the ConvVAE can be listened to.
DEFAULT_CHECKPOINT = "conv.pt"
#: Shipped spectrogram VAE trained on real recordings (checkpoints/README.md): a collection of one's own
#: can be encoded with it at once, before (or instead of) training a model on it.
REAL_MUSIC_CHECKPOINT = "real.pt"


@dataclass(frozen=True)
class CheckpointEntry:
    name: str
    path: Path
    shipped: bool

    @property
    def stamp(self) -> float:
        """Modification time, so caches notice a re-saved checkpoint."""
        try:
            return self.path.stat().st_mtime
        except FileNotFoundError:
            return 0.0

    @property
    def label(self) -> str:
        return f"{self.name} (ready-made)" if self.shipped else self.name


def list_checkpoints() -> list[CheckpointEntry]:
    """Shipped checkpoints first (default one on top), then the user's runs, newest first."""
    shipped = sorted(config.CHECKPOINT_DIR.glob("*.pt"), key=lambda p: (p.name != DEFAULT_CHECKPOINT, p.name))
    runs = sorted(config.RUNS_DIR.glob("*.pt"), key=lambda p: p.stat().st_mtime, reverse=True) if config.RUNS_DIR.exists() else []
    taken = {p.stem.lower() for p in shipped}
    # a run saved under a ready-made name before such names were refused gets a name of its own
    # (``runs/<name>``, which no checkpoint file can have), so a link or a list never confuses the two
    return [CheckpointEntry(p.stem, p, True) for p in shipped] + [
        CheckpointEntry(f"{RUNS_PREFIX}{p.stem}" if p.stem.lower() in taken else p.stem, p, False) for p in runs]


#: What a user run named like a ready-made checkpoint is called in lists and links.
RUNS_PREFIX = "runs/"


def shipped_names() -> set[str]:
    """The names of the ready-made checkpoints (lower case): a run may not take one."""
    return {p.stem.lower() for p in config.CHECKPOINT_DIR.glob("*.pt")}


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def run_path(name: str) -> Path:
    """Path of a user checkpoint called ``name`` (letters, digits, ``_ . -``)."""
    name = name.strip()
    if name.endswith(".pt"):
        name = name[:-3]
    if not _NAME.match(name):
        raise BadInputError(name, "a checkpoint name uses letters, digits, '_', '.' and '-' (at most 64)")
    if name.lower() in shipped_names():
        raise BadInputError(name, "is the name of a ready-made checkpoint; choose another name (a link to "
                                  f"model={name} must open one checkpoint)")
    config.RUNS_DIR.mkdir(parents=True, exist_ok=True)
    return config.RUNS_DIR / f"{name}.pt"


def free_run_path(name: str, *, taken: set[Path] | frozenset = frozenset()) -> tuple[Path, bool]:
    """``(path, renamed)``: :func:`run_path` of ``name``, or of ``name-2``, ``name-3``... when that file
    exists, is in ``taken`` (checkpoints running jobs will write) or is a ready-made checkpoint's name.
    A run never overwrites another, nor shares a name with a ready-made checkpoint."""
    stem = name.strip().removesuffix(".pt")
    if stem.lower() not in shipped_names():
        run_path(stem)  # a name that is not allowed at all is refused, not renamed
    taken = {Path(p) for p in taken}
    n = 1
    while True:
        candidate = stem if n == 1 else f"{stem[:60]}-{n}"
        if candidate.lower() not in shipped_names():
            path = run_path(candidate)
            if not path.exists() and path not in taken:
                return path, n > 1
        n += 1


def next_run_name(saved_as: str | Path, *, taken: set[Path] | frozenset = frozenset()) -> str:
    """The name to offer for the run after one saved as ``saved_as``: the same name with the next free
    number (``basic-run`` -> ``basic-run-2``, ``basic-run-2`` -> ``basic-run-3``), so a form that keeps
    its values never offers the name just used. ``saved_as`` and ``taken`` count as used."""
    stem = Path(saved_as).stem
    base = re.sub(r"-\d+$", "", stem) or stem
    path, _ = free_run_path(base, taken={Path(p) for p in taken} | {run_path(stem)})
    return path.stem


def delete_checkpoint(path: str | Path) -> None:
    """Delete a user checkpoint. Shipped checkpoints are never deleted."""
    path = Path(path).resolve()
    if config.RUNS_DIR.resolve() not in path.parents:
        raise BadInputError(path, "only checkpoints saved from the dashboard (data/runs) can be deleted")
    path.unlink(missing_ok=True)


def first_checkpoint(entries: list[CheckpointEntry], corpus: Corpus) -> CheckpointEntry | None:
    """The checkpoint the dashboard opens ``corpus`` with: the first of ``entries`` (the shipped
    ConvVAE, see :func:`list_checkpoints`), or the Basic VAE for a corpus without audio (a feature table)."""
    if not entries:
        return None
    if not corpus.has_audio:
        return next((e for e in entries if e.name == "basic"), entries[0])
    return entries[0]


def real_music_checkpoint(entries: list[CheckpointEntry]) -> CheckpointEntry | None:
    """The shipped real-music checkpoint among ``entries`` (:data:`REAL_MUSIC_CHECKPOINT`), or None."""
    return next((e for e in entries if e.shipped and e.path.name == REAL_MUSIC_CHECKPOINT), None)


def shipped_checkpoints(corpus: Corpus) -> list[CheckpointEntry]:
    """The shipped checkpoints, the one the dashboard opens ``corpus`` with first."""
    shipped = [e for e in list_checkpoints() if e.shipped]
    first = first_checkpoint(shipped, corpus)
    return ([first] if first else []) + [e for e in shipped if e is not first]

"""The ``demo`` source kind: the synthesised demo corpus, made by :mod:`core.demo` when needed, read from its manifest."""

from __future__ import annotations

from pathlib import Path

from core import config, demo
from core.corpus.manifest import load_manifest
from core.corpus.table import Corpus
from core.progress import Progress


def load_demo(folder: str | Path | None = None, *, n_tracks: int | None = None, seed: int | None = None,
              duration: float | None = None, sr: int | None = None, progress: Progress | None = None) -> Corpus:
    """The demo corpus in ``folder`` (default ``core.config.DEMO_DIR``), synthesised first when missing or stale.

    Sizes left as None keep those of the folder's stamp (see :func:`core.demo.ensure_demo`). Paths are
    absolute; ``source`` and the corpus name are ``demo``.
    """
    manifest = demo.ensure_demo(folder, n_tracks=n_tracks, seed=seed, duration=duration, sr=sr, progress=progress)
    corpus = load_manifest(manifest, source="demo")
    corpus.name = "demo"
    default = folder is None or Path(folder).expanduser().resolve() == Path(config.DEMO_DIR).resolve()
    corpus.sources = ("demo",) if default else (f"demo:{folder}",)
    return corpus

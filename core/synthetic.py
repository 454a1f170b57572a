"""Generated data for scale tests and benchmarks: latents and 57-feature tables of any size.

Nothing here is music: these are stand-ins with the shapes and the cluster
structure of real data, so the clustering, projection, encoding and dashboard
paths can be exercised at 100,000 or 1,000,000 tracks without audio.

* :func:`latents` -- a mixture of Gaussians, shape=(n, d), and the component of each row.
* :func:`feature_table` -- a CSV in the study's 57-feature table format (``features:`` loader),
  either from a mixture or by jittering the rows of a real template table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.corpus.columns import FEATURE_NAMES
from core.io import atomic_write

__all__ = ["latents", "feature_table"]

#: Genre and language names of generated rows (labels for scoring only).
GENRES = tuple(f"genre{i:02d}" for i in range(10))
LANGUAGES = ("eng", "bng")


def latents(n: int, d: int = 8, *, n_clusters: int = 18, spread: float = 3.0,
            random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points from a mixture of ``n_clusters`` unit Gaussians whose centres are N(0, spread²).

    Returns ``Z`` np.ndarray, shape=(n, d), float32, and the component of each row, shape=(n,), int64.
    Built in chunks of 1,000,000 rows, so n=10⁷ needs no float64 copy of the whole.
    """
    if n < 1 or d < 1:
        raise ValueError(f"latents: n={n} and d={d} must be at least 1")
    rng = np.random.default_rng(random_state)
    centres = rng.normal(0.0, spread, size=(n_clusters, d))
    component = rng.integers(0, n_clusters, size=n)
    Z = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, 1_000_000):
        part = component[s:s + 1_000_000]
        Z[s:s + len(part)] = centres[part] + rng.standard_normal((len(part), d))
    return Z, component.astype(np.int64)


def feature_table(path: str | Path, n: int, *, template: str | Path | None = None, jitter: float = 0.15,
                  random_state: int = 0) -> Path:
    """Write a generated 57-feature table of ``n`` rows (readable by the ``features:`` loader).

    template : a real feature table (same format). Each generated row copies a random
        template row, its genre and language, plus Gaussian noise of ``jitter`` times each
        feature's standard deviation over the template. Without a template: a mixture of 18
        Gaussians in the 57 dimensions, genres and languages drawn at random.

    Columns: ``filename`` (``synth.0000000.wav``...), ``length``, the 57 features, ``label``
    (genre) and ``language``. Written atomically. Returns the path.
    """
    if n < 1:
        raise ValueError(f"feature_table: n={n} must be at least 1")
    rng = np.random.default_rng(random_state)
    names = list(FEATURE_NAMES)
    if template is not None:
        src = pd.read_csv(template, low_memory=False)
        missing = [c for c in names if c not in src.columns]
        if missing:
            raise ValueError(f"template {template}: no feature column(s) {missing[:5]}")
        X0 = src[names].to_numpy(dtype=np.float64)
        pick = rng.integers(0, len(src), size=n)
        X = X0[pick] + rng.standard_normal((n, len(names))) * (jitter * X0.std(axis=0))
        genre = src["label"].astype(str).to_numpy()[pick] if "label" in src else rng.choice(GENRES, n)
        language = src["language"].astype(str).to_numpy()[pick] if "language" in src else rng.choice(LANGUAGES, n)
    else:
        X, component = latents(n, len(names), random_state=random_state)
        genre = np.asarray(GENRES)[component % len(GENRES)]
        language = rng.choice(LANGUAGES, n)
    frame = pd.DataFrame(X, columns=names)
    frame.insert(0, "length", 661794)
    frame.insert(0, "filename", [f"synth.{i:07d}.wav" for i in range(n)])
    frame["label"] = genre
    frame["language"] = language
    return atomic_write(path, lambda fh: frame.to_csv(fh, index=False, encoding="utf-8"))

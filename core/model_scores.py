"""Scores of models rather than of latents: train one and score it, score every checkpoint, score while training.

Each function gets its latents from a model (trained here, loaded from a checkpoint, or in
training) and scores them through :mod:`core.scoring`, the one cluster-and-score path:

* :func:`fit_and_score` -- train a model on a corpus and score its latents (the live β slider).
* :func:`score_checkpoints` -- every checkpoint scored on a corpus, with how long each trained
  (:func:`training_length`) and on what (the Compare page).
* :class:`TrainingMonitor` -- the training-loop callback that scores the validation latents.

Labels are used only for scoring, never in training.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from core import checkpoint, metrics
from core.blocks import default_part
from core.corpus import Corpus
from core.errors import BadInputError
from core.inputs import build_inputs
from core.latents import encode_corpus, latent_part, reader
from core.models import create
from core.progress import Progress
from core.scoring import label_table, score, score_by_label

__all__ = ["fit_and_score", "score_checkpoints", "training_length", "TrainingMonitor"]


def fit_and_score(corpus: Corpus, name: str, *, params: dict[str, Any], random_state: int = 0,
                  progress: Progress | None = None):
    """Train model ``name`` (``core.models.create(name, **params)``) on ``corpus`` and score its latents.

    What the live β slider runs. Labels are used only for scoring, never in training.
    Returns ``(model, track_ids, Z (n, d), report)``, ``report`` from :func:`core.scoring.score_by_label` of the
    model's default latent part (:func:`core.latents.latent_part`).
    """
    model = create(name, **params)
    inputs, _ = build_inputs(corpus, needs=set(model.needs), progress=progress)
    model.fit(inputs)
    Z = np.asarray(model.encode(inputs), dtype=np.float64)
    ids = list(inputs.track_ids)
    report = score_by_label(latent_part(model, Z), label_table(corpus, track_ids=ids), random_state=random_state)
    return model, ids, Z, report


def score_checkpoints(corpus: Corpus, entries: Iterable, *, progress: Progress | None = None) -> pd.DataFrame:
    """Every checkpoint of ``entries`` (objects with ``name`` and ``path``) scored on ``corpus``.

    One row per checkpoint: ``checkpoint, model, latent, part, β``, ``trained`` (:func:`training_length`),
    ``trained_on`` (what the checkpoint
    says it was trained on, :func:`core.checkpoint.data_summary`: "this corpus" when its corpus fingerprint
    is ``corpus``'s, "one of its sources" when ``corpus`` is one of several it was trained on, "other data" when
    neither, "not recorded" for older files) and
    :func:`core.scoring.score_by_label` of the default part of its latents (:func:`core.latents.latent_part`). A checkpoint that cannot encode the corpus gets a row whose ``note`` says why.
    """
    entries = list(entries)
    here = corpus.fingerprint() if entries else None
    rows = []
    for i, entry in enumerate(entries):
        if progress:
            progress(i, len(entries), entry.name)
        row: dict[str, Any] = {"checkpoint": entry.name}
        try:
            model = reader(checkpoint.load(entry.path), corpus)
            ids, Z = encode_corpus(model, corpus)
        except BadInputError as exc:
            rows.append(row | {"note": exc.problem})
            continue
        part = default_part(model.latent_blocks())
        row |= {"model": model.name, "latent": Z.shape[1], "part": part, "β": model.get_params().get("beta"),
                "trained": training_length(model),
                "trained_on": checkpoint.data_summary(getattr(model, "training_data_", None), fingerprint=here)}
        scores = score_by_label(latent_part(model, Z, part), label_table(corpus, track_ids=ids))
        row |= {k: v for k, v in scores.items() if k != "notes"}
        rows.append(row)
    if progress:
        progress(len(entries), len(entries), "done")
    return pd.DataFrame(rows)


def training_length(model) -> str:
    """How long ``model`` trained, from its history: ``"30 epochs × 100 steps"`` (an epoch's optimisation steps),
    ``"fitted in one pass"`` for a model without training steps (PCA...), ``"not recorded"`` without a history.
    A score read without it misleads: a model trained for minutes on other data can outscore one trained
    for seconds on this corpus."""
    history = getattr(model, "history_", None)
    if history is not None and not history and getattr(model, "training", None) is None:
        return "fitted in one pass"
    if not history:
        return "not recorded"
    epochs = int(history[-1].get("epoch") or len(history))
    steps = history[-1].get("step")
    if not steps:
        return f"{epochs} epoch{'' if epochs == 1 else 's'}"
    per_epoch = int(round(int(steps) / max(epochs, 1)))
    return f"{epochs} epoch{'' if epochs == 1 else 's'} × {per_epoch:,} steps"


class TrainingMonitor:
    """Training-loop callback that scores the validation latents while a model trains.

    Every ``every`` epochs, K-Means with ``n_clusters`` on the validation latents, through
    :func:`core.scoring.score`; the internal metrics (silhouette, Calinski–Harabasz, Davies–Bouldin) that
    are defined come back as the epoch's ``record["metrics"]``. ``every=0`` never scores.

    ``core.training.train`` calls ``on_validation(epoch=..., latents=...)`` after each
    validation pass; ``epoch`` is the 1-based number of the epoch just validated.
    """

    def __init__(self, *, n_clusters: int = 2, every: int = 1, random_state: int = 0):
        self.n_clusters = n_clusters
        self.every = every
        self.random_state = random_state

    def on_validation(self, *, epoch: int, latents: np.ndarray) -> dict[str, float]:
        """Internal metrics of K-Means on ``latents`` (n_val, d), or {} when not due or undefined."""
        if self.every <= 0 or epoch % self.every:
            return {}
        Z = np.asarray(latents, dtype=np.float64)
        if Z.ndim != 2 or len(Z) <= self.n_clusters or not np.isfinite(Z).all():
            return {}
        row = score(Z, clusterer="kmeans", params={"n_clusters": self.n_clusters}, random_state=self.random_state)
        return {name: float(row[name]) for name in metrics.INTERNAL if row.get(name) is not None}

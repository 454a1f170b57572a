"""THE one "cluster + score" path: every number the project reports about a clustering comes from here.

Training curves (:class:`TrainingMonitor`), ``core evaluate``, the benchmarks, the
live β of the Train page, the Clusters and Compare pages and the checkpoint scores
all call :func:`cluster_and_score` (or :func:`score`, its metrics alone), so the same
latents with the same clusterer, parameters and ``random_state`` give the same
numbers everywhere.

* :func:`label_table` -- the label columns (genre, language...) of a corpus, one row per
  latent row. Labels only ever score a clustering; they never enter training.
* :func:`cluster_and_score` -- cluster with a method of :data:`core.clustering.CLUSTERERS`
  and compute :func:`core.metrics.report` (internal metrics, coverage, and the external
  metrics on the clustered points).
* :func:`score_by_label` -- K-Means with k = the number of classes of each label column.
* :func:`fit_and_score`, :func:`score_checkpoints` -- the same for a freshly trained model
  (the live β slider) and for every checkpoint on a corpus (the Compare page).

Silhouette: exact up to :data:`SILHOUETTE_EXACT_MAX` points (milliseconds when a
:class:`~core.clustering.NeighbourIndex` holds the distance matrix), above that the
mean over a sample of that many points drawn with ``random_state``. The same rule
applies on every path.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from core import checkpoint, metrics
from core.blocks import default_part
from core.clustering import DENSE_MAX, ClusterResult, NeighbourIndex, cluster, describe
from core.corpus import Corpus
from core.errors import BadInputError
from core.inputs import build_inputs
from core.latents import encode_corpus, latent_part
from core.models import create
from core.progress import Progress

__all__ = ["SILHOUETTE_EXACT_MAX", "label_table", "cluster_and_score", "score", "score_by_label", "by_label_clustering",
           "fit_and_score", "score_checkpoints", "training_length", "TrainingMonitor"]

#: Exact silhouette up to this many points (the NeighbourIndex's dense distance matrix makes it
#: fast); above it, the silhouette of a seeded sample of this many points.
SILHOUETTE_EXACT_MAX = DENSE_MAX


def label_table(corpus: Corpus, columns: Sequence[str] | None = None, *,
                track_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """The label columns of ``corpus``, one row per track of ``track_ids`` (default: every track).

    columns : label columns (default: ``corpus.label_columns()``).
    track_ids : the order of the latent rows the table will score (e.g. ``inputs.track_ids``).

    Returns a DataFrame with a fresh 0..n-1 index and the columns in the order asked.
    """
    columns = list(corpus.label_columns() if columns is None else columns)
    missing = [c for c in columns if c not in corpus.tracks.columns]
    if missing:
        raise BadInputError(None, f"the corpus has no label column(s) {missing}; it has {corpus.label_columns()}")
    tracks = corpus.tracks.set_index("track_id")
    rows = tracks.index if track_ids is None else list(track_ids)
    return tracks.loc[rows, columns].reset_index(drop=True)


def cluster_and_score(Z: np.ndarray, *, clusterer: str, params: dict[str, Any] | None = None,
                      labels: pd.DataFrame | None = None, random_state: int = 0,
                      index: NeighbourIndex | None = None) -> tuple[ClusterResult, dict[str, Any]]:
    """Cluster the rows of ``Z`` and score the result: the one path every caller uses.

    Z : np.ndarray, shape=(n, d) latents.
    clusterer, params : a method of ``core.clustering.CLUSTERERS`` and its parameters (missing
        ones take the registry defaults, e.g. K-Means ``n_init=10``).
    labels : DataFrame with n rows, the label columns to score against (:func:`label_table`).
    index : a NeighbourIndex of ``Z``: DBSCAN and the silhouette reuse its neighbours and distances.

    Returns ``(ClusterResult, report)``; ``report`` is :func:`core.metrics.report`'s flat dict.
    """
    result = cluster(clusterer, Z if index is None else index.Z, index=index, random_state=random_state,
                     **(params or {}))
    sample = SILHOUETTE_EXACT_MAX if len(result.labels) > SILHOUETTE_EXACT_MAX else None
    row = metrics.report(Z if index is None else index.Z, result.labels, labels, sample_size=sample,
                         random_state=random_state, index=index)
    return result, row


def score(Z: np.ndarray, *, clusterer: str, params: dict[str, Any] | None = None,
          labels: pd.DataFrame | None = None, random_state: int = 0,
          index: NeighbourIndex | None = None) -> dict[str, Any]:
    """The metrics of :func:`cluster_and_score` alone."""
    return cluster_and_score(Z, clusterer=clusterer, params=params, labels=labels, random_state=random_state,
                             index=index)[1]


def score_by_label(Z: np.ndarray, labels: pd.DataFrame, *, random_state: int = 0) -> dict[str, Any]:
    """K-Means on ``Z`` with k = the number of classes of each label column, scored against that column.

    Returns one flat dict: ``ari_L, nmi_L, purity_L...`` for each label column L with at least
    2 classes, and the internal metrics (silhouette...) of the clustering whose k is the number
    of genres (else of the first label column); ``k_L`` is the k behind L's metrics and ``k`` the one
    behind the internal metrics (:func:`by_label_clustering` names them).
    """
    main = "genre" if "genre" in labels.columns else (labels.columns[0] if len(labels.columns) else None)
    out: dict[str, Any] = {}
    for column in labels.columns:
        k = int(labels[column].replace("", np.nan).nunique())
        if k < 2 or k > len(Z):
            continue
        row = score(Z, clusterer="kmeans", params={"n_clusters": k}, labels=labels[[column]],
                    random_state=random_state)
        out.update({key: value for key, value in row.items() if key.endswith(f"_{column}") or column == main})
        out[f"k_{column}"] = k
        if column == main:
            out["k"] = k
    return out


def by_label_clustering(report: dict[str, Any], key: str) -> str | None:
    """The clustering behind metric ``key`` of a :func:`score_by_label` report (``"K-Means, k = 8"``), or None
    when the report does not say. The same metric of the same latents differs with k: a page names it."""
    metric, _, column = key.partition("_")
    k = report.get("k") if key in metrics.INTERNAL else report.get(f"k_{column}") if metric in metrics.EXTERNAL else None
    return None if k is None else describe("kmeans", {"n_clusters": int(k)})


def fit_and_score(corpus: Corpus, name: str, *, params: dict[str, Any], random_state: int = 0,
                  progress: Progress | None = None):
    """Train model ``name`` (``core.models.create(name, **params)``) on ``corpus`` and score its latents.

    What the live β slider runs. Labels are used only for scoring, never in training.
    Returns ``(model, track_ids, Z (n, d), report)``, ``report`` from :func:`score_by_label` of the
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
    is ``corpus``'s, "other data" when not, "not recorded" for older files) and :func:`score_by_label` of the
    default part of its latents (:func:`core.latents.latent_part`). A checkpoint that cannot encode the corpus gets a row whose ``note`` says why.
    """
    entries = list(entries)
    here = corpus.fingerprint() if entries else None
    rows = []
    for i, entry in enumerate(entries):
        if progress:
            progress(i, len(entries), entry.name)
        row: dict[str, Any] = {"checkpoint": entry.name}
        try:
            model = checkpoint.load(entry.path)
            ids, Z = encode_corpus(model, corpus)
        except BadInputError as exc:
            rows.append(row | {"note": exc.problem})
            continue
        part = default_part(model.latent_blocks())
        row |= {"model": model.name, "latent": Z.shape[1], "part": part, "β": _setting(model, "beta"),
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


def _setting(model, name: str):
    """A model parameter, whether the estimator, its training config (β) or its architecture config holds it
    (None when none does)."""
    for holder in (model, getattr(model, "training", None), getattr(model, "config", None)):
        if holder is not None and hasattr(holder, name):
            return getattr(holder, name)
    return None


class TrainingMonitor:
    """Training-loop callback that scores the validation latents while a model trains.

    Every ``every`` epochs, K-Means with ``n_clusters`` on the validation latents, through
    :func:`score`; the internal metrics (silhouette, Calinski–Harabasz, Davies–Bouldin) that
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

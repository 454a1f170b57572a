"""THE one "cluster + score" path: every number the project reports about a clustering comes from here.

Training curves (:class:`core.model_scores.TrainingMonitor`), ``core evaluate``, the benchmarks, the
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

Scoring works on latents alone: training a model, loading checkpoints and scoring them are
:mod:`core.model_scores`'s.

Silhouette: exact up to :data:`SILHOUETTE_EXACT_MAX` points (milliseconds when a
:class:`~core.clustering.NeighbourIndex` holds the distance matrix), above that the
mean over a sample of that many points drawn with ``random_state``. The same rule
applies on every path.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from core import metrics
from core.clustering import DENSE_MAX, ClusterResult, NeighbourIndex, cluster, describe
from core.errors import BadInputError

__all__ = ["SILHOUETTE_EXACT_MAX", "label_table", "cluster_and_score", "clustering", "score_clustering", "score",
           "score_by_label", "by_label_clustering"]

#: Exact silhouette up to this many points (the NeighbourIndex's dense distance matrix makes it
#: fast); above it, the silhouette of a seeded sample of this many points.
SILHOUETTE_EXACT_MAX = DENSE_MAX


def label_table(corpus, columns: Sequence[str] | None = None, *,
                track_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """The label columns of ``corpus``, one row per track of ``track_ids`` (default: every track).

    corpus : a :class:`core.corpus.Corpus` (read, not imported: scoring sits below the corpus layer).
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

    Returns ``(ClusterResult, report)``; ``report`` is :func:`core.metrics.report`'s flat dict. Its two
    steps, :func:`clustering` and :func:`score_clustering`, are apart for a page that shows the clusters
    before their metrics are computed.
    """
    result = clustering(Z, clusterer=clusterer, params=params, random_state=random_state, index=index)
    return result, score_clustering(Z, result, labels=labels, random_state=random_state, index=index)


def clustering(Z: np.ndarray, *, clusterer: str, params: dict[str, Any] | None = None, random_state: int = 0,
               index: NeighbourIndex | None = None) -> ClusterResult:
    """The first step of :func:`cluster_and_score`: the clustering of ``Z`` alone."""
    return cluster(clusterer, Z if index is None else index.Z, index=index, random_state=random_state,
                   **(params or {}))


def score_clustering(Z: np.ndarray, result: ClusterResult, *, labels: pd.DataFrame | None = None,
                     random_state: int = 0, index: NeighbourIndex | None = None) -> dict[str, Any]:
    """The second step of :func:`cluster_and_score`: the metrics of ``result`` (a :func:`clustering` of the
    same ``Z``, ``random_state`` and ``index``)."""
    sample = SILHOUETTE_EXACT_MAX if len(result.labels) > SILHOUETTE_EXACT_MAX else None
    return metrics.report(Z if index is None else index.Z, result.labels, labels, sample_size=sample,
                          random_state=random_state, index=index)


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

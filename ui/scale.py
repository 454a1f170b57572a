"""Large collections in the pages: how many points, options and rows each draws, and the notes that say so.

* :func:`scatter_rows` / :func:`sample_points` / :func:`drawn` -- above :data:`SCATTER_MAX` points
  (a million generated latents, say) a Plotly scatter draws a seeded uniform sample of SCATTER_MAX
  points, and says so (:func:`sample_note`): a million Plotly markers (about 100 MB of JSON) would
  stall the browser. The 2-D maps of more than ``ui.explore_map.MAP_ABOVE`` points are the WebGL
  map instead, which draws every point. Clustering, search, the table and exports still list every
  track.
* :func:`cluster_choices` -- the clusters a box offers: the :data:`CLUSTER_CHOICES_MAX` largest (DBSCAN
  at a million points finds thousands).
* :func:`track_choices` / :func:`chosen_track` / :func:`table_rows` -- the track boxes of the Latent and Data
  pages list every track up to :data:`CHOICES_MAX`, above that a fixed sample (any track id can still be
  typed in), and the Data page's track table lists at most :data:`TABLE_MAX` rows: each option and row
  goes to the browser on every run (measured at a million tracks: 30 MB per Latent track box, 98 MB
  for the Data table; bench/bench_pages_scale.py).
* :data:`HEATMAP_ROWS` -- the Clusters page's heatmaps show the largest clusters and sum the others
  (``core.metrics.contingency(max_rows=...)``): DBSCAN at a million points finds over a thousand.
* :func:`fit_note` -- what the Clusters page says when a method was fitted on a sample
  (``core.clustering.FIT_MAX``: Agglomerative above 10,000 points, HDBSCAN above 20,000, the
  Gaussian mixture above 100,000).

The Data page's Dask cluster (extraction and encoding spread over many machines) is :mod:`ui.distributed`'s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.clustering import CLUSTERERS, FIT_WHY
from core.projections import project
from ui import tables

__all__ = ["SCATTER_MAX", "CHOICES_MAX", "TABLE_MAX", "HEATMAP_ROWS", "CLUSTER_CHOICES_MAX", "scatter_rows",
           "sample_note", "sample_points", "drawn", "track_choices", "chosen_track", "table_rows", "fit_note",
           "cluster_choices"]

#: Most points the Explore scatter draws (100,000 WebGL points render in under a second).
SCATTER_MAX = 100_000
#: Most tracks a track box lists; above, a fixed sample of this many (and any id typed in).
CHOICES_MAX = 5_000
#: Most rows the Data page's track table lists; above, a fixed sample of this many.
TABLE_MAX = 10_000
#: Most clusters the Clusters page's heatmaps show (the largest); the others are summed in one row.
HEATMAP_ROWS = 30
#: Most clusters a cluster box lists (the largest; noise too when there is any).
CLUSTER_CHOICES_MAX = 100


def scatter_rows(n: int, *, limit: int | None = None) -> np.ndarray | None:
    """Rows the scatter draws: None (all of them) up to ``limit`` (default SCATTER_MAX), else
    ``limit`` rows drawn uniformly without replacement with seed 0, sorted: shape=(limit,)."""
    limit = SCATTER_MAX if limit is None else limit
    if n <= limit:
        return None
    return np.sort(np.random.default_rng(0).choice(n, size=limit, replace=False))


def sample_note(n: int, *, limit: int | None = None) -> str:
    """The caption that says the scatter is a sample (empty when it is not)."""
    limit = SCATTER_MAX if limit is None else limit
    if n <= limit:
        return ""
    return (f"Showing a uniform random sample of {limit:,} of the {n:,} tracks (seed 0): a scatter of every "
            "point would stall the browser, and its projection would take hours. Clusters, metrics, search, "
            "the table and exports use all tracks (coordinates only for the drawn sample).")


def sample_points(Z: np.ndarray, rows: np.ndarray, method: str, dim: int) -> np.ndarray:
    """Projection of ``Z[rows]`` placed at ``rows`` of an (n, dim) float32 array, NaN elsewhere.

    Z : np.ndarray, shape=(n, d). The projection is cached on disk by
    :func:`core.projections.project` (keyed by the sample's bytes), like every projection.
    Every track keeps its row (table, search, export); :func:`drawn` leaves the NaN rows off the map.
    """
    out = np.full((len(Z), dim), np.nan, dtype=np.float32)
    bar = st.progress(0.0, text=f"Projecting a sample of {len(rows):,} points with {method}…")
    try:
        out[rows] = project(Z[rows], method=method, dim=dim, random_state=0,
                            progress=lambda d, t, m="": bar.progress(min(1.0, d / max(t, 1)),
                                                                     text=f"{method} {d}/{t} {m}"))
    finally:
        bar.empty()
    return out


def drawn(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a scatter frame that have coordinates (all of them below SCATTER_MAX points)."""
    return frame if not frame["x"].isna().any() else frame[frame["x"].notna()]


def track_choices(tracks: pd.DataFrame, ids: list[str]) -> tuple[dict[str, str], str]:
    """``("id · genre · language" -> id, note)`` for a track box over ``ids``: every track up to
    :data:`CHOICES_MAX`, else a fixed seeded sample of that many (corpus order) and a note that says so."""
    rows = scatter_rows(len(ids), limit=CHOICES_MAX)
    if rows is None:
        return tables.track_choices(tracks, ids), ""
    note = (f"The track boxes list a fixed sample of {CHOICES_MAX:,} of the {len(ids):,} tracks; type any "
            "track id into a box to choose another.")
    return tables.track_choices(tracks, [ids[i] for i in rows]), note


def chosen_track(value: str | None, choices: dict[str, str], known) -> str | None:
    """The track id a track box's ``value`` names: one of its ``choices`` (label -> id) or a track id of
    ``known`` (a set or dict) typed in; None when it names none."""
    if value is None:
        return None
    if value in choices:
        return choices[value]
    typed = str(value).strip().split(" · ")[0]
    return typed if typed in known else None


def table_rows(n: int) -> np.ndarray | None:
    """Rows the Data page's track table lists: None (all) up to :data:`TABLE_MAX`, else a fixed sample."""
    return scatter_rows(n, limit=TABLE_MAX)


def fit_note(result, n: int) -> str:
    """The note for a clustering fitted on a sample (``result.fitted_on`` points of ``n``); empty otherwise."""
    if not result.fitted_on:
        return ""
    if result.assigned == "model":
        rest = "Every track is then assigned by the fitted model (its most likely component)"
    else:
        noise = " (a track whose nearest sampled track is noise is noise)" if result.noise_fraction else ""
        rest = f"Every other track takes the cluster of its nearest sampled track{noise}"
    why = FIT_WHY.get(result.name, "too long")
    return (f"{CLUSTERERS[result.name].label} was fitted on a fixed uniform random sample of {result.fitted_on:,} of "
            f"the {n:,} tracks: on all of them it would take {why}. {rest}; the metrics use every track.")


def cluster_choices(labels: np.ndarray) -> tuple[list[int], str]:
    """``(clusters a box lists, note)``: every cluster (noise last) up to :data:`CLUSTER_CHOICES_MAX`, else the
    largest that many (most tracks first) and noise, with a note that says so. One count over the labels."""
    labels = np.asarray(labels)
    counts = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(0, dtype=np.int64)
    present = np.flatnonzero(counts)
    noise = [-1] if (labels < 0).any() else []
    if len(present) <= CLUSTER_CHOICES_MAX:
        return [int(c) for c in present] + noise, ""
    largest = present[np.argsort(-counts[present], kind="stable")[:CLUSTER_CHOICES_MAX]]
    note = f"The {CLUSTER_CHOICES_MAX} largest of the {len(present):,} clusters are listed, largest first."
    return [int(c) for c in largest] + noise, note

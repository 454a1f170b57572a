"""Tables behind the charts: scatter frames, cluster display names, chart selections, CSV downloads.

Presentation only: every number in them comes from ``core``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

__all__ = ["scatter_frame", "cluster_name", "selected_track_ids", "assignments_csv"]


def scatter_frame(
    track_ids: list[str],
    points: np.ndarray,
    tracks: pd.DataFrame,
    *,
    clusters: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per point: ``x, y[, z]``, the track's metadata and its cluster.

    Parameters
    ----------
    track_ids : list of n ids, the order of ``points``.
    points : np.ndarray (n, 2) or (n, 3) projected coordinates.
    tracks : the corpus track table (``Corpus.tracks``).
    clusters : np.ndarray (n,) of cluster labels (-1 = noise), optional.
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[0] != len(track_ids) or points.shape[1] not in (2, 3):
        raise ValueError(f"points must be (n, 2|3) with n={len(track_ids)}, got {points.shape}")
    frame = pd.DataFrame(points, columns=["x", "y", "z"][: points.shape[1]])
    meta = tracks.set_index("track_id").loc[track_ids].reset_index()
    meta = meta.drop(columns=[c for c in ("path", "lyrics") if c in meta.columns])
    frame = pd.concat([frame, meta], axis=1)
    if clusters is not None:
        frame["cluster"] = [cluster_name(c) for c in np.asarray(clusters)]
    return frame


def cluster_name(label: int) -> str:
    """Display name of a cluster label: ``"noise"`` for -1, else ``"c<label>"``."""
    return "noise" if int(label) < 0 else f"c{int(label)}"


def selected_track_ids(event: Mapping[str, Any] | None) -> list[str]:
    """Track ids of the points selected in a plotly chart event (click, box or lasso).

    The mapping goes through each point's ``customdata`` (whose first value is the
    track id), never through point indices: plotly numbers points per trace, so
    indices are wrong as soon as colouring splits the points into several traces.
    Order of first selection is kept; duplicates are dropped.
    """
    if not event:
        return []
    selection = event.get("selection") if hasattr(event, "get") else None
    if not selection:
        return []
    points = selection.get("points") or []
    ids: list[str] = []
    seen: set[str] = set()
    for point in points:
        data = point.get("customdata")
        if data is None:
            continue
        if isinstance(data, (list, tuple)):
            if not data:
                continue
            data = data[0]
        track_id = str(data)
        if track_id not in seen:
            seen.add(track_id)
            ids.append(track_id)
    return ids


def assignments_csv(frame: pd.DataFrame) -> bytes:
    """The cluster assignments (track id, cluster, labels, coordinates) as UTF-8 CSV bytes."""
    cols = [c for c in ("track_id", "cluster", "genre", "language", "source") if c in frame.columns]
    cols += [c for c in frame.columns if c not in cols]
    return frame[cols].to_csv(index=False).encode("utf-8")

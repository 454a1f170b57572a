"""The Explore page's map of every track: the WebGL map (:mod:`ui.point_map`) and what it is built from.

Where the switch is: a 2-D map of more than :data:`MAP_ABOVE` points (default 5,000; the environment
variable ``SONGSCAPE_MAP_ABOVE`` sets it, 0 for every corpus) is this map; a smaller one, and every 3-D
view, stay Plotly figures (axes, a modebar, rotation in 3-D), which draw a few thousand points quickly.

What the map is built from is cached per projection and shared by every session (``st.cache_resource``:
the same objects, never copied; nothing here or on the page changes them):

* :class:`MapBase` -- the scatter frame (coordinates and the tracks' label columns, as categories),
  a track id -> row index, and the parts the browser gets (coordinates, ids, the code of every label
  column). Built once per projection; a million tracks take a few seconds.
* :func:`cluster_column` -- the cluster of every row, as a map column and as a categorical frame column:
  a new clustering (an eps move) sends only its codes (1-2 bytes per track), not the coordinates.
* :func:`every_point` -- every track's place when the projection is of a sample (t-SNE and UMAP above
  ``ui.scale.SCATTER_MAX`` points: hours on all of them): each other track is drawn at its nearest sampled
  track in the latent space (``core.clustering.registry.nearest_sampled_labels``), with a small seeded
  jitter so that the density shows. PCA projects every track.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import streamlit as st

from core.clustering.registry import nearest_sampled_labels
from ui import explore_sources as sources
from ui import frames, scale
from ui import point_map as pm

__all__ = ["MAP_ABOVE", "MapBase", "wanted", "base", "cluster_column", "every_point", "placed_note", "rows_of",
           "draw", "projected", "key_of", "column_choices", "column_isin"]

#: 2-D maps of more points than this are drawn by the WebGL map; fewer, and 3-D, by Plotly.
MAP_ABOVE = int(os.environ.get("SONGSCAPE_MAP_ABOVE", "5000"))
#: What the tooltip lists besides the track id and the colour column.
TOOLTIP = ("genre", "language", "cluster")


def wanted(n: int, dim: int) -> bool:
    """Whether a map of ``n`` points in ``dim`` dimensions is the WebGL map."""
    return dim == 2 and n > MAP_ABOVE


@dataclass(frozen=True, eq=False)
class MapBase:
    """What a map of one projection is drawn from (all but the clustering)."""

    frame: pd.DataFrame               # x, y and the tracks' metadata; label columns as categories
    position: pd.Index                # track id -> row of frame
    xy: pm.Part
    ids: pm.Part
    columns: tuple[pm.Column, ...]    # the label columns (colour, filter, tooltip)


def base(key: str, ids: list[str], points: np.ndarray, tracks: pd.DataFrame, labels: Sequence[str]) -> MapBase:
    """The :class:`MapBase` of ``points`` (n, 2) of the tracks ``ids``; ``key`` names it (it must change
    whenever the points or the tracks do: the source, its version, the corpus, the projection)."""
    return _base(key, ids, points, tracks, tuple(labels))


@st.cache_resource(show_spinner="Preparing the map…", max_entries=6)
def _base(key: str, _ids: list[str], _points: np.ndarray, _tracks: pd.DataFrame, labels: tuple[str, ...]) -> MapBase:
    frame = frames.scatter_frame(_ids, _points, _tracks)
    columns = []
    for name in labels:
        if name in frame.columns and name not in ("x", "y", "track_id"):
            column = pm.column_of(name, frame[name])
            columns.append(column)
            if column.kind == "cat":  # the page filters and searches these: a category per value is faster
                codes = np.frombuffer(column.part.data, dtype={"u8": "u1", "u16": "<u2", "u32": "<u4"}[column.part.dtype])
                frame[name] = pd.Categorical.from_codes(codes.astype(np.int64), categories=list(column.names))
    return MapBase(frame=frame, position=pd.Index(frame["track_id"].to_numpy(dtype=object)),
                   xy=pm.array_part(np.asarray(_points, dtype=np.float32)[:, :2], "f32"), ids=pm.text_part(_ids),
                   columns=tuple(columns))


def cluster_column(labels: np.ndarray) -> tuple[pm.Column, pd.Categorical]:
    """The clustering ``labels`` (-1 = noise) as a map column and as the frame's ``cluster`` column
    (``c0``, ``c1``... and ``noise``, as :func:`ui.frames.cluster_name` names them)."""
    labels = np.ascontiguousarray(labels)
    return _cluster_column(hashlib.blake2b(labels.tobytes(), digest_size=16).hexdigest(), labels)


@st.cache_resource(show_spinner=False, max_entries=32)
def _cluster_column(digest: str, _labels: np.ndarray) -> tuple[pm.Column, pd.Categorical]:
    values, codes = np.unique(_labels, return_inverse=True)
    names = [frames.cluster_name(v) for v in values]
    return pm.category_column("cluster", codes, names), pd.Categorical.from_codes(codes, categories=names)


def every_point(key: str, Z: np.ndarray, rows: np.ndarray, sampled: np.ndarray) -> np.ndarray:
    """Coordinates of every row of ``Z`` (n, 2) from a projection ``sampled`` of the rows ``rows`` only
    (NaN elsewhere, ``ui.scale.sample_points``): a sampled row keeps its place, any other is put at its
    nearest sampled row (in ``Z``'s space) plus a seeded jitter of a fraction of the sample's spacing."""
    return _every_point(key, Z, np.asarray(rows), sampled)


@st.cache_resource(show_spinner="Placing every track beside its nearest sampled track…", max_entries=4)
def _every_point(key: str, _Z: np.ndarray, _rows: np.ndarray, _sampled: np.ndarray) -> np.ndarray:
    nearest = nearest_sampled_labels(_Z, _Z[_rows], _rows)
    out = np.asarray(_sampled, dtype=np.float32)[nearest, :2].copy()
    others = np.ones(len(_Z), dtype=bool)
    others[_rows] = False
    spread = np.nanmax(_sampled[_rows, :2], axis=0) - np.nanmin(_sampled[_rows, :2], axis=0)
    scale = 0.3 * spread / np.sqrt(max(len(_rows), 1))
    jitter = np.random.default_rng(0).standard_normal((int(others.sum()), 2)).astype(np.float32) * scale
    out[others] += jitter.astype(np.float32)
    return out


def placed_note(n: int, m: int, method: str) -> str:
    """What the page says when ``n - m`` of the ``n`` points are placed beside their nearest of ``m`` sampled."""
    method = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}.get(method, method)
    return (f"{method} of {n:,} tracks would take hours here: it lays out a fixed uniform random sample of {m:,} "
            f"(seed 0), and each of the other {n - m:,} tracks is drawn beside its nearest sampled track in the "
            "latent space. Every track is on the map; clusters, metrics, search, the table and exports use all of "
            "them (exported coordinates only for the sample). PCA places every track exactly.")


def rows_of(mapped: MapBase, track_ids: Sequence[str]) -> np.ndarray:
    """Rows of ``mapped`` of the track ids that are on it (others left out), in the order given."""
    if not len(track_ids):
        return np.zeros(0, dtype=np.int64)
    found = mapped.position.get_indexer(list(track_ids))
    return found[found >= 0]


def draw(key: str, mapped: MapBase, *, clusters: pm.Column | None, colour: str,
         highlights: dict[str, Sequence[str]], filter: tuple[str, Sequence[str]] | None = None,
         match: np.ndarray | None = None, height: int = 560, title: str | None = None,
         on_select: Callable[[np.ndarray, str], None] | None = None) -> dict:
    """Draw ``mapped`` as map ``key``: coloured by ``colour``; ``highlights`` kind -> track ids;
    ``filter`` fades the points whose value of a column is not listed; ``match`` (bool per row, or row
    numbers) fades those a search leaves out; ``on_select(rows, how)`` gets the rows a click or a lasso selects."""
    columns = list(mapped.columns) + ([clusters] if clusters is not None else [])
    marks = {kind: pm.rows_part(rows_of(mapped, ids)) for kind, ids in highlights.items() if ids}
    return pm.draw(key, xy=mapped.xy, ids=mapped.ids, columns=columns, colour=colour, n=len(mapped.frame),
                   filter=filter, match=None if match is None else pm.rows_part(
                       np.flatnonzero(match) if np.asarray(match).dtype == bool else match),
                   highlights=marks, height=height, title=title, tooltip=TOOLTIP, on_select=on_select)


def projected(source, specs: tuple[str, ...], Z: np.ndarray, method: str, dim: int, *,
              every: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """``(points, rows)``: the projection of every row of ``Z`` (rows None), or above ``ui.scale.SCATTER_MAX``
    rows of a fixed sample ``rows`` only (NaN elsewhere). With ``every`` (the WebGL map), PCA projects every
    row at any size (seconds at a million)."""
    rows = scale.scatter_rows(len(Z))
    if rows is not None and every and method == "pca":
        rows = None
    if rows is None:
        return sources.projection(source, specs, method, dim), None
    return scale.sample_points(Z, rows, method, dim), rows


def key_of(source, specs: tuple[str, ...], method: str, dim: int, part: str | None) -> str:
    """The name of one projection of one source on one corpus (what :func:`base` caches it under)."""
    return json.dumps([source.key, source.path, source.stamp, list(specs), part, method, dim])


def column_choices(series: pd.Series) -> list[str]:
    """The distinct values of a frame column as text, sorted (a category column: its categories)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return sorted(str(c) for c in series.cat.categories)
    return sorted(series.astype(str).unique().tolist())


def column_isin(series: pd.Series, values: Sequence[str]) -> np.ndarray:
    """Which rows of a frame column have one of ``values`` (compared as text)."""
    if isinstance(series.dtype, pd.CategoricalDtype) and all(isinstance(c, str) for c in series.cat.categories):
        return series.isin(list(values)).to_numpy()
    return series.astype(str).isin(list(values)).to_numpy()

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
* :func:`projected` -- every track's place: the WebGL map asks ``core.projections.project`` for all of them
  (PCA fits every point; t-SNE and UMAP above ``layout_sample`` points lay out a seeded sample and place
  every other point beside its nearest sampled points, :func:`placed_note`), the Plotly map above
  ``ui.scale.SCATTER_MAX`` points for a sample.
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

from core.metrics import distinct_codes
from core.projections import PLACE_NEIGHBOURS, PROJECTION_PARAMS
from ui import explore_sources as sources
from ui import frames, scale
from ui import point_map as pm

__all__ = ["MAP_ABOVE", "MapBase", "wanted", "base", "cluster_column", "placed_note", "rows_of",
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


@st.cache_resource(show_spinner="Preparing the map…", max_entries=4)  # ~150 MB each at a million tracks
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
    values, codes = distinct_codes(_labels.astype(np.int64, copy=False) + 1)  # noise (-1) counted as 0
    values = values - 1
    names = [frames.cluster_name(v) for v in values]
    return pm.category_column("cluster", codes, names), pd.Categorical.from_codes(codes, categories=names)


def placed_note(n: int, method: str) -> str:
    """What the WebGL map says when ``method`` laid out a sample of the ``n`` tracks and placed the others
    (``core.projections``); empty when it fitted every track (PCA, or few enough tracks)."""
    spec = PROJECTION_PARAMS.get(method, {}).get("layout_sample")
    if spec is None or n <= spec.default:
        return ""
    name = {"tsne": "t-SNE", "umap": "UMAP"}.get(method, method)
    return (f"{name} lays out a fixed uniform random sample of {spec.default:,} of the {n:,} tracks (seed 0) and "
            f"places each of the other {n - spec.default:,} beside its {PLACE_NEIGHBOURS} nearest sampled tracks in "
            "the latent space: every track is on the map, in about the place a layout of all of them would give "
            "it (hours here). PCA places every track exactly.")


def rows_of(mapped: MapBase, track_ids: Sequence[str]) -> np.ndarray:
    """Rows of ``mapped`` of the track ids that are on it (others left out), in the order given."""
    if not len(track_ids):
        return np.zeros(0, dtype=np.int64)
    found = mapped.position.get_indexer(list(track_ids))
    return found[found >= 0]


def draw(key: str, mapped: MapBase, *, clusters: pm.Column | None, colour: str,
         highlights: dict[str, Sequence[str]], filter: tuple[str, Sequence[str]] | None = None,
         match: np.ndarray | None = None, height: int = 560, title: str | None = None,
         on_select: Callable[[np.ndarray, str], None] | None = None,
         on_colour: Callable[[str], None] | None = None) -> dict:
    """Draw ``mapped`` as map ``key``: coloured by ``colour``; ``highlights`` kind -> track ids;
    ``filter`` fades the points whose value of a column is not listed; ``match`` (bool per row, or row
    numbers) fades those a search leaves out; ``on_select(rows, how)`` gets the rows a click or a lasso selects,
    ``on_colour(column)`` the column chosen in the map's legend (the map has recoloured itself already)."""
    columns = list(mapped.columns) + ([clusters] if clusters is not None else [])
    marks = {kind: pm.rows_part(rows_of(mapped, ids)) for kind, ids in highlights.items() if ids}
    return pm.draw(key, xy=mapped.xy, ids=mapped.ids, columns=columns, colour=colour, n=len(mapped.frame),
                   filter=filter, match=None if match is None else pm.rows_part(
                       np.flatnonzero(match) if np.asarray(match).dtype == bool else match),
                   highlights=marks, height=height, title=title, tooltip=TOOLTIP, on_select=on_select,
                   on_colour=on_colour)


def projected(source, specs: tuple[str, ...], Z: np.ndarray, method: str, dim: int, *,
              every: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """``(points, rows)``: with ``every`` (the WebGL map), the projection of every row of ``Z`` (rows None;
    ``core.projections.project`` places the rows its layout's sample leaves out); without, above
    ``ui.scale.SCATTER_MAX`` rows (the Plotly map), that of a fixed sample ``rows`` only (NaN elsewhere)."""
    rows = None if every else scale.scatter_rows(len(Z))
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

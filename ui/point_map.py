"""A map of every point, drawn in the browser: a Streamlit v2 component (``ui/point_map.js``, WebGL2).

Why: a Plotly scatter is re-sent whole on every rerun (a click or a lasso reruns the page), as JSON
lists of floats, and draws 100,000 points slowly. This map keeps the points in the browser:

* Every array goes over as a :class:`Part`: little-endian bytes (float32 coordinates, uint8/16/32
  category codes, uint32 row numbers; the track ids as gzip-compressed UTF-8 text), base64 in the
  component's JSON, named by a hash of its content. The page keeps, per session, the hashes it has
  already sent (:data:`SENT`); a later run names those parts by hash only, so a rerun after a click
  sends a few hundred bytes, not the map. The browser keeps the parts in a page-wide store that
  outlives reruns and remounts (least recently used dropped above 768 MB); when it lacks one (an
  interrupted run, a dropped part) it says so (the ``missing`` trigger) and the next run sends it.
* Pan, zoom, hover, colouring (categorical palette or numeric ramp), the legend's show/hide filter and
  the fading of points that a filter or a search leaves out are done in the browser.
* A click (the nearest point, found with a grid index) or a lasso (point in polygon over the grid
  cells it covers) sends back only the selected row numbers (the ``selection`` trigger), with the hash
  of the coordinates they refer to; :func:`draw` hands them to ``on_select`` only when that is the map
  drawn now.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

__all__ = ["Part", "Column", "array_part", "text_part", "rows_part", "category_column", "numeric_column",
           "column_of", "draw", "PALETTE", "RAMP", "NOISE_COLOUR", "SENT"]

_HERE = Path(__file__).resolve().parent
_COMPONENT = st.components.v2.component(
    "songscape.point_map",
    html=('<div class="pm" data-state="loading"><div class="pm-bar"><span class="pm-title"></span>'
          '<span class="pm-tools"><button data-mode="pan" class="on" title="Drag to pan, wheel to zoom, click a point '
          'to pick it">Pan</button><button data-mode="lasso" title="Draw round points to select them (or shift-drag '
          'in pan mode)">Lasso</button><button data-act="reset" title="Show every point (or double-click the map)">'
          'Reset view</button></span><span class="pm-info"></span></div><div class="pm-stage">'
          '<canvas class="pm-gl"></canvas><canvas class="pm-ink"></canvas><div class="pm-tip" hidden></div>'
          '<div class="pm-legend"></div></div></div>'),
    css=(_HERE / "point_map.css").read_text(encoding="utf-8"),
    js=(_HERE / "point_map.js").read_text(encoding="utf-8"),
)

#: The categorical palette (Plotly's Dark24, as the Plotly maps use) and the numeric ramp (Viridis).
PALETTE: tuple[str, ...] = tuple(px.colors.qualitative.Dark24)
RAMP: tuple[str, ...] = tuple(px.colors.sequential.Viridis)
NOISE_COLOUR = "#c8c8c8"
#: Session-state key: the hashes of the parts this session's browser has been sent.
SENT = "_point_map_sent"
#: Session-state key prefix: the hash of the coordinates each map (by key) was last drawn with.
_LAYOUT = "_point_map_layout:"
#: A numeric column with more distinct values than this is coloured on a ramp, else by category.
RAMP_ABOVE = 24


@dataclass(frozen=True, eq=False)
class Part:
    """One array as the browser gets it: ``dtype`` (f32, u8, u16, u32, text), raw bytes and their hash."""

    dtype: str
    data: bytes = field(repr=False)
    gzip: bool = False
    length: int = 0
    hash: str = ""

    def spec(self) -> dict:
        return {"dtype": self.dtype, "gzip": self.gzip, "b64": base64.b64encode(self.data).decode("ascii")}


def _hashed(dtype: str, data: bytes, *, compressed: bool, length: int) -> Part:
    digest = hashlib.blake2b(data, digest_size=16)
    digest.update(f"|{dtype}|{int(compressed)}".encode())
    return Part(dtype, data, compressed, length, digest.hexdigest())


def array_part(values: np.ndarray, dtype: str) -> Part:
    """``values`` as a flat little-endian array of ``dtype`` (f32, u8, u16, u32)."""
    kind = {"f32": "<f4", "u8": "u1", "u16": "<u2", "u32": "<u4"}[dtype]
    flat = np.ascontiguousarray(np.asarray(values).reshape(-1), dtype=kind)
    return _hashed(dtype, flat.tobytes(), compressed=False, length=int(flat.size))


def text_part(texts: Iterable[str]) -> Part:
    """Strings (one per row; a newline inside one becomes a space) as gzip-compressed UTF-8 text."""
    joined = "\n".join(str(t).replace("\n", " ") for t in texts).encode("utf-8")
    return _hashed("text", gzip.compress(joined, compresslevel=1, mtime=0), compressed=True,
                   length=joined.count(b"\n") + 1 if joined else 0)


def rows_part(rows: Sequence[int] | np.ndarray) -> Part:
    """Row numbers (uint32), e.g. of the points a highlight marks."""
    return array_part(np.asarray(rows, dtype=np.int64).clip(0), "u32")


@dataclass(frozen=True, eq=False)
class Column:
    """A column the map can colour by, filter on or show in its tooltip."""

    name: str
    kind: str                       # "cat" (codes into names) or "num" (float32 values)
    part: Part
    names: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 1.0

    def spec(self) -> dict:
        out = {"name": self.name, "kind": self.kind, "part": self.part.hash}
        if self.kind == "cat":
            out |= {"names": list(self.names), "colours": list(self.colours)}
        else:
            out |= {"min": self.low, "max": self.high, "ramp": list(RAMP)}
        return out


def _code_dtype(k: int) -> str:
    return "u8" if k <= 256 else "u16" if k <= 65536 else "u32"


def category_column(name: str, codes: np.ndarray, names: Sequence[str], *,
                    colours: Sequence[str] | None = None) -> Column:
    """A categorical column from ``codes`` (row -> index into ``names``); colours cycle the palette, and a
    category called ``noise`` is grey (as on the Plotly maps)."""
    names = tuple(str(n) for n in names)
    if colours is None:
        colours, k = [], 0
        for n in names:
            if n == "noise":
                colours.append(NOISE_COLOUR)
            else:
                colours.append(PALETTE[k % len(PALETTE)])
                k += 1
    return Column(name, "cat", array_part(codes, _code_dtype(len(names))), names, tuple(colours))


def numeric_column(name: str, values: np.ndarray) -> Column:
    values = np.asarray(values, dtype=np.float32)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return Column(name, "num", array_part(values, "f32"), low=low, high=high)


def column_of(name: str, values: pd.Series | np.ndarray) -> Column:
    """A column from any values: numbers with more than :data:`RAMP_ABOVE` distinct values on a ramp, the
    rest as categories in sorted order (empty values are the category ``""``)."""
    series = pd.Series(values)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series) \
            and series.nunique(dropna=True) > RAMP_ABOVE:
        return numeric_column(name, series.to_numpy(dtype=np.float32, na_value=np.nan))
    text = series.astype("string").fillna("")
    codes, uniques = pd.factorize(text, sort=True)
    return category_column(name, codes, [str(u) for u in uniques])


# ---------------------------------------------------------------------------------------- drawing
def _on_missing(key: str) -> None:
    """The browser lacks some parts: forget that they were sent, so this run sends them."""
    value = st.session_state.get(key) or {}
    missing = value.get("missing") if hasattr(value, "get") else None
    sent = st.session_state.get(SENT)
    if missing and sent is not None:
        for h in missing:
            sent.discard(str(h))


def _on_selection(key: str, on_select: Callable[[np.ndarray, str], None] | None, n: int) -> None:
    value = st.session_state.get(key) or {}
    payload = value.get("selection") if hasattr(value, "get") else None
    if not payload or on_select is None:
        return
    if payload.get("layout") != st.session_state.get(_LAYOUT + key):
        return  # rows of a map that is no longer the one drawn
    rows = np.asarray([r for r in payload.get("rows") or [] if isinstance(r, int) and 0 <= r < n], dtype=np.int64)
    on_select(rows, str(payload.get("how") or ""))


def _on_colour(key: str, on_colour: Callable[[str], None] | None) -> None:
    value = st.session_state.get(key) or {}
    name = value.get("colour") if hasattr(value, "get") else None
    if name and on_colour is not None:
        on_colour(str(name))


def draw(key: str, *, xy: Part, ids: Part, columns: Sequence[Column], colour: str, n: int,
         filter: tuple[str, Sequence[str]] | None = None, match: Part | None = None,
         highlights: dict[str, Part] | None = None, height: int = 560, title: str | None = None,
         tooltip: Sequence[str] = (), on_select: Callable[[np.ndarray, str], None] | None = None,
         on_colour: Callable[[str], None] | None = None) -> dict:
    """Draw the map ``key`` of ``n`` points.

    xy : float32 (x, y) pairs (:func:`array_part` of an (n, 2) array; NaN: not drawn).
    ids : the track id of every row (:func:`text_part`), shown on hover.
    columns : what can colour the points; ``colour`` names the one in use.
    filter : ``(column, values)``: points whose value is not among ``values`` are faded.
    match : the rows a search keeps (:func:`rows_part`); the others are faded.
    highlights : ``selected`` / ``neighbour`` / ``picked`` / ``focus`` -> rows (:func:`rows_part`).
    on_select : called, in the callback of the rerun a click or a lasso starts, with the selected rows
        (int64) and ``"click"`` or ``"lasso"``.
    on_colour : called with the column chosen in the legend's title (the map recolours at once by itself).

    Returns what was sent: ``{"bytes": size of the component's JSON, "parts": parts sent}``.
    """
    highlights = {k: v for k, v in (highlights or {}).items() if v is not None and v.length}
    parts = [xy, ids, *(c.part for c in columns), *highlights.values()] + ([match] if match is not None else [])
    sent: set[str] = st.session_state.setdefault(SENT, set())
    blobs = {}
    for part in parts:
        if part.hash not in sent and part.hash not in blobs:
            blobs[part.hash] = part.spec()
    data = {
        "key": key, "n": int(n), "xy": xy.hash, "ids": ids.hash, "colour": colour,
        "columns": [c.spec() for c in columns],
        "filter": {"column": filter[0], "values": [str(v) for v in filter[1]]} if filter and filter[1] else None,
        "match": match.hash if match is not None else None,
        "highlights": {k: v.hash for k, v in highlights.items()},
        "height": int(height), "title": title or "", "tooltip": [t for t in tooltip if t != colour],
        "blobs": blobs,
    }
    st.session_state[_LAYOUT + key] = xy.hash
    _COMPONENT(key=key, data=data, height="content",
               on_selection_change=lambda: _on_selection(key, on_select, n),
               on_colour_change=lambda: _on_colour(key, on_colour),
               on_missing_change=lambda: _on_missing(key))
    sent.update(blobs)
    size = len(json.dumps({k: v for k, v in data.items() if k != "blobs"}))
    return {"bytes": size + sum(len(b["b64"]) + 40 for b in blobs.values()), "parts": len(blobs)}


def size_text(n_bytes: int) -> str:
    """``"12.3 MB"``."""
    if n_bytes < 1024:
        return f"{n_bytes} B"
    exp = min(3, int(math.log(n_bytes, 1024)))
    return f"{n_bytes / 1024 ** exp:.1f} {['B', 'KB', 'MB', 'GB'][exp]}"

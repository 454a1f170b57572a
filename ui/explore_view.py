"""The Explore page's map with its highlights, and the paged track table.

Highlights are extra traces drawn over the coloured points, one per kind, so two maps side by
side show the same tracks highlighted (linked selection). Each highlight trace carries the track
ids in ``customdata``, like the points, and is named ``"<kind>: N"`` (the browser tests read it).
Only the highlighted points are drawn again: at 100,000 points the base scatter stays one
WebGL trace per colour and nothing here is O(n²).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ui import figures

#: kind -> (marker, legend text); drawn in this order, the focus last (on top).
HIGHLIGHTS = {
    "selected": (dict(symbol="circle", size=11, color="rgba(0,0,0,0)", line=dict(color="#ff7f0e", width=2)),
                 "selected"),
    "match": (dict(symbol="circle-open", size=14, color="#111111", line=dict(width=2)), "search/filter match"),
    "neighbour": (dict(symbol="diamond-open", size=14, color="#2ca02c", line=dict(width=2)), "nearest neighbour"),
    "picked": (dict(symbol="square-open", size=15, color="#d62728", line=dict(width=2.5)), "picked in the table"),
    # bright yellow with a black edge: a red star vanished on a genre drawn in the palette's red
    "focus": (dict(symbol="star", size=20, color="#FFE119", line=dict(color="#111111", width=1.5)), "listening"),
}


def explore_map(frame: pd.DataFrame, *, color: str, dim: int, highlights: dict[str, Sequence[str]],
                height: int = 560, title: str | None = None) -> go.Figure:
    """The coloured scatter of ``frame`` (``ui.figures.latent_scatter``) with highlight traces on top.

    highlights : kind (a key of :data:`HIGHLIGHTS`) -> track ids to mark; unknown ids are ignored.
    """
    fig = figures.latent_scatter(frame, color=color, dim=dim, height=height)
    position = pd.Series(np.arange(len(frame)), index=frame["track_id"].to_numpy())
    for kind, (marker, text) in HIGHLIGHTS.items():
        ids = [t for t in dict.fromkeys(highlights.get(kind) or []) if t in position.index]
        if not ids:
            continue
        rows = position.loc[ids].to_numpy()
        sub = frame.iloc[rows]
        common = dict(mode="markers", name=f"{kind}: {len(ids)}", legendgroup=kind, showlegend=True,
                      customdata=np.asarray(sub[["track_id"]]), hovertext=sub["track_id"], hoverinfo="text",
                      legendgrouptitle=None)
        if dim == 3:
            m3 = dict(marker, size=max(4, marker["size"] // 2))
            if m3["symbol"] == "star":  # scatter3d has no star
                m3["symbol"] = "diamond"
            fig.add_trace(go.Scatter3d(x=sub["x"], y=sub["y"], z=sub["z"], marker=m3, **common))
        else:
            fig.add_trace(go.Scattergl(x=sub["x"], y=sub["y"], marker=marker, **common))
    fig.update_layout(legend=dict(itemsizing="constant"))
    if title:
        fig.update_layout(title=dict(text=title, font=dict(size=14)), margin=dict(t=40))
    return fig


def page_of(frame: pd.DataFrame, *, page: int, size: int) -> tuple[pd.DataFrame, int, str]:
    """Rows of page ``page`` (1-based, clipped to the pages there are) of ``frame``.

    Returns ``(rows, page used, "rows a–b of n")``.
    """
    n = len(frame)
    pages = max(1, -(-n // size))
    page = int(min(max(1, page), pages))
    start = (page - 1) * size
    rows = frame.iloc[start:start + size]
    return rows, page, (f"rows {start + 1}–{start + len(rows)} of {n}" if n else "no rows")


def n_pages(n: int, size: int) -> int:
    return max(1, -(-n // size))

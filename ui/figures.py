"""Plotly figures used by the pages. Figures only: the numbers come from `core`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = px.colors.qualitative.Dark24


def latent_scatter(frame: pd.DataFrame, *, color: str, dim: int = 2, height: int = 560) -> go.Figure:
    """WebGL scatter of projected latents. Every point carries its track id in ``customdata``."""
    hover = [c for c in ("genre", "language", "cluster") if c in frame.columns and c != color]
    frame = frame.copy()
    frame[color] = frame[color].astype(str)
    hover_data = {c: True for c in hover} | {c: False for c in ("x", "y", "z") if c in frame.columns}
    kwargs = dict(color=color, custom_data=["track_id"], hover_name="track_id", hover_data=hover_data,
                  color_discrete_sequence=PALETTE, category_orders={color: sorted(frame[color].unique())})
    if "noise" in set(frame[color]):
        kwargs["color_discrete_map"] = {"noise": "#c8c8c8"}
    if dim == 3:
        fig = px.scatter_3d(frame, x="x", y="y", z="z", **kwargs)
        fig.update_traces(marker=dict(size=3))
    else:
        fig = px.scatter(frame, x="x", y="y", render_mode="webgl", **kwargs)
        fig.update_traces(marker=dict(size=7, opacity=0.85, line=dict(width=0)))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), legend_title_text=color)
    fig.update_xaxes(showticklabels=False, title=None)
    fig.update_yaxes(showticklabels=False, title=None)
    return fig


def spectrogram(mel_db: np.ndarray, *, title: str = "", height: int = 260) -> go.Figure:
    """A 128x128 log-mel (dB) as a heatmap, low frequencies at the bottom."""
    fig = go.Figure(go.Heatmap(z=mel_db, colorscale="Magma", colorbar=dict(title="dB", thickness=10)))
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=30, b=10))
    fig.update_xaxes(title="frame", showticklabels=False)
    fig.update_yaxes(title="mel band", showticklabels=False)
    return fig


def spectrogram_pair(original: np.ndarray, reconstruction: np.ndarray, *, height: int = 260) -> go.Figure:
    """Original and reconstructed log-mel side by side, on one colour scale."""
    lo = float(min(original.min(), reconstruction.min()))
    hi = float(max(original.max(), reconstruction.max()))
    fig = make_subplots(rows=1, cols=2, subplot_titles=("original", "reconstruction"), horizontal_spacing=0.04)
    for col, z in ((1, original), (2, reconstruction)):
        fig.add_trace(go.Heatmap(z=z, zmin=lo, zmax=hi, colorscale="Magma", showscale=col == 2,
                                 colorbar=dict(title="dB", thickness=10)), row=1, col=col)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10))
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return fig


def heatmap(table: pd.DataFrame, *, title: str, fmt: str = ".2f", height: int | None = None) -> go.Figure:
    """Annotated heatmap of a (clusters x classes) table."""
    fig = px.imshow(table.values, x=[str(c) for c in table.columns], y=[str(i) for i in table.index],
                    color_continuous_scale="Blues", aspect="auto", text_auto=fmt, zmin=0)
    fig.update_layout(title=title, height=height or max(260, 28 * len(table) + 80),
                      margin=dict(l=10, r=10, t=40, b=10), coloraxis_showscale=False)
    return fig


def loss_curves(epochs: pd.DataFrame, *, height: int = 300) -> go.Figure:
    """Training curves: total, reconstruction and KL (train solid, validation dashed)."""
    fig = go.Figure()
    for i, key in enumerate(("loss", "recon", "kl")):
        color = PALETTE[i]
        if key in epochs:
            fig.add_trace(go.Scatter(x=epochs["epoch"], y=epochs[key], name=key, line=dict(color=color)))
        if f"val_{key}" in epochs:
            fig.add_trace(go.Scatter(x=epochs["epoch"], y=epochs[f"val_{key}"], name=f"val {key}",
                                     line=dict(color=color, dash="dash")))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="epoch",
                      yaxis_title="loss per sample", legend=dict(orientation="h"))
    return fig


def kl_bars(kl_per_dim, *, height: int = 260, title: str = "KL per latent dimension") -> go.Figure:
    """Mean KL of each latent dimension: dimensions near 0 carry no information."""
    kl = np.asarray(kl_per_dim, dtype=float)
    fig = go.Figure(go.Bar(x=[f"z{i}" for i in range(len(kl))], y=kl, marker_color=PALETTE[2]))
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10), yaxis_title="nats")
    return fig


def line(frame: pd.DataFrame, *, x: str, y: str, title: str = "", height: int = 260, **kwargs) -> go.Figure:
    fig = px.line(frame, x=x, y=y, markers=True, **kwargs)
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def bars(frame: pd.DataFrame, *, x: str, y: str, color: str | None = None, error_y: str | None = None,
         title: str = "", height: int = 320) -> go.Figure:
    fig = px.bar(frame, x=x, y=y, color=color, error_y=error_y, barmode="group", color_discrete_sequence=PALETTE)
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10))
    return fig

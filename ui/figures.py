"""Plotly figures used by the pages. Figures only: the numbers come from `core`."""

from __future__ import annotations

import librosa
import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.features.mel import MelParams
from ui.frames import cluster_name

PALETTE = px.colors.qualitative.Dark24


def latent_scatter(frame: pd.DataFrame, *, color: str, dim: int = 2, height: int = 560) -> go.Figure:
    """WebGL scatter of projected latents. Every point carries its track id in ``customdata``."""
    hover = [c for c in ("genre", "language", "cluster") if c in frame.columns and c != color]
    frame = frame.copy()
    hover_data = {c: True for c in hover} | {c: False for c in ("x", "y", "z") if c in frame.columns}
    kwargs = dict(color=color, custom_data=["track_id"], hover_name="track_id", hover_data=hover_data)
    measured = (color != "cluster" and pd.api.types.is_numeric_dtype(frame[color])
                and not pd.api.types.is_bool_dtype(frame[color]))
    if measured:  # a number per track (a year, a length): a colour ramp, as the WebGL map draws it
        kwargs["color_continuous_scale"] = "Viridis"
    else:
        frame[color] = frame[color].astype(str)
        kwargs |= dict(color_discrete_sequence=PALETTE, category_orders={color: sorted(frame[color].unique())})
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


def mel_axes(n_mels: int, n_frames: int, params: MelParams | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(band centre frequencies in Hz (n_mels,), frame times in s (n_frames,))`` of a log-mel image.

    Times are relative to the start of the analysed window (hop / sr apart)."""
    params = params or MelParams()
    fmax = params.fmax if params.fmax is not None else params.sr / 2
    hz = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=params.fmin, fmax=fmax)[1:-1]
    seconds = np.arange(n_frames) * params.hop_length / params.sr
    return hz, seconds


def _hz_ticks(hz: np.ndarray) -> tuple[list[int], list[str]]:
    """Band indices nearest round frequencies, for the y axis of a mel image."""
    wanted = [f for f in (100, 250, 500, 1000, 2000, 4000, 8000, 16000) if hz[0] <= f <= hz[-1]]
    vals = [int(np.argmin(np.abs(hz - f))) for f in wanted]
    return vals, [f"{f // 1000}k" if f >= 1000 else str(f) for f in wanted]


def _mel_trace(mel_db: np.ndarray, params: MelParams | None, **kwargs) -> go.Heatmap:
    hz, seconds = mel_axes(*mel_db.shape, params)
    return go.Heatmap(z=mel_db, x=seconds, y=np.arange(mel_db.shape[0]), colorscale="Magma",
                      customdata=np.repeat(hz[:, None], mel_db.shape[1], axis=1),
                      hovertemplate="%{x:.2f} s · %{customdata:.0f} Hz · %{z:.1f} dB<extra></extra>", **kwargs)


def _mel_layout(fig: go.Figure, mel_db: np.ndarray, params: MelParams | None, **axis) -> None:
    hz, _ = mel_axes(*mel_db.shape, params)
    vals, text = _hz_ticks(hz)
    # automargin: the fixed 10-px margins left no room, so the tick labels were cut off and each axis
    # title lay over its ticks (the y title over the image)
    fig.update_xaxes(title_text="time (s)", automargin=True, title_standoff=6, **axis)
    fig.update_yaxes(title_text="frequency (Hz, mel scale)", tickvals=vals, ticktext=text, automargin=True,
                     title_standoff=6, **axis)


#: Headroom above 0 dB of a full-scale ("power") log-mel's colour range: a full-scale sine sits near
#: 0 dB and loud, dense mixes (and reconstructions) reach a few dB above it.
POWER_HEADROOM_DB = 10.0


def db_scale(params: MelParams | None) -> tuple[float, float, str]:
    """``(zmin, zmax, colour-bar title)`` of a log-mel made with ``params`` (None: the defaults).

    "peak" mels lie in [-top_db, 0] dB re. the window's loudest bin; "power" mels (the spectrogram
    VAEs' whole clips) in dB re. full-scale power, floored at -top_db (-100 dB), up to about +10 dB.
    The range is fixed by the parameters, not by the image: two images on the same parameters compare."""
    params = params or MelParams()
    if params.reference == "power":
        return -float(params.top_db), POWER_HEADROOM_DB, "dB re. full scale"
    return -float(params.top_db), 0.0, "dB re. loudest bin"


def _colorbar(title: str) -> dict:
    return dict(title=dict(text=title, side="right"), thickness=10)


def spectrogram(mel_db: np.ndarray, *, title: str = "", height: int = 280, params: MelParams | None = None) -> go.Figure:
    """A log-mel (dB, ``(n_mels, n_frames)``) as a heatmap: time in s, mel bands labelled in Hz, low at the bottom;
    colours on the fixed dB range of ``params.reference`` (:func:`db_scale`).

    Show it with ``st.plotly_chart(..., theme=None)``: Streamlit's theme replaces Magma's first stop."""
    lo, hi, label = db_scale(params)
    fig = go.Figure(_mel_trace(mel_db, params, zmin=lo, zmax=hi, colorbar=_colorbar(label)))
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40 if title else 20, b=10))
    _mel_layout(fig, mel_db, params)
    return fig


def spectrogram_pair(original: np.ndarray, reconstruction: np.ndarray, *, height: int = 280,
                     params: MelParams | None = None) -> go.Figure:
    """Original and reconstructed log-mel of the same excerpt side by side, on ONE colour scale (the fixed
    range of ``params``, :func:`db_scale`) with one colour bar, so they compare (show with ``theme=None``)."""
    lo, hi, label = db_scale(params)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("original", "reconstruction"), horizontal_spacing=0.06,
                        shared_yaxes=True)
    for col, z in ((1, original), (2, reconstruction)):
        fig.add_trace(_mel_trace(z, params, zmin=lo, zmax=hi, showscale=col == 2, colorbar=_colorbar(label)),
                      row=1, col=col)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10))
    _mel_layout(fig, original, params)
    fig.update_yaxes(title_text=None, col=2)
    return fig


def _text_colours(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Dark text on pale cells, white on dark ones (the Blues scale is dark past ~55%)."""
    share = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values, dtype=float)
    return np.where(share > 0.55, "white", "#1f2937")


def heatmap(table: pd.DataFrame, *, title: str, fmt: str = ".2f", height: int | None = None,
            x_title: str = "", y_title: str = "cluster") -> go.Figure:
    """Annotated heatmap of a (clusters x classes) table.

    Rows are categories (never a numeric axis): integer cluster labels are shown as
    ``c0, c1, ...`` and ``-1`` as ``noise``, the names used everywhere else. Each number
    sits in its cell, dark on pale cells and white on dark ones."""
    values = table.to_numpy(dtype=float)
    rows = [cluster_name(i) if isinstance(i, (int, np.integer)) else str(i) for i in table.index]
    cols = [str(c) for c in table.columns]
    lo, hi = (0.0, float(np.nanmax(values))) if values.size else (0.0, 1.0)
    text = [[format(v, fmt) if fmt != "d" else str(int(v)) for v in row] for row in values]
    fig = go.Figure(go.Heatmap(z=values, x=cols, y=rows, colorscale="Blues", zmin=lo, zmax=hi, showscale=False,
                               xgap=1, ygap=1, hovertemplate=f"{y_title} %{{y}} · {x_title} %{{x}}: %{{z}}<extra></extra>"))
    colours = _text_colours(values, lo, hi)
    # The numbers are text traces over the cells, one per text colour, not a layout annotation per cell:
    # Plotly validates every annotation object (and every colour of a per-point list), 0.6 s for the three
    # 31-row heatmaps of a page.
    for colour in np.unique(colours):
        at = np.argwhere(colours == colour)
        fig.add_trace(go.Scatter(x=[cols[j] for _, j in at], y=[rows[i] for i, _ in at], mode="text",
                                 text=[text[i][j] for i, j in at], textfont=dict(color=str(colour), size=12),
                                 hoverinfo="skip", showlegend=False))
    fig.update_xaxes(type="category", title_text=x_title, side="bottom", automargin=True)
    fig.update_yaxes(type="category", title_text=y_title, autorange="reversed", automargin=True)
    fig.update_layout(title=title, height=height or max(300, 34 * len(table) + 140),
                      margin=dict(l=60, r=10, t=50, b=50), plot_bgcolor="white")
    return fig


def loss_curves(epochs: pd.DataFrame, *, height: int = 320, log_y: bool = False) -> go.Figure:
    """Training curves: total, reconstruction and KL (train solid, validation dashed); legend above the plot; the
    refinement stage shaded where the run had one."""
    fig = go.Figure()
    for i, key in enumerate(("loss", "recon", "kl")):
        color = PALETTE[i]
        if key in epochs:
            fig.add_trace(go.Scatter(x=epochs["epoch"], y=epochs[key], name=key, line=dict(color=color)))
        if f"val_{key}" in epochs:
            fig.add_trace(go.Scatter(x=epochs["epoch"], y=epochs[f"val_{key}"], name=f"val {key}",
                                     line=dict(color=color, dash="dash")))
    if "stage" in epochs and (epochs["stage"] == "refine").any():
        # the refinement trains only the temporal latent and the decoder: the loss steps down where it starts
        refine = epochs.loc[epochs["stage"] == "refine", "epoch"]
        fig.add_vrect(x0=refine.min() - 0.5, x1=refine.max() + 0.5, fillcolor="#888", opacity=0.12, line_width=0,
                      annotation_text="refinement: temporal latent and decoder", annotation_position="top left")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), xaxis_title="epoch",
                      yaxis_title="loss per sample" + (" (log)" if log_y else ""),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0))
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def k_distance(kdist: np.ndarray, *, k: int, suggested: float, eps: float, height: int = 300,
               max_points: int = 2000) -> go.Figure:
    """Sorted distances to the k-th neighbour, the suggested eps and the chosen eps as labelled lines.

    The labels sit at the left end of their lines, above them, on a white box: the curve
    rises at the right, so they never cover it. Above ``max_points`` points the curve is drawn
    through that many evenly spaced ranks (the first and last included): a sorted curve loses
    nothing visible, and a million points would send megabytes to the browser on every move."""
    kdist = np.asarray(kdist)
    x = np.arange(len(kdist))
    if len(kdist) > max_points:
        x = np.unique(np.linspace(0, len(kdist) - 1, max_points).astype(np.int64))
    fig = go.Figure(go.Scatter(x=x, y=kdist[x], mode="lines", name=f"distance to neighbour {k}",
                               line=dict(color=PALETTE[0])))
    for y, text, style in ((suggested, f"suggested eps {suggested:.3f}", dict(dash="dash", color="#555")),
                           (eps, f"eps {eps:.3f}", dict(dash="dot", color="#d62728"))):
        fig.add_hline(y=y, line=style)
        fig.add_annotation(x=0, xref="x domain", y=y, yanchor="bottom" if y >= suggested else "top", xanchor="left",
                           text=text, showarrow=False, bgcolor="rgba(255,255,255,0.85)", font=dict(color=style["color"]))
    fig.update_layout(title="k-distance (choosing eps)", height=height, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis_title="points, sorted by distance", yaxis_title=f"distance to neighbour {k}",
                      showlegend=False)
    return fig


def kl_bars(kl_per_dim, *, height: int = 260, title: str = "KL per latent dimension",
            names: list[str] | None = None) -> go.Figure:
    """Mean KL of each latent dimension (``names``: default ``z0 …``): dimensions near 0 carry no information."""
    kl = np.asarray(kl_per_dim, dtype=float)
    names = names if names is not None and len(names) == len(kl) else [f"z{i}" for i in range(len(kl))]
    fig = go.Figure(go.Bar(x=names, y=kl, marker_color=PALETTE[2]))
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10), yaxis_title="nats")
    return fig


def information_heatmap(information: pd.DataFrame, *, blocks=(), height: int | None = None) -> go.Figure:
    """Labels × latent dimensions: each cell the share of the label's entropy that one dimension carries
    (``core.information.dimension_information``); thin lines mark where one latent block ends."""
    table = information.T
    fig = go.Figure(go.Heatmap(z=table.to_numpy(dtype=float), x=list(table.columns), y=list(table.index),
                               colorscale="Blues", zmin=0.0, zmax=max(0.05, float(np.nanmax(table.to_numpy()))),
                               xgap=1, ygap=2, colorbar=dict(title=dict(text="I(z; label) / H(label)", side="right"), thickness=12,
                                             len=1.0),
                               hovertemplate="%{x} · %{y}: %{z:.3f}<extra></extra>"))
    for block in blocks[1:]:
        fig.add_vline(x=block.start - 0.5, line_width=2, line_color="#374151")
    fig.update_xaxes(type="category", title_text="latent dimension", tickangle=-90, automargin=True)
    fig.update_yaxes(type="category", title_text="label", automargin=True, autorange="reversed")
    # the rotated dimension names need about 90 px below the cells, whatever the number of labels
    fig.update_layout(height=height or 200 + 40 * len(table), margin=dict(l=60, r=10, t=30, b=40),
                      plot_bgcolor="white")
    return fig


def line(frame: pd.DataFrame, *, x: str, y: str, title: str = "", height: int = 260, log_x: bool = False,
         **kwargs) -> go.Figure:
    """A line per ``color`` group, sorted along x. On a log x axis the ticks are the data's own x values."""
    frame = frame.sort_values(x)
    fig = px.line(frame, x=x, y=y, markers=True, log_x=log_x, **kwargs)
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10))
    if log_x:
        ticks = sorted(frame[x].dropna().unique())
        fig.update_xaxes(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks], tickangle=0)
    return fig


def bars(frame: pd.DataFrame, *, x: str, y: str, color: str | None = None, error_y: str | None = None,
         title: str = "", height: int = 340, y_title: str | None = None) -> go.Figure:
    """Grouped bars. Each (x, color) pair must be one row: plotly would stack duplicates into one bar."""
    keys = [x] + ([color] if color else [])
    if frame.duplicated(subset=keys).any():
        raise ValueError(f"bars: several rows per {keys}; give each its own colour (a sum would be shown)")
    fig = px.bar(frame, x=x, y=y, color=color, error_y=error_y, barmode="group", color_discrete_sequence=PALETTE)
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10))
    if y_title:
        fig.update_yaxes(title_text=y_title)
    return fig

"""Large collections in the dashboard: the Explore scatter above SCATTER_MAX points, and the Dask setting.

* :func:`scatter_rows` / :func:`sample_points` / :func:`drawn` -- above :data:`SCATTER_MAX` points
  (a million generated latents, say) the Explore page projects and draws a seeded uniform
  sample of SCATTER_MAX points, and says so (:func:`sample_note`): t-SNE of a million
  points would take hours here, and a million WebGL markers (about 100 MB of JSON) would
  stall the browser. Clustering, search, the table and exports still list every track
  (exported coordinates are empty outside the sample).
* :func:`cluster_setting` / :func:`encode_button` -- the Data page's Dask cluster
  (``local:N`` or ``tcp://HOST:PORT``, :mod:`core.distributed`) for extraction and
  encoding, with progress over the whole cluster.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.distributed import parse_cluster
from core.errors import BadInputError
from core.latents import encode_corpus
from core.projections import project
from ui import state

__all__ = ["SCATTER_MAX", "scatter_rows", "sample_note", "sample_points", "drawn", "cluster_setting", "encode_button"]

#: Most points the Explore scatter draws (100,000 WebGL points render in under a second).
SCATTER_MAX = 100_000
CLUSTER = "dask_cluster"


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


def cluster_setting() -> str | None:
    """A text box for the Dask cluster of extraction and encoding; the valid value, or None (this machine)."""
    text = st.text_input(
        "Dask cluster (optional)", st.session_state.get(CLUSTER, ""), key="dask_cluster_text",
        placeholder="local:2  or  tcp://10.0.0.5:8786",
        help="Empty: this machine's process pool. local:N starts N Dask workers here; tcp://HOST:PORT sends the "
             "work to a running `dask scheduler` whose workers see the audio at the same paths.").strip()
    if not text:
        st.session_state[CLUSTER] = ""
        return None
    try:
        parse_cluster(text)
    except BadInputError as exc:
        st.error(str(exc))
        return None
    st.session_state[CLUSTER] = text
    return text


def encode_button(corpus, entry, cluster: str | None) -> None:
    """A button that encodes the corpus with the checkpoint in use (on ``cluster`` when set), with progress.

    The latents land in the on-disk cache that every page reads, so the Explore and
    Clusters pages then open without encoding.
    """
    if entry is None or not st.button(f"Encode the corpus with **{entry.name}**"
                                      + (f" on `{cluster}`" if cluster else "")):
        return
    bar = st.progress(0.0, text="encoding")
    try:
        ids, Z = encode_corpus(state.model(str(entry.path), entry.stamp), corpus, cluster=cluster,
                               progress=lambda d, t, m="": bar.progress(min(1.0, d / max(t, 1)),
                                                                        text=f"encoding {d:,}/{t:,} {m}"))
    except BadInputError as exc:
        bar.empty()
        st.error(str(exc))
        return
    bar.progress(1.0, text=f"encoded {len(ids):,} of {len(corpus):,} tracks ({Z.shape[1]}-d latents)")

"""Large collections in the dashboard: the Explore scatter above SCATTER_MAX points, and the Dask setting.

* :func:`scatter_rows` / :func:`sampled_projection` -- above :data:`SCATTER_MAX` points
  (a million generated latents, say) the Explore page projects and draws a seeded uniform
  sample of SCATTER_MAX points, and says so (:func:`sample_note`): t-SNE of a million
  points would take hours here, and a million WebGL markers (about 100 MB of JSON) would
  stall the browser. Clustering, search and the tables still use every point.
* :func:`cluster_setting` / :func:`encode_button` -- the Data page's Dask cluster
  (``local:N`` or ``tcp://HOST:PORT``, :mod:`core.distributed`) for extraction and
  encoding, with progress over the whole cluster.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.distributed import parse_cluster
from core.errors import BadInputError
from core.latents import encode_corpus
from core.projections import project
from ui import state

__all__ = ["SCATTER_MAX", "scatter_rows", "sample_note", "sampled_projection", "cluster_setting", "encode_button"]

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
            "point would stall the browser, and its projection would take hours. Clusters, metrics and "
            "exports use all tracks.")


@st.cache_data(show_spinner=False, max_entries=8)
def sampled_projection(path: str, stamp: float, specs: tuple[str, ...], method: str, dim: int) -> np.ndarray:
    """The projection of the :func:`scatter_rows` sample of the latents, shape=(SCATTER_MAX, dim)
    (cached on disk by :func:`core.projections.project`, like every projection)."""
    _, Z = state.latents(path, stamp, specs)
    rows = scatter_rows(len(Z))
    Z = Z if rows is None else Z[rows]
    bar = st.progress(0.0, text=f"Projecting a sample of {len(Z):,} points with {method}…")
    try:
        return project(Z, method=method, dim=dim, random_state=0,
                       progress=lambda d, t, m="": bar.progress(min(1.0, d / max(t, 1)), text=f"{method} {d}/{t} {m}"))
    finally:
        bar.empty()


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

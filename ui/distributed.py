"""The Data page's Dask cluster: the box that names it and the button that encodes the corpus on it.

A cluster is ``local:N`` (N Dask workers on this machine) or ``tcp://HOST:PORT`` (a running ``dask
scheduler``), :mod:`core.distributed`; feature extraction and encoding then run over the whole cluster, with
progress.
"""

from __future__ import annotations

import streamlit as st

from core.distributed import parse_cluster
from core.errors import BadInputError
from core.latents import band_levels_of, encode_corpus, reader
from ui import caches

__all__ = ["cluster_setting", "encode_button", "encode_with_progress"]

CLUSTER = "dask_cluster"


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
    encode_with_progress(corpus, entry, cluster)


def encode_with_progress(corpus, entry, cluster: str | None = None) -> str | None:
    """Encode ``corpus`` with checkpoint ``entry`` (on ``cluster`` when set) under a progress bar; what was
    encoded, in words, or None when a bad input stopped it (said in an error box)."""
    bar = st.progress(0.0, text="encoding")
    try:
        progress = (lambda d, t, m="": bar.progress(min(1.0, d / max(t, 1)), text=f"encoding {d:,}/{t:,} {m}"))
        # the band levels the pages will read this corpus with, measured on the cluster too
        model = reader(caches.model(str(entry.path), entry.stamp), corpus, cluster=cluster, progress=progress)
        ids, Z = encode_corpus(model, corpus, cluster=cluster, progress=progress)
    except BadInputError as exc:
        bar.empty()
        st.error(str(exc))
        return None
    levels = ", with the collection's own band levels" if band_levels_of(model) == "collection" else ""
    done = f"encoded {len(ids):,} of {len(corpus):,} tracks with {entry.name} ({Z.shape[1]}-d latents{levels})"
    bar.progress(1.0, text=done)
    return done

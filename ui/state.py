"""The session's choices: the corpus, checkpoint, latent part and clustering in use, kept in st.session_state.

Pages read what is in use here (and stop with a message when nothing usable is: :func:`active`,
:func:`encoded`); the caches behind them are :mod:`ui.caches`'s, the sidebar that changes the choices is
:mod:`ui.sidebar`'s.
"""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from core import shelf, workspace
from core.blocks import MIN_PAIRED, parts
from core.clustering import CLUSTERERS, ClusterResult
from core.errors import BadInputError
from ui import caches
from ui.caches import corpus, eps_choice, latents, model

SPECS = "corpus_specs"
CHECKPOINT = "checkpoint"
CLUSTERING = "clustering"
#: The latent part the user chose in the sidebar (a model with audio and lyrics: "joint" by default).
PART = "latent_part"
#: Short names of the latent parts in the sidebar (PARTS holds what each means).
PART_LABELS = {"joint": "audio + lyrics, joint", "balanced": "audio + lyrics, balanced", "audio": "audio only (track level)",
               "lyrics": "lyrics only", "all": "all dimensions as encoded"}
#: The projection before the user has chosen one on Explore.
DEFAULT_PROJECTION = "tsne"


def current_specs() -> tuple[str, ...]:
    return tuple(st.session_state.get(SPECS, workspace.default_specs()))


def current_corpus():
    return corpus(current_specs())


def keep(widget_key: str, value) -> None:
    """Keep a widget's value beside it: Streamlit drops a widget's own key when the user leaves its page, and
    a choice such as Explore's projection or colour should be there on return (and for other pages to read)."""
    st.session_state[f"{widget_key}_kept"] = value


def kept(widget_key: str, default=None):
    """The value :func:`keep` kept for ``widget_key`` (``default`` before any)."""
    value = st.session_state.get(f"{widget_key}_kept")
    return default if value is None else value


def projection() -> str:
    """The projection the user chose last on Explore (:data:`DEFAULT_PROJECTION` before any choice)."""
    return kept("explore_method", DEFAULT_PROJECTION)


def current_checkpoint() -> shelf.CheckpointEntry | None:
    entries = shelf.list_checkpoints()
    if not entries:
        return None
    wanted = st.session_state.get(CHECKPOINT)
    for e in entries:
        if str(e.path) == wanted:
            return e
    return shelf.first_checkpoint(entries, current_corpus())  # a feature table: the Basic VAE


def use_checkpoint(path: str) -> None:
    """Make ``path`` the checkpoint in use. A widget callback (``on_click``): it runs before the
    sidebar's checkpoint selectbox is drawn, the only time its value may be set."""
    st.session_state[CHECKPOINT] = str(path)


def part_for(path: str, stamp: float) -> str:
    """The part chosen in the sidebar when this checkpoint offers it, else the checkpoint's default."""
    offered = parts(model(path, stamp).latent_blocks())
    chosen = st.session_state.get(PART)
    return chosen if chosen in offered else offered[0]


def part_summary(path: str, stamp: float, width: int, specs: tuple[str, ...] | None = None) -> str:
    """``"latent size 56 · audio + lyrics, joint (48 dims)"``: what a page clusters, in words; with the
    corpus ``specs``, it says when no track has lyrics (every lyrics block is then the prior)."""
    loaded = model(path, stamp)
    offered = parts(loaded.latent_blocks())
    if len(offered) < 2:
        return f"latent size {width}"
    text = f"latent size {loaded.latent_dim} · {PART_LABELS[part_for(path, stamp)]} ({width} dims)"
    if specs is None or "lyrics" not in offered:
        return text
    with_lyrics = corpus(specs).lyrics_count
    if not with_lyrics:
        text += " · no track here has lyrics, so the audio alone places the tracks"
    elif part_for(path, stamp) == "joint" and with_lyrics < MIN_PAIRED:
        text += (f" · only {with_lyrics} tracks here have lyrics, too few to relate the audio to them "
                 f"({MIN_PAIRED} needed), so the joint part is the balanced one")
    return text


def loaded_model(entry):
    """The model of checkpoint ``entry``, or stops the page with a clean message when it cannot load."""
    try:
        return model(str(entry.path), entry.stamp)
    except BadInputError as exc:
        st.error(f"The **{entry.name}** checkpoint cannot be loaded: {exc}. Choose another checkpoint in the sidebar.")
        st.stop()


def active():
    """(corpus, checkpoint entry) in use, or stops the page with a helpful message."""
    entry = current_checkpoint()
    if entry is None:
        st.info("No checkpoint yet. Train one on the **Train** page (the Basic VAE takes seconds).")
        st.stop()
    return current_corpus(), entry


def encoded(entry, specs: tuple[str, ...], *, part: str | None = None) -> tuple[list[str], np.ndarray]:
    """The latents of the corpus under ``entry`` (``part``: default the sidebar's; ``"all"``: every dimension
    as encoded), or stops the page saying why there are none."""
    try:
        path = str(entry.path)
        ids, Z = latents(path, entry.stamp, specs, part or part_for(path, entry.stamp))
    except BadInputError as exc:
        st.error(f"The **{entry.name}** checkpoint cannot encode this corpus: {exc}")
        st.stop()
    if len(ids) < 5:
        corpus_ = corpus(specs)
        why = ("this corpus has no audio (a feature table), and this model needs spectrograms"
               if not corpus_.has_audio else "its tracks could not be turned into this model's inputs")
        st.error(f"The **{entry.name}** checkpoint encodes only {len(ids)} of {len(corpus_)} tracks: {why}. "
                 "Choose another checkpoint in the sidebar (the Basic VAE works on the 57 features).")
        st.stop()
    return ids, Z


def clustering_context(entry, specs: tuple[str, ...]) -> str:
    """What a clustering was tuned for: the checkpoint (and its version) and the corpus."""
    return json.dumps([str(entry.path), entry.stamp, list(specs), part_for(str(entry.path), entry.stamp)])


def clustering_choice(corpus) -> tuple[str, dict]:
    """The clustering in use (set on the Clusters page); K-Means with k = number of genres by default.

    Parameters tuned for another checkpoint or corpus (an eps means nothing elsewhere) are
    not carried over: the algorithm is kept and its parameters start again from their
    defaults (DBSCAN: the suggested eps of the new latents)."""
    choice = st.session_state.get(CLUSTERING)
    if choice and not clustering_stale():
        return choice["name"], dict(choice["params"])
    if choice and choice["name"] in CLUSTERERS and choice["name"] != "kmeans":
        return choice["name"], default_clustering_params(choice["name"], corpus)
    return "kmeans", {"n_clusters": default_k(corpus)}


def clustering_stale() -> bool:
    """Whether the stored clustering was tuned for another checkpoint or corpus than the current ones."""
    choice = st.session_state.get(CLUSTERING)
    entry = current_checkpoint()
    if not choice or choice.get("context") is None or entry is None:
        return False
    return choice["context"] != clustering_context(entry, current_specs())


def default_clustering_params(name: str, corpus) -> dict:
    """Starting parameters of clusterer ``name`` on the current latents (DBSCAN: ``core.clustering.choose_eps``)."""
    params = CLUSTERERS[name].default_params()
    for key in ("n_clusters", "n_components"):
        if key in params:
            params[key] = default_k(corpus)
    entry = current_checkpoint()
    if name == "dbscan" and entry is not None:
        path = str(entry.path)
        choice = eps_choice(path, entry.stamp, current_specs(), part_for(path, entry.stamp), int(params["min_samples"]))
        params["eps"] = CLUSTERERS[name].params["eps"].clip(choice.eps)
    return params


def default_k(corpus) -> int:
    """Number of clusters to start from: the number of genres, at least the fewest ``n_clusters`` takes
    (its spec in ``core.params``)."""
    fewest = CLUSTERERS["kmeans"].params["n_clusters"].low
    return int(max(fewest, corpus.tracks["genre"].replace("", np.nan).nunique()))


def set_clustering(name: str, params: dict, *, context: str | None = None) -> None:
    st.session_state[CLUSTERING] = {"name": name, "params": dict(params), "context": context}


def clustered(entry, specs: tuple[str, ...], name: str, params: dict) -> tuple[ClusterResult, dict]:
    """``core.scoring.cluster_and_score`` of the current latents: the clustering and its metrics against
    every label column (fast: cached latents and the shared neighbour index; never retrains or reprojects)."""
    return clustering(entry, specs, name, params), clustering_report(entry, specs, name, params)


def clustering(entry, specs: tuple[str, ...], name: str, params: dict) -> ClusterResult:
    """The clustering of :func:`clustered` alone (its first step)."""
    path = str(entry.path)
    return caches.clustering(path, entry.stamp, specs, name, json.dumps(params, sort_keys=True),
                             part_for(path, entry.stamp))


def clustering_report(entry, specs: tuple[str, ...], name: str, params: dict) -> dict:
    """The metrics of :func:`clustering` (the second step of :func:`clustered`)."""
    path = str(entry.path)
    return caches.clustering_report(path, entry.stamp, specs, name, json.dumps(params, sort_keys=True),
                                    part_for(path, entry.stamp))

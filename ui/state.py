"""Session state and caches.

`st.cache_resource` holds the corpus and models (shared objects); `st.cache_data`
holds arrays (latents, projections, cluster labels). Cache keys are plain strings
and numbers: the corpus specs and the checkpoint path plus its modification time.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading

import numpy as np
import pandas as pd
import streamlit as st

from core import checkpoint, explore, model_scores, scoring, shelf, warmup, workspace
from core.clustering import CLUSTERERS, ClusterResult, EpsChoice, NeighbourIndex, choose_eps
from core.errors import BadInputError
from core import information
from core.blocks import PARTS, column_names, parts
from core.latents import encode_corpus, latent_part
from core.jobs import Job
from core.projections import project
from core.reconstruction import corpus_reconstruction_measures

SPECS = "corpus_specs"
CHECKPOINT = "checkpoint"
CLUSTERING = "clustering"
#: The latent part the user chose in the sidebar (a multimodal model's default: "balanced").
PART = "latent_part"


@contextlib.contextmanager
def _progress_bar(text: str):
    """A progress bar for the block: yields the ``progress(done, total, message)`` callback, removed after."""
    bar = st.progress(0.0, text=text)

    def update(done: int, total: int, message: str = "") -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{text} {done}/{total} {message}".strip())

    try:
        yield update
    finally:
        bar.empty()


# ------------------------------------------------------------------ corpus
@st.cache_resource(show_spinner=False, max_entries=4)
def corpus(specs: tuple[str, ...]):
    with _progress_bar("Preparing the corpus…") as update:
        return workspace.load_corpus(specs, progress=update)


def current_specs() -> tuple[str, ...]:
    return tuple(st.session_state.get(SPECS, workspace.default_specs()))


def current_corpus():
    return corpus(current_specs())


# -------------------------------------------------------------- checkpoints
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


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def model(path: str, stamp: float):
    return checkpoint.load(path)


@st.cache_data(show_spinner=False, max_entries=16)
def encoded_latents(path: str, stamp: float, specs: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    """Every latent dimension as the model encodes it (what decoding and the Latent page read)."""
    with _progress_bar("Encoding the corpus…") as update:
        return encode_corpus(model(path, stamp), corpus(specs), progress=update)


@st.cache_data(show_spinner=False, max_entries=32)
def latents(path: str, stamp: float, specs: tuple[str, ...], part: str) -> tuple[list[str], np.ndarray]:
    """The latent ``part`` (``core.blocks``) that clusterings, projections and neighbours see."""
    ids, Z = encoded_latents(path, stamp, specs)
    return ids, latent_part(model(path, stamp), Z, part)


def part_for(path: str, stamp: float) -> str:
    """The part chosen in the sidebar when this checkpoint offers it, else the checkpoint's default."""
    offered = parts(model(path, stamp).latent_blocks())
    chosen = st.session_state.get(PART)
    return chosen if chosen in offered else offered[0]


def part_summary(path: str, stamp: float, width: int, specs: tuple[str, ...] | None = None) -> str:
    """``"latent size 56 · audio + lyrics, balanced (48 dims)"``: what a page clusters, in words; with the
    corpus ``specs``, it says when no track has lyrics (every lyrics block is then the prior)."""
    loaded = model(path, stamp)
    if len(parts(loaded.latent_blocks())) < 2:
        return f"latent size {width}"
    text = f"latent size {loaded.latent_dim} · {PART_LABELS[part_for(path, stamp)]} ({width} dims)"
    if specs is not None and not corpus(specs).has_lyrics:
        text += " · no track here has lyrics, so the audio alone places the tracks"
    return text


@st.cache_data(show_spinner=False, max_entries=32)
def projection(path: str, stamp: float, specs: tuple[str, ...], method: str, dim: int, part: str) -> np.ndarray:
    _, Z = latents(path, stamp, specs, part)
    with _progress_bar(f"Projecting with {method}…") as update:
        return project(Z, method=method, dim=dim, random_state=0, progress=update)


@st.cache_resource(show_spinner=False, max_entries=8)
def neighbour_index(path: str, stamp: float, specs: tuple[str, ...], part: str):
    """Precomputed neighbour structure for fast DBSCAN/metrics on slider moves (shared by all sessions)."""
    _, Z = latents(path, stamp, specs, part)
    return NeighbourIndex(Z)


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


# ------------------------------------------------------------------ sidebar
def sidebar() -> None:
    """Corpus and model in use, on every page."""
    with st.sidebar:
        specs = current_specs()
        st.caption("Corpus")
        st.markdown(" + ".join(f"`{s}`" for s in specs))
        entries = shelf.list_checkpoints()
        if entries:
            paths = [str(e.path) for e in entries]
            current = current_checkpoint()
            if st.session_state.get(CHECKPOINT) not in paths:
                st.session_state[CHECKPOINT] = str(current.path) if current else paths[0]
            st.selectbox(
                "Model checkpoint",
                paths,
                format_func=lambda p: next(e.label for e in entries if str(e.path) == p),
                key=CHECKPOINT,
                help="Ready-made checkpoints ship with Songscape; yours are saved from the Train page.",
            )
        else:
            st.warning("No checkpoints found. Train one on the Train page.")
        part_choice()
        where = training_device(current_checkpoint())
        st.caption((f"Device: `{where}` · " if where else "") + "labels are never used in training")


def training_device(entry) -> str | None:
    """Where the model of checkpoint ``entry`` trains, as the model itself decides (the Basic VAE keeps
    to the CPU even where CUDA is present); None without a checkpoint that loads."""
    if entry is None:
        return None
    try:
        return model(str(entry.path), entry.stamp).training_device()
    except BadInputError:
        return None


#: Short names of the latent parts in the sidebar (PARTS holds what each means).
PART_LABELS = {"balanced": "audio + lyrics, balanced", "audio": "audio only", "lyrics": "lyrics only",
               "all": "all dimensions as encoded"}


def part_choice() -> None:
    """Which part of a multimodal checkpoint's latent the Explore and Clusters pages cluster and project."""
    current = current_checkpoint()
    if current is None:
        return
    try:
        offered = parts(model(str(current.path), current.stamp).latent_blocks())
    except BadInputError:
        return  # the page says why the checkpoint cannot load
    if len(offered) < 2:
        return
    if st.session_state.get(PART) not in offered:
        st.session_state[PART] = offered[0]
    st.selectbox("Latent part to cluster and map", offered, key=PART, format_func=PART_LABELS.get,
                 help="This checkpoint has an audio and a lyrics block. " + " ".join(
                     f"**{PART_LABELS[p]}**: {PARTS[p]}." for p in offered)
                 + f" The default, **{PART_LABELS[offered[0]]}**, is chosen without labels: it keeps the larger "
                   "audio block from drowning the lyrics.")


# -------------------------------------------------------------- clustering
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


@st.cache_data(show_spinner=False, max_entries=64)
def eps_choice(path: str, stamp: float, specs: tuple[str, ...], part: str, min_samples: int) -> EpsChoice:
    """``core.clustering.choose_eps`` of the current latents (a scan of DBSCAN runs: kept across reruns)."""
    return choose_eps(neighbour_index(path, stamp, specs, part), min_samples=min_samples)


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
    path = str(entry.path)
    return _clustered(path, entry.stamp, specs, name, json.dumps(params, sort_keys=True), part_for(path, entry.stamp))


@st.cache_data(show_spinner=False, max_entries=256)
def _clustered(path: str, stamp: float, specs: tuple[str, ...], name: str, params_json: str, part: str):
    ids, Z = latents(path, stamp, specs, part)
    return scoring.cluster_and_score(Z, clusterer=name, params=json.loads(params_json), labels=labels(specs, ids),
                                     index=neighbour_index(path, stamp, specs, part), random_state=0)


def labels(specs: tuple[str, ...], ids: list[str]) -> pd.DataFrame:
    """The corpus's label columns, one row per latent row (``core.scoring.label_table``)."""
    return scoring.label_table(corpus(specs), track_ids=ids)


@st.cache_data(show_spinner="Measuring what each latent dimension knows…", max_entries=16)
def latent_information(path: str, stamp: float, specs: tuple[str, ...]):
    """``(per-dimension table, MIG per label, per-block table)`` of ``core.information`` on the whole latent."""
    ids, Z = encoded_latents(path, stamp, specs)
    found = model(path, stamp).latent_blocks()
    table = information.dimension_information(Z, labels(specs, ids), names=column_names(found, "all"))
    return table, information.mig(table), information.block_information(table, found)


# ------------------------------------------------------------ other caches
@st.cache_data(show_spinner="Scoring the checkpoints…", max_entries=8)
def checkpoint_scores(specs: tuple[str, ...], stamps: tuple[float, ...]) -> pd.DataFrame:
    """Every checkpoint scored on the corpus (``stamps``: their modification times, so a re-save re-scores)."""
    return model_scores.score_checkpoints(corpus(specs), shelf.list_checkpoints())


@st.cache_resource(show_spinner="Retraining the Basic VAE…", max_entries=32)
def live_basic_vae(specs: tuple[str, ...], beta: float, latent: int, seed: int):
    """The Basic VAE trained with ``beta`` and ``latent`` dimensions, and its scores (the live β slider)."""
    params = workspace.model_settings("basic", beta=beta, latent_dim=latent, seed=seed, random_state=seed)
    return model_scores.fit_and_score(corpus(specs), "basic", params=params, random_state=seed)


@st.cache_data(show_spinner=False, max_entries=16)
def reconstruction_quality(path: str, stamp: float, specs: tuple[str, ...]) -> dict[str, float]:
    """``core.reconstruction.corpus_reconstruction_measures`` of the checkpoint on the corpus: self-retrieval,
    chance, the onset-envelope correlation, the frame-to-frame change and the RMS dB distances (raises
    ``BadInputError`` for a model that reconstructs no mel)."""
    with _progress_bar("Measuring the reconstructions…") as update:
        return corpus_reconstruction_measures(model(path, stamp), corpus(specs), progress=update)


@st.cache_data(show_spinner=False, max_entries=128)
def decoded(path: str, stamp: float, z: tuple[float, ...]):
    """Decoded log-mel and its audio (mel models), or the decoded 57 features."""
    return explore.decode_point(model(path, stamp), np.asarray(z))


class WarmUpJob(Job):
    """The dashboard's background warm-up (:func:`core.warmup.warm_up`) as a job whose progress
    the sidebar shows."""

    kind = "warm-up"

    def __init__(self, specs: tuple[str, ...]):
        super().__init__(name="warm-up")
        self.specs = specs

    def work(self) -> None:
        warmup.warm_up(self.specs, progress=self.progress)
        # on the terminal that started the dashboard too (and for bench/bench_first_run.py)
        print(f"songscape: background warm-up done in {self.elapsed:.1f} s (every shipped checkpoint's "
              "latents and t-SNE, UMAP compiled)", file=sys.stderr, flush=True)


_WARM_UP: dict[tuple[str, ...], WarmUpJob] = {}
_WARM_UP_LOCK = threading.Lock()


def warm_up() -> None:
    """Once per server process, after a session's first page: prepare in a background thread what
    ``python -m core prepare --first-view`` (scripts/start.sh) left out, the other shipped checkpoints'
    latents and t-SNE for the default corpus, then compile UMAP so the first UMAP a user asks for takes
    about a second. A page that needs one of those latents first waits for them, with their progress,
    rather than computing them twice (``core.latents``). SONGSCAPE_NO_WARMUP=1 skips it all."""
    specs = workspace.default_specs()
    if os.environ.get("SONGSCAPE_NO_WARMUP") or current_specs() != specs:
        return
    with _WARM_UP_LOCK:
        if specs not in _WARM_UP:
            _WARM_UP[specs] = WarmUpJob(specs).start()


def warm_up_status() -> None:
    """The background warm-up's progress at the foot of the sidebar, while it runs (updated every 2 s)."""
    job = _WARM_UP.get(workspace.default_specs())
    if job is None or not job.running:
        if job is not None and job.status == "failed":
            st.sidebar.caption(f"Preparing the other checkpoints in the background failed: {job.error}")
        return

    @st.fragment(run_every=2.0)
    def note() -> None:
        if job.running:
            st.caption(f"Preparing the other checkpoints in the background: {job.message or 'starting'} "
                       f"({job.done}/{job.total})")

    with st.sidebar:
        note()

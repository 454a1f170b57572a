"""The dashboard's shared caches: corpus, models, latents, projections, neighbour indexes, clusterings, scores.

``st.cache_resource`` holds shared objects (the corpus, models, neighbour indexes, the live Basic VAE);
``st.cache_data`` holds arrays and tables (latents, projections, clusterings, scores). Keys are plain
strings and numbers: the corpus specs, and a checkpoint's or an embeddings file's path plus its
modification time, so a re-saved file is read again. A projection, a neighbour index or a clustering is of
a checkpoint's latent part (``kind="model"``) or of an embeddings file's vectors (``kind="file"``): one
cache of each, whatever the source (:func:`vectors`). Which corpus, checkpoint and part are in use is
:mod:`ui.state`'s.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core import checkpoint, embeddings, explore, information, model_scores, scoring, shelf, workspace
from core.blocks import column_names
from core.clustering import EpsChoice, NeighbourIndex, choose_eps, dbscan_sample
from core.latents import encode_corpus, latent_part, levels_choice
from core.latents import reader as levels_reader
from core.projections import project
from core.reconstruction import corpus_reconstruction_measures


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


@st.cache_resource(show_spinner=False, max_entries=4)
def corpus(specs: tuple[str, ...]):
    with _progress_bar("Preparing the corpus…") as update:
        return workspace.load_corpus(specs, progress=update)


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def model(path: str, stamp: float):
    return checkpoint.load(path)


@st.cache_resource(show_spinner=False, max_entries=8)
def reader(path: str, stamp: float, specs: tuple[str, ...]):
    """The checkpoint's model as it reads this corpus: itself, or its copy with the collection's band levels
    (``core.latents.reader``); what every page encodes, reconstructs and decodes with."""
    if band_levels(path, stamp, specs) == "trained":
        return model(path, stamp)
    with _progress_bar("Measuring the collection's band levels…") as update:  # the choice is made: no second one
        return levels_reader(model(path, stamp), corpus(specs), levels="collection", progress=update)


@st.cache_data(show_spinner=False, max_entries=16)
def band_levels(path: str, stamp: float, specs: tuple[str, ...]) -> str:
    """``"trained"`` or ``"collection"``: the band levels :func:`reader` reads this corpus with (decided
    without measuring them, so the sidebar can say it on every page)."""
    return levels_choice(model(path, stamp), corpus(specs))


@st.cache_data(show_spinner=False, max_entries=16)
def encoded_latents(path: str, stamp: float, specs: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    """Every latent dimension as the model encodes it (what decoding and the Latent page read)."""
    read_by = reader(path, stamp, specs)
    with _progress_bar("Encoding the corpus…") as update:
        return encode_corpus(read_by, corpus(specs), progress=update)


@st.cache_resource(show_spinner=False, max_entries=32)
def latents(path: str, stamp: float, specs: tuple[str, ...], part: str) -> tuple[list[str], np.ndarray]:
    """The latent ``part`` (``core.blocks``) that clusterings, projections and neighbours see.

    Shared, not copied: every page asks on every rerun, and copying a million track ids out of a
    ``st.cache_data`` cache took about 0.1 s each time. Z is read-only; no page changes the ids."""
    ids, Z = encoded_latents(path, stamp, specs)
    Z = np.array(latent_part(model(path, stamp), Z, part))  # its own copy, then frozen
    Z.setflags(write=False)
    return ids, Z


@st.cache_data(show_spinner="Reading the embeddings…", max_entries=8)
def file_vectors(path: str, stamp: float, specs: tuple[str, ...]) -> tuple[list[str], np.ndarray, str]:
    """``(track ids, vectors, note)`` of an embeddings file aligned to the corpus (``core.embeddings.align``)."""
    aligned = embeddings.align(embeddings.load_embeddings(path), corpus(specs).track_ids)
    return aligned.ids, aligned.vectors, aligned.note(Path(path).name)


def vectors(path: str, stamp: float, specs: tuple[str, ...], part: str,
            kind: str = "model") -> tuple[list[str], np.ndarray]:
    """The rows a projection, a neighbour index or a clustering works on: the latent ``part`` of a checkpoint
    (``kind="model"``, :func:`latents`) or the vectors of an embeddings file (``kind="file"``: ``part`` unused)."""
    if kind == "file":
        ids, Z, _ = file_vectors(path, stamp, specs)
        return ids, Z
    return latents(path, stamp, specs, part)


@st.cache_data(show_spinner=False, max_entries=32)
def projection(path: str, stamp: float, specs: tuple[str, ...], method: str, dim: int, part: str,
               kind: str = "model") -> np.ndarray:
    """``core.projections.project`` of the source's vectors (:func:`vectors`) to ``dim`` dimensions."""
    _, Z = vectors(path, stamp, specs, part, kind)
    with _progress_bar(f"Projecting with {method}…") as update:
        return project(Z, method=method, dim=dim, random_state=0, progress=update)


@st.cache_resource(show_spinner=False, max_entries=8)
def neighbour_index(path: str, stamp: float, specs: tuple[str, ...], part: str, kind: str = "model"):
    """Precomputed neighbour structure for fast DBSCAN/metrics on slider moves (shared by all sessions)."""
    _, Z = vectors(path, stamp, specs, part, kind)
    return NeighbourIndex(Z)


def dbscan_index(path: str, stamp: float, specs: tuple[str, ...], part: str, kind: str = "model") -> NeighbourIndex:
    """The index DBSCAN runs on: the shared one, or above ``core.clustering.FIT_MAX["dbscan"]`` points its kept
    seeded sample's (``core.clustering.dbscan_sample``; its k-distances choose eps)."""
    index = neighbour_index(path, stamp, specs, part, kind)
    sample = dbscan_sample(index)
    return index if sample is None else sample.index


@st.cache_data(show_spinner=False, max_entries=64)
def eps_choice(path: str, stamp: float, specs: tuple[str, ...], part: str, min_samples: int) -> EpsChoice:
    """``core.clustering.choose_eps`` of the current latents (a scan of DBSCAN runs: kept across reruns), on the
    points DBSCAN runs on (:func:`dbscan_index`)."""
    return choose_eps(dbscan_index(path, stamp, specs, part), min_samples=min_samples)


@st.cache_data(show_spinner=False, max_entries=256)
def clustering(path: str, stamp: float, specs: tuple[str, ...], name: str, params_json: str, part: str,
               kind: str = "model"):
    """The ``ClusterResult`` of ``core.scoring.clustering`` on the source's vectors (:func:`vectors`), with the
    shared neighbour index: the first step of :func:`clustered`."""
    _, Z = vectors(path, stamp, specs, part, kind)
    return scoring.clustering(Z, clusterer=name, params=json.loads(params_json),
                              index=neighbour_index(path, stamp, specs, part, kind), random_state=0)


@st.cache_data(show_spinner=False, max_entries=256)
def clustering_report(path: str, stamp: float, specs: tuple[str, ...], name: str, params_json: str, part: str,
                      kind: str = "model") -> dict:
    """The metrics of :func:`clustering` (``core.scoring.score_clustering``) against every label column."""
    _, Z = vectors(path, stamp, specs, part, kind)
    return scoring.score_clustering(Z, clustering(path, stamp, specs, name, params_json, part, kind),
                                    labels=source_labels(path, stamp, specs, part, kind),
                                    index=neighbour_index(path, stamp, specs, part, kind), random_state=0)


def clustered(path: str, stamp: float, specs: tuple[str, ...], name: str, params_json: str, part: str,
              kind: str = "model"):
    """``(ClusterResult, report)`` of ``core.scoring.cluster_and_score`` on the source's vectors (:func:`vectors`):
    the clustering and its metrics against every label column, with the shared neighbour index."""
    return (clustering(path, stamp, specs, name, params_json, part, kind),
            clustering_report(path, stamp, specs, name, params_json, part, kind))


def labels(specs: tuple[str, ...], ids: list[str]) -> pd.DataFrame:
    """The corpus's label columns, one row per latent row (``core.scoring.label_table``)."""
    return scoring.label_table(corpus(specs), track_ids=ids)


@st.cache_data(show_spinner=False, max_entries=16)
def source_labels(path: str, stamp: float, specs: tuple[str, ...], part: str, kind: str = "model") -> pd.DataFrame:
    """:func:`labels` of the source's rows (:func:`vectors`), each column a pandas categorical: made once per
    source, where :func:`labels` looks a million track ids up on every call, and the metrics read its codes
    (``core.metrics.truth_codes``) instead of hashing a million strings on every eps move."""
    ids, _ = vectors(path, stamp, specs, part, kind)
    return labels(specs, ids).astype("category")


@st.cache_resource(show_spinner=False, max_entries=8)
def track_rows(path: str, stamp: float, specs: tuple[str, ...], part: str, kind: str = "model") -> pd.Index:
    """The track id of every row of the source (:func:`vectors`) as a ``pd.Index``: a track's row by hashing
    (``get_loc``, ``in``), built once and shared (never changed by a page)."""
    ids, _ = vectors(path, stamp, specs, part, kind)
    return pd.Index(ids, dtype=object)


@st.cache_data(show_spinner=False, max_entries=16)
def track_choices(path: str, stamp: float, specs: tuple[str, ...], part: str) -> tuple[dict[str, str], str]:
    """``ui.scale.track_choices`` of the corpus over the checkpoint's rows: the same fixed sample every run, so
    made once (at a million tracks it reads the whole table)."""
    from ui import scale  # imported when asked: ui.scale's imports come back to this module

    ids, _ = vectors(path, stamp, specs, part)
    return scale.track_choices(corpus(specs).tracks, ids)


@st.cache_resource(show_spinner="Preparing the search…", max_entries=8)
def track_search(key: str, _table: pd.DataFrame, columns: tuple[str, ...]) -> explore.TrackSearch:
    """A ``core.explore.TrackSearch`` of ``_table`` over ``columns``, kept per ``key`` (which must change whenever
    the table does: its source, corpus, projection and clustering), so a keystroke in a search box runs the
    query alone (tens of milliseconds at a million tracks) and not a lower-casing of every row."""
    return explore.TrackSearch(_table, columns=list(columns))


@st.cache_data(show_spinner="Measuring what each latent dimension knows…", max_entries=16)
def latent_information(path: str, stamp: float, specs: tuple[str, ...]):
    """``(per-dimension table, MIG per label, per-block table)`` of ``core.information`` on the whole latent."""
    ids, Z = encoded_latents(path, stamp, specs)
    found = model(path, stamp).latent_blocks()
    table = information.dimension_information(Z, labels(specs, ids), names=column_names(found, "all"))
    return table, information.mig(table), information.block_information(table, found)


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
        return corpus_reconstruction_measures(reader(path, stamp, specs), corpus(specs), progress=update)


@st.cache_data(show_spinner=False, max_entries=128)
def decoded(path: str, stamp: float, specs: tuple[str, ...], z: tuple[float, ...]):
    """Decoded log-mel and its audio (mel models, at the band levels the corpus is read with), or the
    decoded 57 features."""
    return explore.decode_point(reader(path, stamp, specs), np.asarray(z))

"""Where the Explore page's vectors come from: a checkpoint's latents, or an embeddings file.

A *source* is a short string: ``"model:<checkpoint name>"`` or ``"file:<embeddings file name>"``
(a file in ``core.embeddings.folder()``). Both kinds are explored, clustered and scored the same
way: the projection is ``core.projections.project``, the clustering and its metrics
``core.scoring.cluster_and_score`` with a shared ``NeighbourIndex``, nearest neighbours one
query of that index. Checkpoint sources go through ``ui.state``'s caches; file sources have
their own, keyed by the file's modification time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from core import embeddings, scoring, shelf
from core.clustering import NeighbourIndex
from core.errors import BadInputError
from core.projections import project
from ui import state


@dataclass(frozen=True)
class Source:
    kind: str      # "model" or "file"
    name: str      # checkpoint name, or file name
    path: str
    stamp: float

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def label(self) -> str:
        return f"model {self.name}" if self.kind == "model" else f"embeddings {self.name}"


def model_source(entry) -> Source:
    return Source("model", entry.name, str(entry.path), entry.stamp)


def available() -> list[Source]:
    """Every checkpoint, then every embeddings file."""
    out = [model_source(e) for e in shelf.list_checkpoints()]
    for path in embeddings.list_files():
        out.append(Source("file", path.name, str(path), path.stat().st_mtime))
    return out


def find(key: str) -> Source | None:
    """The source called ``key`` (``model:NAME`` / ``file:NAME``), or None."""
    return next((s for s in available() if s.key == key), None)


def _entry(source: Source):
    return next(e for e in shelf.list_checkpoints() if str(e.path) == source.path)


# ----------------------------------------------------------------------------------- vectors
def vectors(source: Source, specs: tuple[str, ...]) -> tuple[list[str], np.ndarray, str]:
    """``(track ids, Z (n, d), note)`` of ``source`` on the corpus; BadInputError says why there are none."""
    if source.kind == "model":
        ids, Z = state.latents(source.path, source.stamp, specs, state.part_for(source.path, source.stamp))
        if len(ids) < 5:
            corpus = state.corpus(specs)
            why = ("this corpus has no audio (a feature table), and this model needs spectrograms"
                   if not corpus.has_audio else "its tracks could not be turned into this model's inputs")
            raise BadInputError(None, f"the **{source.name}** checkpoint encodes only {len(ids)} of {len(corpus)} "
                                      f"tracks: {why}")
        return ids, Z, ""
    return _file_vectors(source.path, source.stamp, specs)


@st.cache_data(show_spinner="Reading the embeddings…", max_entries=8)
def _file_vectors(path: str, stamp: float, specs: tuple[str, ...]) -> tuple[list[str], np.ndarray, str]:
    aligned = embeddings.align(embeddings.load_embeddings(path), state.corpus(specs).track_ids)
    return aligned.ids, aligned.vectors, aligned.note(Path(path).name)


def index(source: Source, specs: tuple[str, ...]) -> NeighbourIndex:
    """The shared neighbour index of the source's vectors (DBSCAN, silhouette, nearest neighbours)."""
    if source.kind == "model":
        return state.neighbour_index(source.path, source.stamp, specs, state.part_for(source.path, source.stamp))
    return _file_index(source.path, source.stamp, specs)


@st.cache_resource(show_spinner=False, max_entries=4)
def _file_index(path: str, stamp: float, specs: tuple[str, ...]) -> NeighbourIndex:
    return NeighbourIndex(_file_vectors(path, stamp, specs)[1])


def projection(source: Source, specs: tuple[str, ...], method: str, dim: int) -> np.ndarray:
    if source.kind == "model":
        return state.projection(source.path, source.stamp, specs, method, dim,
                                state.part_for(source.path, source.stamp))
    return _file_projection(source.path, source.stamp, specs, method, dim)


@st.cache_data(show_spinner="Projecting the embeddings…", max_entries=16)
def _file_projection(path: str, stamp: float, specs: tuple[str, ...], method: str, dim: int) -> np.ndarray:
    return project(_file_vectors(path, stamp, specs)[1], method=method, dim=dim, random_state=0)


def clustered(source: Source, specs: tuple[str, ...], name: str, params: dict):
    """``(ClusterResult, report)`` of ``core.scoring.cluster_and_score`` on the source's vectors."""
    if source.kind == "model":
        return state.clustered(_entry(source), specs, name, params)
    return _file_clustered(source.path, source.stamp, specs, name, json.dumps(params, sort_keys=True))


@st.cache_data(show_spinner=False, max_entries=64)
def _file_clustered(path: str, stamp: float, specs: tuple[str, ...], name: str, params_json: str):
    ids, Z, _ = _file_vectors(path, stamp, specs)
    return scoring.cluster_and_score(Z, clusterer=name, params=json.loads(params_json),
                                     labels=state.labels(specs, ids), index=_file_index(path, stamp, specs),
                                     random_state=0)

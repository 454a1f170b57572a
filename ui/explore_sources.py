"""Where the Explore page's vectors come from: a checkpoint's latents, or an embeddings file.

A *source* is a short string: ``"model:<checkpoint name>"`` or ``"file:<embeddings file name>"``
(a file in ``core.embeddings.folder()``). Both kinds are explored, clustered and scored the same
way: the projection is ``core.projections.project``, the clustering and its metrics
``core.scoring.cluster_and_score`` with a shared ``NeighbourIndex``, nearest neighbours one
query of that index. Both go through the same caches (:mod:`ui.caches`, keyed by the file's path and
modification time and, for a checkpoint, the latent part in use).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from core import embeddings, shelf
from core.clustering import NeighbourIndex
from core.errors import BadInputError
from ui import caches, state


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


def _part(source: Source) -> str:
    """The latent part in use for a checkpoint (the sidebar's); a file's vectors have no parts."""
    return state.part_for(source.path, source.stamp) if source.kind == "model" else "all"


# ----------------------------------------------------------------------------------- vectors
def vectors(source: Source, specs: tuple[str, ...]) -> tuple[list[str], np.ndarray, str]:
    """``(track ids, Z (n, d), note)`` of ``source`` on the corpus; BadInputError says why there are none."""
    if source.kind == "model":
        ids, Z = caches.latents(source.path, source.stamp, specs, _part(source))
        if len(ids) < 5:
            corpus = caches.corpus(specs)
            why = ("this corpus has no audio (a feature table), and this model needs spectrograms"
                   if not corpus.has_audio else "its tracks could not be turned into this model's inputs")
            raise BadInputError(None, f"the **{source.name}** checkpoint encodes only {len(ids)} of {len(corpus)} "
                                      f"tracks: {why}")
        return ids, Z, ""
    return caches.file_vectors(source.path, source.stamp, specs)


def index(source: Source, specs: tuple[str, ...]) -> NeighbourIndex:
    """The shared neighbour index of the source's vectors (DBSCAN, silhouette, nearest neighbours)."""
    return caches.neighbour_index(source.path, source.stamp, specs, _part(source), source.kind)


def projection(source: Source, specs: tuple[str, ...], method: str, dim: int) -> np.ndarray:
    return caches.projection(source.path, source.stamp, specs, method, dim, _part(source), source.kind)


def clustered(source: Source, specs: tuple[str, ...], name: str, params: dict):
    """``(ClusterResult, report)`` of ``core.scoring.cluster_and_score`` on the source's vectors."""
    return caches.clustered(source.path, source.stamp, specs, name, json.dumps(params, sort_keys=True),
                            _part(source), source.kind)

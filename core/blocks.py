"""Which part of a latent vector to cluster: a model's named latent blocks and label-free views of them.

A multimodal model's latent is a concatenation of blocks, one or more per modality: the
spectrogram VAE's is ``[audio (track level), crop (audio, one excerpt), temporal (how much each channel of
its latent sequence moves), lyrics]``. Clustering the raw
concatenation lets the block with the most variance decide: on the demo corpus K-Means on the
ConvVAE's 56 dimensions found no language at all (NMI 0.007), while its 16 lyrics dimensions alone
separate it (0.498), because the 40 audio dimensions carry most of the distance.

A *part* says which blocks a clustering, projection or neighbour search sees:

* ``"balanced"`` (the default of a model with more than one modality): the track-level blocks of
  every modality, each modality centred and scaled to unit total variance, so that each modality
  adds the same expected squared distance between two tracks whatever its number of dimensions
  (the balanced-PCA idea, on the model's own posterior means). Decided without labels.
* ``"audio"``, ``"lyrics"``: one modality's track-level blocks, as they are.
* ``"all"``: every dimension as the model encodes it (the only part of a one-block model).

A track without lyrics has the prior mean (exactly 0) as its lyrics block. The balanced view
keeps it there, scaled like the rest: such a track is placed by its audio, and sits at the
lyrics block's prior, which the model reads as "no information" (centring is computed over every
track, so the prior stays where the encoder put it relative to the others).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["LatentBlock", "PARTS", "parts", "default_part", "view", "missing_rows", "column_names", "unit_variance"]

#: What each part means, in the words the dashboard and the CLI show.
PARTS: dict[str, str] = {
    "balanced": "every modality at equal weight (track-level blocks, each modality scaled to unit variance)",
    "audio": "the audio block only",
    "lyrics": "the lyrics block only",
    "all": "every latent dimension as encoded",
}


@dataclass(frozen=True)
class LatentBlock:
    """Dimensions ``start:stop`` of a latent vector, from one modality.

    track_level : False for a block that describes one excerpt rather than the track (the
        ConvVAE's crop and temporal blocks): it is left out of the balanced and single-modality parts.
    """

    name: str
    modality: str
    start: int
    stop: int
    track_level: bool = True

    @property
    def size(self) -> int:
        return self.stop - self.start


def _modalities(blocks: Sequence[LatentBlock]) -> list[str]:
    return list(dict.fromkeys(b.modality for b in blocks if b.track_level))


def parts(blocks: Sequence[LatentBlock]) -> list[str]:
    """The parts a model with ``blocks`` offers, its default first."""
    mods = _modalities(blocks)
    if len(mods) < 2:
        return ["all"]
    return ["balanced", *[m for m in mods if m in PARTS], "all"]


def default_part(blocks: Sequence[LatentBlock]) -> str:
    """``"balanced"`` for a model with two modalities or more, else ``"all"``."""
    return parts(blocks)[0]


def _chosen(blocks: Sequence[LatentBlock], part: str) -> list[list[LatentBlock]]:
    """The blocks of ``part``, grouped by modality (every block, in one group, for ``"all"``)."""
    offered = parts(blocks)
    if part not in offered:
        raise ValueError(f"latent part {part!r} is not one of this model's parts {offered}")
    if part == "all":
        return [list(blocks)]
    return [[b for b in blocks if b.track_level and b.modality == m]
            for m in _modalities(blocks) if part in ("balanced", m)]


def column_names(blocks: Sequence[LatentBlock], part: str = "all") -> list[str]:
    """Names of the columns of :func:`view`: ``audio_0 … lyrics_15`` (``z0 …`` for a one-block model)."""
    if len(blocks) < 2:
        return [f"z{i}" for i in range(sum(b.size for b in blocks))]
    return [f"{b.name}_{j}" for group in _chosen(blocks, part) for b in group for j in range(b.size)]


def missing_rows(Z: np.ndarray, block: LatentBlock) -> np.ndarray:
    """(n,) bool: rows whose ``block`` is exactly the prior mean 0, i.e. the modality was absent."""
    return ~np.any(Z[:, block.start:block.stop] != 0, axis=1)


def unit_variance(B: np.ndarray) -> np.ndarray:
    """Centre ``B`` (n, d) and scale it to a mean squared distance from the centre of 1."""
    if len(B) == 0:
        return B
    centred = B - B.mean(0, keepdims=True)
    total = float(np.sqrt(np.mean(np.sum(centred.astype(np.float64) ** 2, axis=1))))
    return centred / total if total > 0 else centred


def view(Z: np.ndarray, blocks: Sequence[LatentBlock], part: str) -> np.ndarray:
    """The ``part`` of latents ``Z`` (n, d) of a model with ``blocks``: (n, d') float32.

    Raises ValueError naming the part when the model has no such part.
    """
    Z = np.asarray(Z, dtype=np.float32)
    groups = _chosen(blocks, part)
    if part == "all":
        return Z
    pieces = []
    for group in groups:
        B = Z[:, np.concatenate([np.arange(b.start, b.stop) for b in group])]
        pieces.append(unit_variance(B) if part == "balanced" else B)
    return np.ascontiguousarray(np.concatenate(pieces, axis=1), dtype=np.float32)

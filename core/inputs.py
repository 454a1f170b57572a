"""What every model takes: :class:`ModelInputs`, and :func:`build_inputs` that makes it from a corpus.

:class:`ModelInputs` holds the raw 57-value vectors, the centre log-mel windows in dB,
the WHOLE clips' log-mels (``clips``: a lazily read, memory-mapped
:class:`~core.features.melstore.MelClips`, with crop access) and/or the lyrics text of
the same tracks, in the same order. :func:`build_inputs` fills it from a corpus with
the (cached) feature extractor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from core.errors import BadInputError, Skipped
from core.features.extract import extract
from core.features.mel import MelParams
from core.features.melstore import MelClips, build_store

#: Every field a model may need.
INPUT_KINDS = frozenset({"features", "mel", "clips", "lyrics"})


@dataclass
class ModelInputs:
    """Inputs of the same tracks, row-aligned.

    Attributes
    ----------
    track_ids : (n,) track ids.
    features : (n, 57) raw, unscaled GTZAN vectors (``FEATURE_NAMES`` order), or None.
    mel : (n, 128, 128) log-mel spectrograms in dB, or None.
    lyrics : (n,) lyrics text, ``""`` = no lyrics, or None.
    mel_params : the ``MelParams.to_dict()`` the mel was computed with, or None (defaults).
    clips : the whole clips' log-mels (dB re. full scale), read lazily from a memory-mapped
        store: ``clips.crops(rows, starts, 128)`` -> (B, n_mels, 128); or None.
    """

    track_ids: list[str]
    features: np.ndarray | None = None
    mel: np.ndarray | None = None
    lyrics: list[str] | None = None
    mel_params: dict | None = field(default=None, repr=False)
    clips: MelClips | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.track_ids = [str(t) for t in self.track_ids]
        n = len(self.track_ids)
        for name in ("features", "mel", "lyrics", "clips"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise BadInputError(None, f"inputs: {len(value)} rows of {name} for {n} tracks")
        if self.lyrics is not None:
            self.lyrics = ["" if t is None else str(t) for t in self.lyrics]

    def __len__(self) -> int:
        return len(self.track_ids)

    def subset(self, idx: Sequence[int] | np.ndarray) -> "ModelInputs":
        """The rows ``idx`` (integer positions or a boolean mask)."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return ModelInputs(
            track_ids=[self.track_ids[i] for i in idx],
            features=None if self.features is None else self.features[idx],
            mel=None if self.mel is None else self.mel[idx],
            lyrics=None if self.lyrics is None else [self.lyrics[i] for i in idx],
            mel_params=self.mel_params,
            clips=None if self.clips is None else self.clips.subset(idx),
        )

    def content_hash(self) -> str:
        """A hash of the arrays themselves (features, mel, lyrics, mel parameters), not of the ids.

        Two inputs with the same hash train the same model; ``core train --resume`` compares it.
        """
        h = hashlib.sha256()
        for name in ("features", "mel"):
            value = getattr(self, name)
            h.update(name.encode())
            if value is not None:
                a = np.ascontiguousarray(value, dtype=np.float32)
                h.update(str(a.shape).encode())
                h.update(a.tobytes())
        h.update(b"lyrics")
        for text in self.lyrics or ():
            h.update(text.encode("utf-8"))
            h.update(b"\0")
        h.update(repr(sorted((self.mel_params or {}).items())).encode())
        if self.clips is not None:  # the store's key hashes the clips' audio content and parameters
            h.update(b"clips" + self.clips.key.encode())
        return h.hexdigest()[:16]


def build_inputs(corpus, *, needs: set[str], mel_params: Any = None, clip_params: Any = None,
                 progress=None) -> tuple[ModelInputs, list[Skipped]]:
    """Model inputs of ``corpus`` for a model that needs ``needs``.

    Parameters
    ----------
    corpus : :class:`core.corpus.Corpus`.
    needs : subset of ``{"features", "mel", "clips", "lyrics"}``.
    mel_params : ``MelParams`` or its dict for ``mel`` (None = the defaults).
    clip_params : ``MelParams`` or its dict for ``clips`` (None = ``CLIP_PARAMS``).
    progress : ``progress(done, total, message)`` for feature extraction.

    Returns
    -------
    inputs : rows of the tracks every needed extraction succeeded on, in corpus order.
    skipped : the tracks left out, and why.
    """
    unknown = set(needs) - INPUT_KINDS
    if unknown:
        raise ValueError(f"unknown input kinds {sorted(unknown)}; expected a subset of {sorted(INPUT_KINDS)}")
    ids = corpus.track_ids
    keep = np.ones(len(ids), dtype=bool)
    position = {t: i for i, t in enumerate(ids)}
    skipped: list[Skipped] = []
    features = mel = None
    mel_dict = None

    if "features" in needs:
        fs = extract(corpus, kind="gtzan57", progress=progress)  # uses corpus.features57 when present
        X = np.asarray(fs.X, dtype=np.float32)
        skipped += list(fs.skipped)
        features = np.full((len(ids), X.shape[1] if X.ndim == 2 else 57), np.nan, dtype=np.float32)
        rows = [position[t] for t in fs.track_ids]
        features[rows] = X
        keep &= _mask(len(ids), rows)
    if "mel" in needs:
        if isinstance(mel_params, dict):
            mel_params = MelParams.from_dict(mel_params)
        mel_params = mel_params or MelParams()
        mel_dict = mel_params.to_dict()
        fs = extract(corpus, kind="mel", params=mel_params, progress=progress)
        skipped += list(fs.skipped)
        M = np.asarray(fs.X, dtype=np.float32)
        mel = np.zeros((len(ids),) + M.shape[1:], dtype=np.float32)
        rows = [position[t] for t in fs.track_ids]
        mel[rows] = M
        keep &= _mask(len(ids), rows)
    clips = None
    if "clips" in needs:
        clip_ids, clips, clip_skipped = build_store(corpus, params=clip_params, progress=progress)
        skipped += clip_skipped
        rows = [position[t] for t in clip_ids]
        keep &= _mask(len(ids), rows)
        # rows of the store -> rows of the corpus; a track without a clip gets an empty placeholder row,
        # dropped with the track below
        index = np.zeros((len(ids), 2), dtype=np.int64)
        index[rows] = clips.index
        clips = clips.with_index(index)
    lyrics = corpus.tracks["lyrics"].tolist() if "lyrics" in needs else None

    inputs = ModelInputs(ids, features, mel, lyrics, mel_params=mel_dict, clips=clips).subset(np.flatnonzero(keep))
    seen = {s.path for s in skipped}
    for i in np.flatnonzero(~keep):  # dropped without a reason from the extractor (should not happen)
        path = corpus.tracks["path"].iloc[i] or ids[i]
        if path not in seen and ids[i] not in seen:
            skipped.append(Skipped(path, "no features for this track"))
    return inputs, skipped


def _mask(n: int, rows: list[int]) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask

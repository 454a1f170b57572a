"""Model inputs built from a corpus, and the latents of a corpus under a model (cached).

:class:`ModelInputs` is what every model's ``fit`` / ``encode`` takes: the raw
57-value vectors, the log-mel spectrograms in dB and/or the lyrics text of the
same tracks, in the same order. :func:`build_inputs` makes it from a corpus
with the (cached) feature extractor; :func:`encode_corpus` encodes a corpus and
keeps the result in the feature cache, keyed by the model's and the corpus'
fingerprints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from core.errors import BadInputError, Skipped

#: Every field a model may need.
INPUT_KINDS = frozenset({"features", "mel", "lyrics"})


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
    """

    track_ids: list[str]
    features: np.ndarray | None = None
    mel: np.ndarray | None = None
    lyrics: list[str] | None = None
    mel_params: dict | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.track_ids = [str(t) for t in self.track_ids]
        n = len(self.track_ids)
        for name in ("features", "mel", "lyrics"):
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
        )


def build_inputs(corpus, *, needs: set[str], mel_params: Any = None,
                 progress=None) -> tuple[ModelInputs, list[Skipped]]:
    """Model inputs of ``corpus`` for a model that needs ``needs``.

    Parameters
    ----------
    corpus : :class:`core.corpus.Corpus`.
    needs : subset of ``{"features", "mel", "lyrics"}``.
    mel_params : ``MelParams`` or its dict (None = the defaults).
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
        from core.features.extract import extract

        fs = extract(corpus, kind="gtzan57", progress=progress)  # uses corpus.features57 when present
        got_ids, X = list(fs.track_ids), np.asarray(fs.X, dtype=np.float32)
        skipped += list(fs.skipped)
        features = np.full((len(ids), X.shape[1] if X.ndim == 2 else 57), np.nan, dtype=np.float32)
        rows = [position[t] for t in got_ids]
        features[rows] = X
        mask = np.zeros(len(ids), dtype=bool)
        mask[rows] = True
        keep &= mask
    if "mel" in needs:
        from core.features.extract import extract
        from core.features.mel import MelParams

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
        mask = np.zeros(len(ids), dtype=bool)
        mask[rows] = True
        keep &= mask
    lyrics = corpus.tracks["lyrics"].tolist() if "lyrics" in needs else None

    inputs = ModelInputs(ids, features, mel, lyrics, mel_params=mel_dict).subset(np.flatnonzero(keep))
    seen = {s.path for s in skipped}
    for i in np.flatnonzero(~keep):  # dropped without a reason from the extractor (should not happen)
        path = corpus.tracks["path"].iloc[i] or ids[i]
        if path not in seen and ids[i] not in seen:
            skipped.append(Skipped(path, "no features for this track"))
    return inputs, skipped


def encode_corpus(model, corpus, *, progress=None) -> tuple[list[str], np.ndarray]:
    """Latent means of every usable track of ``corpus`` under a fitted ``model``.

    The result is cached on disk (the feature cache), keyed by the model's and
    the corpus' fingerprints, so a second call is a file read.

    Returns
    -------
    track_ids : (n,) ids of the encoded tracks (tracks whose features failed are left out).
    Z : (n, latent_dim) float32 latent means.
    """
    key = f"latents/{model.name}-{model.fingerprint()}-{corpus.fingerprint()}"
    cache = _cache()
    ids = corpus.track_ids
    if cache is not None:
        Z = cache.get_array(key + "-z")
        rows = cache.get_array(key + "-rows")
        if Z is not None and rows is not None:
            return [ids[i] for i in rows.tolist()], np.asarray(Z, dtype=np.float32)
    inputs, _ = build_inputs(corpus, needs=model.needs, mel_params=mel_params_of(model), progress=progress)
    Z = model.encode(inputs)
    if cache is not None:
        position = {t: i for i, t in enumerate(ids)}
        cache.put_array(key + "-z", Z)
        cache.put_array(key + "-rows", np.asarray([position[t] for t in inputs.track_ids], dtype=np.int64))
    return inputs.track_ids, Z


def latents_for(checkpoint_path: str | Path, corpus, *, progress=None) -> tuple[list[str], np.ndarray]:
    """Load a checkpoint and encode ``corpus`` with it (see :func:`encode_corpus`).

    Raises :class:`~core.errors.CheckpointError` naming the checkpoint when its
    input sizes do not fit the corpus' inputs.
    """
    from core import checkpoint
    from core.errors import CheckpointError

    model = checkpoint.load(checkpoint_path)
    try:
        return encode_corpus(model, corpus, progress=progress)
    except BadInputError as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(checkpoint_path, f"does not fit corpus '{corpus.name}': {exc.problem}") from exc


def mel_params_of(model):
    """The ``MelParams`` a fitted model's mel inputs use (the defaults for models without mel inputs)."""
    from core.features.mel import MelParams

    spec = model.input_spec() if model.is_fitted() else {}
    params = spec.get("mel_params")
    return MelParams.from_dict(params) if params else MelParams()


def _cache():
    try:
        from core.features.cache import FeatureCache
    except ImportError:
        return None
    return FeatureCache()

"""The latents of a corpus under a model, cached in the feature cache.

:func:`encode_corpus` builds the model's inputs from the corpus
(:func:`core.inputs.build_inputs`), encodes them and keeps the result in the
feature cache, keyed by the model's fingerprint (model config + preprocessing +
weights) and the corpus' fingerprint. :func:`latents_for` does the same from a
checkpoint file.

Track embeddings of the spectrogram VAEs (``conv``, ``beta``) come from the WHOLE clip:
the model encodes crops of 128 frames every 32 frames and combines their Gaussian
posteriors by a precision-weighted product with the prior (per dimension,
``precision = 1 + Σ_i 1/var_i``, ``mean = Σ_i (mu_i / var_i) / precision``): the
posterior of one z seen through independent crops, so confident crops count more.
The lyrics block of the latent vector is the lyrics posterior mean (0 without lyrics).
See :mod:`core.models.conv`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core import checkpoint
from core.errors import BadInputError, CheckpointError
from core.features.cache import FeatureCache
from core.features.mel import MelParams
from core.inputs import build_inputs
from core.models import Model


def encode_corpus(model: Model, corpus, *, progress=None) -> tuple[list[str], np.ndarray]:
    """Latent means of every usable track of ``corpus`` under a fitted ``model``.

    The result is cached on disk (the feature cache), keyed by the model's and
    the corpus' fingerprints, so a second call is a file read. The entry is
    checksummed and checked (shape, finite values, row numbers in range and in
    corpus order); one that fails is recomputed.

    Returns
    -------
    track_ids : (n,) ids of the encoded tracks (tracks whose features failed are left out).
    Z : (n, latent_dim) float32 latent means.
    """
    key = f"latents/{model.name}-{model.fingerprint()}-{corpus.fingerprint()}"
    cache = FeatureCache()
    ids = corpus.track_ids
    hit = cache.get_arrays(key)  # checksummed and bound to this key; corrupt -> None
    if hit is not None and _valid_latents(hit, n_tracks=len(ids), latent_dim=model.latent_dim):
        return [ids[i] for i in hit["rows"].tolist()], np.asarray(hit["z"], dtype=np.float32)
    inputs, _ = build_inputs(corpus, needs=model.needs, progress=progress, **input_params(model))
    Z = model.encode(inputs)
    position = {t: i for i, t in enumerate(ids)}
    rows = np.asarray([position[t] for t in inputs.track_ids], dtype=np.int64)
    cache.put_arrays(key, {"z": Z, "rows": rows})  # one entry: the rows can never pair with other latents
    return inputs.track_ids, Z


def _valid_latents(hit: dict, *, n_tracks: int, latent_dim: int) -> bool:
    """True when a cached entry is latents of this corpus: ``z`` (n, latent_dim) finite floats and ``rows``
    n distinct, increasing track positions in ``[0, n_tracks)`` (encoding keeps corpus order)."""
    Z, rows = hit.get("z"), hit.get("rows")
    if Z is None or rows is None or Z.ndim != 2 or rows.ndim != 1 or len(Z) != len(rows):
        return False
    if Z.shape[1] != latent_dim or not np.issubdtype(rows.dtype, np.integer) or not np.isfinite(Z).all():
        return False
    return bool(len(rows) == 0 or (rows[0] >= 0 and rows[-1] < n_tracks and (np.diff(rows) > 0).all()))


def latents_for(checkpoint_path: str | Path, corpus, *, progress=None) -> tuple[list[str], np.ndarray]:
    """Load a checkpoint and encode ``corpus`` with it (see :func:`encode_corpus`).

    Raises :class:`~core.errors.CheckpointError` naming the checkpoint when its
    input sizes do not fit the corpus' inputs.
    """
    model = checkpoint.load(checkpoint_path)
    try:
        return encode_corpus(model, corpus, progress=progress)
    except CheckpointError:
        raise
    except BadInputError as exc:
        raise CheckpointError(checkpoint_path, f"does not fit corpus '{corpus.name}': {exc.problem}") from exc


def input_params(model: Model) -> dict:
    """``build_inputs`` keywords for a fitted model: the mel and whole-clip parameters it was trained with."""
    spec = model.input_spec() if model.is_fitted() else {}
    return {"mel_params": spec.get("mel_params"), "clip_params": spec.get("clip_params")}


def mel_params_of(model: Model) -> MelParams:
    """The ``MelParams`` of the spectrograms a fitted model reads and reconstructs (whole-clip parameters
    for the spectrogram VAEs; the defaults for models without mel inputs)."""
    spec = model.input_spec() if model.is_fitted() else {}
    params = spec.get("clip_params") or spec.get("mel_params")
    return MelParams.from_dict(params) if params else MelParams()

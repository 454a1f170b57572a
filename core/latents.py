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

With ``cluster`` (``local:N`` or ``tcp://HOST:PORT``, :mod:`core.distributed`) the
corpus is encoded on Dask in chunks of :data:`ENCODE_TASK_TRACKS` tracks: the model
is sent to every worker once, each task builds the inputs of its chunk (extracting
missing features into the worker's feature cache) and returns its latents, so no
process ever holds the inputs of the whole corpus. A chunk that fails leaves its
tracks out, as a failed extraction does; a lost worker's chunks are recomputed
once, never counted twice (:func:`core.distributed.run_keyed`).

A spectrogram VAE standardises each mel band by levels: by default those of the corpus it was trained on.
:func:`reader` gives the model that reads a corpus, with the collection's own band levels when the corpus is
not the model's training data (:func:`levels_choice`); every caller that encodes, reconstructs or decodes a
corpus goes through it, so that the pages, ``core encode`` and the encode button agree.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import numpy as np

from core import blocks, checkpoint, distributed
from core.errors import BadInputError, CheckpointError
from core.cache import FeatureCache
from core.features.mel import MelParams
from core.inputs import build_inputs
from core.models import Model

#: Tracks per Dask task when encoding on a cluster (a ConvVAE chunk's mels: 2048 x 64 KB = 128 MB).
ENCODE_TASK_TRACKS = 2048


def encode_corpus(model: Model, corpus, *, progress=None, cluster: str | None = None) -> tuple[list[str], np.ndarray]:
    """Latent means of every usable track of ``corpus`` under a fitted ``model``.

    The result is cached on disk (the feature cache), keyed by the model's and
    the corpus' fingerprints, so a second call is a file read. The entry is
    checksummed and checked (shape, finite values, row numbers in range and in
    corpus order); one that fails is recomputed. Threads of one process asking for the same latents
    at once (two dashboard sessions, the dashboard's background warm-up) compute them once
    (:meth:`~core.cache.FeatureCache.get_or_compute`).
    cluster : ``local:N`` or ``tcp://HOST:PORT``: encode on Dask (see the module docstring);
        the result is the same and lands in the same cache entry.

    Returns
    -------
    track_ids : (n,) ids of the encoded tracks (tracks whose features failed are left out).
    Z : (n, latent_dim) float32 latent means.
    """
    key = f"latents/{model.name}-{model.fingerprint()}-{corpus.fingerprint()}"
    ids = corpus.track_ids

    def compute(report) -> dict[str, np.ndarray]:
        if cluster is not None:
            encoded_ids, Z = _encode_on_cluster(model, corpus, cluster=cluster, progress=report)
        else:
            inputs, _ = build_inputs(corpus, needs=model.needs, progress=report, **input_params(model))
            encoded_ids, Z = inputs.track_ids, model.encode(inputs)
        position = {t: i for i, t in enumerate(ids)}
        # one entry: the rows can never pair with other latents
        return {"z": Z, "rows": np.asarray([position[t] for t in encoded_ids], dtype=np.int64)}

    found = FeatureCache().get_or_compute(
        key, compute, progress=progress,
        valid=lambda hit: _valid_latents(hit, n_tracks=len(ids), latent_dim=model.latent_dim))
    return [ids[i] for i in found["rows"].tolist()], np.asarray(found["z"], dtype=np.float32)


#: Band levels a spectrogram model may standardise a collection by (:func:`reader`).
LEVELS = {"auto": "the collection's own when it is neither the checkpoint's training corpus nor one of its "
                  "sources and has enough tracks to tell its recording chain from its music; else the training "
                  "corpus's",
          "trained": "the training corpus's (as trained)",
          "collection": "the encoded collection's own"}

#: The fewest tracks whose band means ``"auto"`` takes for a collection's recording chain (codec, mastering)
#: rather than for the music on them: a few tracks of one style have their own spectrum. A judgement, not
#: tuned: RESULTS.md measured collections of 100 tracks and more.
MIN_LEVEL_TRACKS = 20


def uses_band_levels(model: Model) -> bool:
    """True for a fitted model that standardises mel bands by levels (a spectrogram VAE that reads audio)."""
    prep = getattr(model, "prep_", None)
    return hasattr(prep, "with_levels") and prep.use_audio


def levels_choice(model: Model, corpus, *, levels: str = "auto") -> str:
    """``"trained"`` or ``"collection"``: the band levels ``model`` reads ``corpus`` with under ``levels``.

    ``"auto"`` (the default everywhere): the collection's own when ``corpus`` is neither the model's training
    corpus nor one of its sources (:func:`core.checkpoint.trained_on`; nothing recorded counts as other data)
    and has audio and at least :data:`MIN_LEVEL_TRACKS` tracks; the training corpus's otherwise. No label is
    read. Models without band levels always answer ``"trained"``.
    """
    if levels not in LEVELS:
        raise BadInputError("--levels", f"'{levels}' is not one of {list(LEVELS)}")
    if not uses_band_levels(model):
        return "trained"
    if levels != "auto":
        return levels
    if not corpus.has_audio or len(corpus) < MIN_LEVEL_TRACKS:
        return "trained"
    said = checkpoint.trained_on(getattr(model, "training_data_", None), corpus.fingerprint())
    return "trained" if said in ("this corpus", "one of its sources") else "collection"


def reader(model: Model, corpus, *, levels: str = "auto", cluster: str | None = None, progress=None) -> Model:
    """The model that reads ``corpus``: ``model`` itself, or a copy that standardises mel bands by the
    collection's own band means (:func:`levels_choice` decides; :func:`collection_levels` measures).

    The spectrogram VAE subtracts per-band levels before it reads a crop, by default those of the corpus it
    was trained on. A collection recorded or encoded otherwise then reaches the encoder shifted (RESULTS.md,
    "Band levels of the collection"). The copy has its own fingerprint, so its latents are cached apart, and
    ``band_levels_`` says which levels it reads with; ``model`` is left untouched.
    """
    if levels_choice(model, corpus, levels=levels) == "trained":
        return model
    return _with_levels(model, collection_levels(model, corpus, cluster=cluster, progress=progress))


def with_collection_levels(model: Model, inputs) -> Model:
    """:func:`reader` with the levels of ``inputs``' clips, for a caller that holds the inputs (the
    benchmarks); a model without band levels, or inputs without clips, give ``model`` back."""
    if not uses_band_levels(model) or inputs.clips is None:
        return model
    return _with_levels(model, inputs.clips.band_stats()[0])


def _with_levels(model: Model, band_mean: np.ndarray) -> Model:
    adapted = copy.copy(model)
    adapted.prep_ = model.prep_.with_levels(band_mean)
    adapted.band_levels_ = "collection"
    return adapted


def band_levels_of(model: Model) -> str:
    """``"collection"`` for a :func:`reader` copy that reads with its collection's levels, else ``"trained"``."""
    return getattr(model, "band_levels_", "trained")


def collection_levels(model: Model, corpus, *, cluster: str | None = None, progress=None) -> np.ndarray:
    """(F,) float32 band means (dB) over every frame of ``corpus``' whole-clip mels, as ``model`` reads them.

    Kept in the feature cache (keyed by the corpus and the mel parameters), so the pages, the encode button
    and ``core encode`` measure a collection once. With ``cluster``, each Dask task sums the bands of a
    chunk (:func:`band_sums_chunk`) and no process holds the whole collection's mels.
    """
    params = input_params(model)
    key = f"band-levels/{hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]}" \
          f"-{corpus.fingerprint()}"

    def compute(report) -> dict[str, np.ndarray]:
        if cluster is None:
            total, _, count = band_sums_chunk(model, corpus, progress=report)
        else:
            total, count = _band_sums_on_cluster(model, corpus, cluster=cluster, progress=report)
        if count == 0:
            raise BadInputError(None, f"no track of corpus '{corpus.name}' has audio to measure band levels on")
        return {"band_mean": (total / count).astype(np.float32)}

    found = FeatureCache().get_or_compute(
        key, compute, progress=progress,
        valid=lambda hit: hit.get("band_mean") is not None and hit["band_mean"].shape == (model.prep_.n_mels,)
        and bool(np.isfinite(hit["band_mean"]).all()))
    return np.asarray(found["band_mean"], np.float32)


def band_sums_chunk(model: Model, corpus, *, progress=None) -> tuple[np.ndarray, np.ndarray, int]:
    """One Dask task (or the whole collection here): per-band sums, squares and frame count of ``corpus``'
    whole-clip mels (:meth:`~core.features.melstore.MelClips.band_sums`)."""
    inputs, _ = build_inputs(corpus, needs={"clips"}, progress=progress, **input_params(model))
    if inputs.clips is None or len(inputs) == 0:
        F = model.prep_.n_mels
        return np.zeros(F), np.zeros(F), 0
    return inputs.clips.band_sums()


def _band_sums_on_cluster(model: Model, corpus, *, cluster: str, progress=None) -> tuple[np.ndarray, int]:
    total, count = np.zeros(model.prep_.n_mels), 0
    for _key, (sums, _squares, frames) in _chunks_on_cluster(
            band_sums_chunk, model, corpus, cluster=cluster, name=f"band-levels-{corpus.fingerprint()[:8]}",
            what=f"band levels on {cluster}", progress=progress):
        total += sums
        count += int(frames)
    return total, count


def latent_part(model: Model, Z: np.ndarray, part: str | None = None) -> np.ndarray:
    """The ``part`` of ``model``'s latents ``Z`` that clusterings, projections and neighbours see
    (:func:`core.blocks.view`); None: the model's default (joint for a model with lyrics and audio)."""
    found = model.latent_blocks()
    return blocks.view(Z, found, part or blocks.default_part(found))


def _valid_latents(hit: dict, *, n_tracks: int, latent_dim: int) -> bool:
    """True when a cached entry is latents of this corpus: ``z`` (n, latent_dim) finite floats and ``rows``
    n distinct, increasing track positions in ``[0, n_tracks)`` (encoding keeps corpus order)."""
    Z, rows = hit.get("z"), hit.get("rows")
    if Z is None or rows is None or Z.ndim != 2 or rows.ndim != 1 or len(Z) != len(rows):
        return False
    if Z.shape[1] != latent_dim or not np.issubdtype(rows.dtype, np.integer) or not np.isfinite(Z).all():
        return False
    return bool(len(rows) == 0 or (rows[0] >= 0 and rows[-1] < n_tracks and (np.diff(rows) > 0).all()))


def encode_chunk(model: Model, corpus) -> tuple[list[str], np.ndarray]:
    """One Dask task: the track ids and latent means of the usable tracks of ``corpus`` (a chunk)."""
    inputs, _ = build_inputs(corpus, needs=model.needs, **input_params(model))
    return list(inputs.track_ids), model.encode(inputs)


def _chunks_on_cluster(fn, model: Model, corpus, *, cluster: str, name: str, what: str, progress=None):
    """Run ``fn(model, chunk)`` on Dask for every chunk of :data:`ENCODE_TASK_TRACKS` tracks of ``corpus``
    (the model sent to each worker once); yield ``(key, result)`` of each chunk that succeeded (a failed
    chunk's tracks are left out, as failed extractions are), in completion order. Keys sort in corpus order."""
    ids = corpus.track_ids
    chunks = {f"{s:09d}": ids[s:s + ENCODE_TASK_TRACKS] for s in range(0, len(ids), ENCODE_TASK_TRACKS)}
    done = 0
    with distributed.open_client(cluster) as client:
        shared = client.scatter(model, broadcast=True)  # sent once, not once per task
        items = {k: (shared, corpus.subset(chunk)) for k, chunk in chunks.items()}
        for key, value, _message in distributed.run_keyed(client, fn, items, name=name):
            if value is not None:
                yield key, value
            done += len(chunks[key])
            if progress:
                progress(done, len(ids), what)


def _encode_on_cluster(model: Model, corpus, *, cluster: str, progress=None) -> tuple[list[str], np.ndarray]:
    """Encode ``corpus`` in chunks on a Dask cluster; ids and latents back in corpus order."""
    parts = dict(_chunks_on_cluster(encode_chunk, model, corpus, cluster=cluster,
                                    name=f"encode-{model.fingerprint()[:8]}-{corpus.fingerprint()[:8]}",
                                    what=f"encoding on {cluster}", progress=progress))
    order = [parts[k] for k in sorted(parts)]
    encoded = [t for part_ids, _ in order for t in part_ids]
    Z = np.concatenate([z for _, z in order]) if order else np.zeros((0, model.latent_dim), np.float32)
    return encoded, np.asarray(Z, dtype=np.float32)


def latents_for(checkpoint_path: str | Path, corpus, *, progress=None,
                cluster: str | None = None) -> tuple[list[str], np.ndarray]:
    """Load a checkpoint and encode ``corpus`` with it (see :func:`encode_corpus`; ``cluster`` likewise).

    Raises :class:`~core.errors.CheckpointError` naming the checkpoint when its
    input sizes do not fit the corpus' inputs.
    """
    _, ids, Z = model_and_latents(checkpoint_path, corpus, progress=progress, cluster=cluster)
    return ids, Z


def model_and_latents(checkpoint_path: str | Path, corpus, *, progress=None, cluster: str | None = None,
                      levels: str = "auto") -> tuple[Model, list[str], np.ndarray]:
    """:func:`latents_for` with the model that read the corpus (:func:`reader` under ``levels``), for
    callers that also need its latent blocks or which band levels it used (:func:`band_levels_of`)."""
    model = checkpoint.load(checkpoint_path)
    try:
        model = reader(model, corpus, levels=levels, cluster=cluster, progress=progress)
        return (model, *encode_corpus(model, corpus, progress=progress, cluster=cluster))
    except CheckpointError:
        raise
    except BadInputError as exc:
        if exc.path == "--levels":
            raise
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

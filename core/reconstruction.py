"""How good a model's spectrogram reconstructions are: log-mel distances and self-retrieval.

Two numbers a listener can read, both on the log-mel in dB (the same excerpt of each track):

* ``dist_recon_db`` -- the RMS difference (dB) between each track and its reconstruction, averaged
  over tracks; shown next to ``dist_corpus_mean_db``, the RMS difference between each track and
  the corpus-mean spectrogram. A model whose reconstruction is no nearer than the corpus mean has
  learned nothing about the individual track (the "same smooth envelope for every track" failure).
* ``self_retrieval`` -- the share of tracks whose reconstruction is nearer (RMS dB) to their own
  spectrogram than to any other track's; chance is ``1 / n`` (``chance``). Ties count as misses.

Both read the timbre: a reconstruction that is the track's average spectrum held still scores well on
them. Two more measures read the time axis (:func:`rhythm_measures`):

* ``onset_r`` -- :func:`onset_envelope_correlation`: how well the reconstruction's onsets (positive
  spectral flux per frame) follow the original's, Pearson r per track, mean over tracks (0: no rhythm
  in common; a reconstruction with no change over time scores 0);
* ``frame_change_ratio`` -- :func:`frame_change_ratio`: how much the reconstruction changes from frame to
  frame (mean absolute dB change between adjacent frames) over how much the original does (1: as
  lively as the original; near 0: a smear that stands still), from ``frame_change_db`` and
  ``frame_change_original_db``.

:func:`reconstruction_measures` works on arrays; :func:`model_reconstruction_measures` asks a
fitted model (any of :data:`core.models.MODELS` whose ``reconstruct`` returns a mel) for the
reconstructions of ``inputs`` first; the whole-clip spectrogram models (``conv``, ``beta``, ``ae`` on
mel) are compared on the excerpt they rebuild (``model.excerpt``). :func:`corpus_reconstruction_measures`
builds the model's inputs from a corpus first (what the dashboard shows). Labels play no part here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import BadInputError
from core.inputs import ModelInputs, build_inputs
from core.latents import input_params

__all__ = ["MEASURES", "RHYTHM_MEASURES", "MAX_TRACKS", "reconstruction_measures", "model_reconstruction_measures",
           "reconstructs_mel", "corpus_reconstruction_measures", "onset_envelope", "onset_envelope_correlation",
           "frame_change_db", "frame_change_ratio", "rhythm_measures"]

#: The keys :func:`reconstruction_measures` returns.
MEASURES = ("self_retrieval", "chance", "dist_recon_db", "dist_corpus_mean_db")
#: The keys :func:`rhythm_measures` returns.
RHYTHM_MEASURES = ("onset_r", "frame_change_ratio", "frame_change_db", "frame_change_original_db")
#: Most tracks :func:`corpus_reconstruction_measures` measures; a seeded sample of this many above.
MAX_TRACKS = 2_000


def reconstruction_measures(original: np.ndarray, reconstruction: np.ndarray) -> dict[str, float]:
    """Log-mel distances and self-retrieval of ``reconstruction`` against ``original``.

    Parameters
    ----------
    original, reconstruction : np.ndarray [shape=(n, n_mels, n_frames)]
        Log-mel spectrograms in dB, row ``i`` of each the same track. Any trailing shape works as
        long as both arrays have the same one; n >= 2.

    Returns
    -------
    dict with ``self_retrieval`` (share in [0, 1]), ``chance`` (1 / n), ``dist_recon_db`` and
    ``dist_corpus_mean_db`` (mean over tracks of the RMS difference in dB).
    """
    O = np.asarray(original, dtype=np.float64)
    R = np.asarray(reconstruction, dtype=np.float64)
    if O.shape != R.shape:
        raise BadInputError("reconstruction", f"has shape {R.shape}, the originals {O.shape}; they must match")
    if O.ndim < 2 or len(O) < 2:
        raise BadInputError("original", f"needs at least 2 tracks as rows, got shape {O.shape}")
    if not (np.isfinite(O).all() and np.isfinite(R).all()):
        raise BadInputError("reconstruction", "holds NaN or infinite values")
    n = len(O)
    O, R = O.reshape(n, -1), R.reshape(n, -1)
    m = O.shape[1]
    # squared RMS distance of every reconstruction (rows) to every original (columns)
    D2 = ((R ** 2).sum(1)[:, None] + (O ** 2).sum(1)[None, :] - 2.0 * R @ O.T) / m
    D = np.sqrt(np.maximum(D2, 0.0))
    own = np.diag(D)
    others = D + np.diag(np.full(n, np.inf))
    hits = own < others.min(axis=1)
    mean_spec = O.mean(axis=0)
    return {
        "self_retrieval": float(hits.mean()),
        "chance": 1.0 / n,
        "dist_recon_db": float(own.mean()),
        "dist_corpus_mean_db": float(np.sqrt(((O - mean_spec) ** 2).mean(axis=1)).mean()),
    }


def _time_series(name: str, value: Any) -> np.ndarray:
    """``value`` as a finite (n, n_mels, n_frames) float array with at least 2 frames, or BadInputError naming it."""
    a = np.asarray(value, dtype=np.float64)
    if a.ndim != 3 or a.shape[0] < 1 or a.shape[2] < 2:
        raise BadInputError(name, f"must be spectrograms of shape (n, n_mels, n_frames) with n >= 1 and at least "
                                  f"2 frames, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise BadInputError(name, "holds NaN or infinite values")
    return a


def _pair(original: Any, reconstruction: Any) -> tuple[np.ndarray, np.ndarray]:
    O, R = _time_series("original", original), _time_series("reconstruction", reconstruction)
    if O.shape != R.shape:
        raise BadInputError("reconstruction", f"has shape {R.shape}, the originals {O.shape}; they must match")
    return O, R


def onset_envelope(*, spectrogram: np.ndarray) -> np.ndarray:
    """Positive spectral flux per frame: how much louder each frame is than the one before, summed over bands.

    Parameters
    ----------
    spectrogram : np.ndarray [shape=(n, n_mels, n_frames)]
        Log-mel spectrograms in dB, n_frames >= 2.

    Returns
    -------
    np.ndarray [shape=(n, n_frames - 1)]
        ``sum_f max(0, X[i, f, t] - X[i, f, t - 1])`` in dB for t = 1 .. n_frames - 1: peaks where notes and
        beats start (only rises count, so a decay does not look like an onset).
    """
    X = _time_series("spectrogram", spectrogram)
    return np.maximum(np.diff(X, axis=2), 0.0).sum(axis=1)


def onset_envelope_correlation(*, original: np.ndarray, reconstruction: np.ndarray) -> float:
    """Mean over tracks of the Pearson r between the onset envelopes of original and reconstruction.

    Parameters
    ----------
    original, reconstruction : np.ndarray [shape=(n, n_mels, n_frames)]
        Log-mel spectrograms in dB of the same excerpt, row ``i`` of each the same track; n_frames >= 3.

    Returns
    -------
    float in [-1, 1]
        A track whose reconstruction has a flat envelope (it never changes, or changes by the same amount
        every frame) counts as r = 0: it has no rhythm in common with the original. A track whose original
        envelope is flat has no rhythm to follow and is left out; NaN when every track's is.
    """
    O, R = _pair(original, reconstruction)
    if O.shape[2] < 3:
        raise BadInputError("original", f"needs at least 3 frames for a correlation of onsets, got {O.shape[2]}")
    envelopes = onset_envelope(spectrogram=O), onset_envelope(spectrogram=R)
    (a, flat_a), (b, flat_b) = (_centred(e) for e in envelopes)
    norms = np.sqrt((a ** 2).sum(axis=1) * (b ** 2).sum(axis=1))
    r = np.where(flat_b, 0.0, (a * b).sum(axis=1) / np.where(flat_a | flat_b, 1.0, norms))
    kept = r[~flat_a]
    return float(np.clip(kept, -1.0, 1.0).mean()) if len(kept) else float("nan")


def _centred(envelope: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row minus its mean, and which rows are flat: a spread at float-rounding level relative to the
    envelope's size is no rhythm, however the rounding happens to correlate."""
    centred = envelope - envelope.mean(axis=1, keepdims=True)
    spread = np.sqrt((centred ** 2).sum(axis=1))
    return centred, spread <= 1e-9 * (1.0 + np.abs(envelope).max(axis=1)) * np.sqrt(envelope.shape[1])


def frame_change_db(*, spectrogram: np.ndarray) -> float:
    """Mean absolute change (dB) between adjacent frames, over tracks, bands and frame pairs.

    spectrogram : np.ndarray [shape=(n, n_mels, n_frames)], log-mel in dB, n_frames >= 2.
    """
    return float(np.abs(np.diff(_time_series("spectrogram", spectrogram), axis=2)).mean())


def frame_change_ratio(*, original: np.ndarray, reconstruction: np.ndarray) -> float:
    """How much the reconstruction changes from frame to frame, relative to the original.

    Parameters
    ----------
    original, reconstruction : np.ndarray [shape=(n, n_mels, n_frames)]
        Log-mel spectrograms in dB of the same excerpt, row ``i`` of each the same track; n_frames >= 2.

    Returns
    -------
    float >= 0
        ``frame_change_db(reconstruction) / frame_change_db(original)``: 1 when the reconstruction moves as
        much as the original, near 0 when it stands still; NaN when the original never changes.
    """
    O, R = _pair(original, reconstruction)
    moves = frame_change_db(spectrogram=O)
    return frame_change_db(spectrogram=R) / moves if moves > 0 else float("nan")


def rhythm_measures(*, original: np.ndarray, reconstruction: np.ndarray) -> dict[str, float]:
    """The time-axis measures of :data:`RHYTHM_MEASURES` for spectrograms of shape (n, n_mels, n_frames) in dB:
    ``onset_r`` (:func:`onset_envelope_correlation`), ``frame_change_ratio`` (:func:`frame_change_ratio`),
    and the two mean frame-to-frame changes in dB it divides (reconstruction, original)."""
    O, R = _pair(original, reconstruction)
    return {
        "onset_r": onset_envelope_correlation(original=O, reconstruction=R),
        "frame_change_ratio": frame_change_ratio(original=O, reconstruction=R),
        "frame_change_db": frame_change_db(spectrogram=R),
        "frame_change_original_db": frame_change_db(spectrogram=O),
    }


def reconstructs_mel(model: Any) -> bool:
    """Whether ``model`` reads (and so reconstructs) a spectrogram: its needs hold ``mel`` or ``clips``."""
    return bool({"mel", "clips"} & set(getattr(model, "needs", ())))


def model_reconstruction_measures(model: Any, inputs: ModelInputs) -> dict[str, float]:
    """:func:`reconstruction_measures` and :func:`rhythm_measures` of a fitted ``model``'s mel reconstructions
    of ``inputs``.

    model : a fitted registry model; its ``reconstruct(inputs)`` must return a ``ModelInputs`` with a mel.
    inputs : :class:`~core.inputs.ModelInputs` with ``mel`` (n, n_mels, n_frames) in dB, or whole-clip
        ``clips`` for the models that rebuild an excerpt of them (compared with ``model.excerpt(inputs)``).
    """
    if getattr(inputs, "clips", None) is not None and "clips" in getattr(model, "needs", ()) and hasattr(model, "excerpt"):
        # a whole-clip model rebuilds ITS excerpt (dB re. full scale), whatever other mels the inputs carry
        original = model.excerpt(inputs)[0]
    elif inputs.mel is None:
        raise BadInputError("inputs", "have no mel spectrograms: reconstruction measures need them")
    else:
        original = inputs.mel
    out = model.reconstruct(inputs)
    if getattr(out, "mel", None) is None:
        raise BadInputError(f"model {getattr(model, 'name', type(model).__name__)!r}",
                            "reconstructs no mel spectrogram (it does not model the audio)")
    return {**reconstruction_measures(original, out.mel), **rhythm_measures(original=original, reconstruction=out.mel)}


def corpus_reconstruction_measures(model: Any, corpus, *, progress=None, max_tracks: int | None = MAX_TRACKS,
                                   random_state: int = 0) -> dict[str, float]:
    """:func:`model_reconstruction_measures` on every usable track of ``corpus`` (the inputs the model was
    trained with: :func:`core.latents.input_params`); ``n`` adds the number of tracks measured and ``of`` the
    number of tracks in the corpus.

    max_tracks : above this many tracks, a seeded uniform sample of that many (``random_state``) is measured:
        self-retrieval compares every reconstruction with every spectrogram (n² distances of 16,384 values),
        and a million tracks would need their inputs built and reconstructed. None: every track.
    """
    if not reconstructs_mel(model):
        raise BadInputError(f"model {getattr(model, 'name', type(model).__name__)!r}",
                            "reconstructs no mel spectrogram (it does not model the audio)")
    total = len(corpus.tracks)
    if max_tracks is not None and total > max_tracks:
        rows = np.sort(np.random.default_rng(random_state).choice(total, size=int(max_tracks), replace=False))
        corpus = corpus.subset(corpus.tracks["track_id"].to_numpy()[rows].tolist())
    inputs, _ = build_inputs(corpus, needs=model.needs, progress=progress, **input_params(model))
    return {**model_reconstruction_measures(model, inputs), "n": len(inputs), "of": total}

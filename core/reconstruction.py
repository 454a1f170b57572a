"""How good a model's spectrogram reconstructions are: log-mel distances and self-retrieval.

Two numbers a listener can read, both on the log-mel in dB (the same excerpt of each track):

* ``dist_recon_db`` -- the RMS difference (dB) between each track and its reconstruction, averaged
  over tracks; shown next to ``dist_corpus_mean_db``, the RMS difference between each track and
  the corpus-mean spectrogram. A model whose reconstruction is no nearer than the corpus mean has
  learned nothing about the individual track (the "same smooth envelope for every track" failure).
* ``self_retrieval`` -- the share of tracks whose reconstruction is nearer (RMS dB) to their own
  spectrogram than to any other track's; chance is ``1 / n`` (``chance``). Ties count as misses.

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

__all__ = ["MEASURES", "reconstruction_measures", "model_reconstruction_measures", "reconstructs_mel",
           "corpus_reconstruction_measures"]

#: The keys :func:`reconstruction_measures` returns.
MEASURES = ("self_retrieval", "chance", "dist_recon_db", "dist_corpus_mean_db")


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


def reconstructs_mel(model: Any) -> bool:
    """Whether ``model`` reads (and so reconstructs) a spectrogram: its needs hold ``mel`` or ``clips``."""
    return bool({"mel", "clips"} & set(getattr(model, "needs", ())))


def model_reconstruction_measures(model: Any, inputs: ModelInputs) -> dict[str, float]:
    """:func:`reconstruction_measures` of a fitted ``model``'s mel reconstructions of ``inputs``.

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
    return reconstruction_measures(original, out.mel)


def corpus_reconstruction_measures(model: Any, corpus, *, progress=None) -> dict[str, float]:
    """:func:`model_reconstruction_measures` on every usable track of ``corpus`` (the inputs the model was
    trained with: :func:`core.latents.input_params`); ``n`` adds the number of tracks measured."""
    if not reconstructs_mel(model):
        raise BadInputError(f"model {getattr(model, 'name', type(model).__name__)!r}",
                            "reconstructs no mel spectrogram (it does not model the audio)")
    inputs, _ = build_inputs(corpus, needs=model.needs, progress=progress, **input_params(model))
    return {**model_reconstruction_measures(model, inputs), "n": len(inputs)}

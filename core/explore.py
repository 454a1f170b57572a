"""Exploring a latent space: cluster members, paths through it, decoding and listening.

The logic behind the dashboard's Explore, Clusters and Latent pages (no presentation:
scatter tables, chart events and CSV rendering live in ``ui/``).
"""

from __future__ import annotations

import threading
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.audio import load_audio
from core.clustering import NeighbourIndex
from core.config import SAMPLE_RATE
from core.errors import BadInputError
from core.features.mel import mel_to_audio
from core.inputs import build_inputs
from core.latents import input_params, mel_params_of

__all__ = ["cluster_members", "colour_choices", "interpolate", "traverse", "Listening", "listen", "decode_point", "search",
           "TrackSearch", "nearest_tracks"]


def cluster_members(
    Z: np.ndarray,
    labels: np.ndarray,
    cluster: int,
    *,
    n: int = 5,
    how: str = "nearest",
    random_state: int | None = 0,
) -> np.ndarray:
    """Indices of ``n`` members of ``cluster``: those nearest its centre, or random ones.

    Parameters
    ----------
    Z : np.ndarray (n_tracks, d) latents.
    labels : np.ndarray (n_tracks,) cluster labels.
    how : ``"nearest"`` (closest to the cluster mean first) or ``"random"``.
    """
    members = np.flatnonzero(np.asarray(labels) == cluster)
    if members.size == 0:
        return members
    if how == "random":
        rng = np.random.default_rng(random_state)
        return rng.permutation(members)[:n]
    if how != "nearest":
        raise ValueError(f"how must be 'nearest' or 'random', got {how!r}")
    centre = Z[members].mean(axis=0)
    order = np.argsort(np.linalg.norm(Z[members] - centre, axis=1), kind="stable")
    return members[order[:n]]


def colour_choices(corpus) -> list[str]:
    """What a map of ``corpus`` can be coloured by: the clustering, the label columns (genre and language first)
    and the columns of a number per track (:meth:`core.corpus.Corpus.measure_columns`, coloured on a ramp)."""
    return (["cluster", "language", "genre"] + [c for c in corpus.label_columns() if c not in ("genre", "language")]
            + corpus.measure_columns())


def varying_colour(tracks: pd.DataFrame, candidates: Sequence[str]) -> str:
    """The first of ``candidates`` that splits ``tracks`` into at least two groups (a language column that
    is empty or one language everywhere colours every point alike, with no legend), else ``"cluster"``."""
    for column in candidates:
        if column in tracks.columns and tracks[column].replace("", np.nan).nunique(dropna=True) > 1:
            return column
    return "cluster"


def search(tracks: pd.DataFrame, query: str, *, columns: Sequence[str] | None = None) -> np.ndarray:
    """Which rows of ``tracks`` match ``query``: np.ndarray (n,) of bool.

    The query is split on whitespace; every word must occur (case-insensitive, as a plain
    substring, not a pattern) in some column of the row: ``rock eng`` finds English rock
    tracks, ``rock.0001`` an id. ``column:word`` looks in that one column only (``genre:pop``).
    An empty query matches nothing.

    columns : where plain words look (default: every column but ``path`` and ``lyrics``).
    A ``column:`` that is no column is part of the word (track ids hold colons: ``eng:rock-01``).

    A page that searches on every keystroke keeps one :class:`TrackSearch` of its table instead: this
    builds one, so it lower-cases the columns it reads on every call.
    """
    return TrackSearch(tracks, columns=columns).match(query)


class TrackSearch:
    """The search of :func:`search` over one table, its columns prepared once (lower-cased text, a column of
    few distinct values as codes into them), so a query costs a few vectorised passes, not a lower-casing of
    every row.

    A word is looked for with pyarrow's substring kernel over each column (tens of milliseconds for a
    million ids); in a column of few distinct values (genre, language, cluster) it is looked for in those
    values only and the answer spread by the codes. Columns are prepared when a query first reads them.
    The table must not change while the index is used (build another for another table).
    """

    def __init__(self, tracks: pd.DataFrame, *, columns: Sequence[str] | None = None):
        self._tracks = tracks
        self.n = len(tracks)
        self.where = [c for c in (columns if columns is not None else tracks.columns) if c not in ("path", "lyrics")]
        self._prepared: dict[str, tuple[np.ndarray | None, object]] = {}
        self._lock = threading.Lock()

    def _column(self, name: str) -> tuple[np.ndarray | None, object]:
        """``(codes, values)``: lower-cased text of every row (codes None), or codes into the distinct values."""
        with self._lock:
            if name not in self._prepared:
                series = self._tracks[name]
                if isinstance(series.dtype, pd.CategoricalDtype):
                    codes = np.asarray(series.cat.codes, dtype=np.int64)
                    values = [str(v).lower() for v in series.cat.categories] + ["nan"]  # code -1: missing
                    codes = np.where(codes < 0, len(values) - 1, codes)
                    self._prepared[name] = (codes, pa.array(values, type=pa.large_string()))
                else:
                    text = series.astype(str).str.lower()
                    codes, uniques = pd.factorize(text)
                    if len(uniques) <= max(16, self.n // 4):
                        self._prepared[name] = (codes.astype(np.int64), pa.array(list(uniques), type=pa.large_string()))
                    else:
                        self._prepared[name] = (None, pa.array(text.tolist(), type=pa.large_string()))
            return self._prepared[name]

    def _contains(self, name: str, word: str) -> np.ndarray:
        codes, values = self._column(name)
        found = pc.match_substring(values, word).to_numpy(zero_copy_only=False)
        return found if codes is None else found[codes]

    def match(self, query: str) -> np.ndarray:
        """Which rows match ``query`` (the rules of :func:`search`): np.ndarray (n,) of bool."""
        words = [w for w in str(query or "").split() if w]
        if not words:
            return np.zeros(self.n, dtype=bool)
        hit = np.ones(self.n, dtype=bool)
        for word in words:
            column, sep, value = word.partition(":")
            if sep and value and column in self._tracks.columns:
                hit &= self._contains(column, value.lower())
                continue
            word_hit = np.zeros(self.n, dtype=bool)
            for c in self.where:
                word_hit |= self._contains(c, word.lower())
            hit &= word_hit
        return hit


def nearest_tracks(index: NeighbourIndex, track_ids: Sequence[str] | pd.Index, track_id: str, *,
                   k: int = 10) -> pd.DataFrame:
    """The ``k`` tracks nearest ``track_id`` in the latent space of ``index`` (euclidean), nearest first.

    index : the NeighbourIndex of the latents whose rows are ``track_ids`` (one tree query per call).
    track_ids : the id of every row; a ``pd.Index`` of them (which a page keeps) finds the row by hashing,
        a list by a scan (about 10 ms at a million tracks).
    Returns a DataFrame with ``rank`` (1 = nearest), ``track_id``, ``distance`` and ``row`` (into ``track_ids``).
    Raises BadInputError when ``track_id`` has no latent.
    """
    try:
        row = _row_of(track_ids, track_id)
    except (KeyError, ValueError):
        raise BadInputError(None, f"track {track_id!r} has no latent vector here") from None
    rows, dist = index.nearest(row, k=k)
    return pd.DataFrame({"rank": np.arange(1, len(rows) + 1), "track_id": [track_ids[i] for i in rows],
                         "distance": dist.astype(float), "row": rows})


def _row_of(track_ids: Sequence[str] | pd.Index, track_id: str) -> int:
    """The row of ``track_id`` in ``track_ids`` (KeyError or ValueError when absent)."""
    if isinstance(track_ids, pd.Index):
        row = track_ids.get_loc(track_id)
        if not isinstance(row, (int, np.integer)):  # a repeated id: its first row
            row = int(np.flatnonzero(np.asarray(track_ids == track_id))[0])
        return int(row)
    return (track_ids if isinstance(track_ids, list) else list(track_ids)).index(track_id)


def interpolate(z_a: np.ndarray, z_b: np.ndarray, *, steps: int) -> np.ndarray:
    """Linear path from ``z_a`` to ``z_b``: np.ndarray (steps, d)."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return (1 - t) * np.asarray(z_a)[None, :] + t * np.asarray(z_b)[None, :]


def traverse(z: np.ndarray, *, dim: int, values: Iterable[float]) -> np.ndarray:
    """Copies of ``z`` with dimension ``dim`` set to each of ``values``: (len(values), d)."""
    values = np.asarray(list(values), dtype=float)
    out = np.repeat(np.asarray(z, dtype=float)[None, :], len(values), axis=0)
    out[:, dim] = values
    return out


class Listening:
    """One track as heard and as the model reconstructs it.

    Attributes
    ----------
    sr : sample rate of both signals.
    audio : np.ndarray (n,) the original clip, or None when the corpus has no audio.
    mel, mel_reconstruction : np.ndarray (128, 128) log-mel in dB, or None.
    audio_reconstruction : np.ndarray (m,) the reconstruction rendered back to sound (Griffin-Lim), or None.
    features, features_reconstruction : np.ndarray (57,) for feature models, or None.
    note : why something is missing, for the UI to show.
    """

    def __init__(self) -> None:
        self.sr: int = 22050
        self.audio = self.mel = self.mel_reconstruction = self.audio_reconstruction = None
        self.features = self.features_reconstruction = None
        self.note: str | None = None


def listen(model, corpus, track_id: str, *, render_audio: bool = True) -> Listening:
    """The original clip of ``track_id`` and the model's reconstruction of it.

    Models on mel spectrograms (conv, beta, ae/pca on mel) reconstruct a log-mel,
    which is turned back into sound. The spectrogram VAEs reconstruct a fixed
    excerpt (the centre 128 frames, ``model.excerpt``) in dB re. full scale: the
    original ``audio`` and ``mel`` are cut to that SAME excerpt, and both signals
    keep their true levels. Models on the 57-value vector reconstruct that vector,
    which has no sound: ``note`` says so.
    """
    out = Listening()
    out.sr = SAMPLE_RATE
    try:
        one = corpus.subset([track_id])  # the track's row by the corpus's id index, not a scan of every id
    except KeyError:
        raise BadInputError(track_id, "no such track in the corpus") from None
    path = one.tracks["path"].iloc[0]
    if path:
        try:
            out.audio = load_audio(path, sr=SAMPLE_RATE)
        except BadInputError as exc:
            out.note = str(exc)
    inputs, skipped = build_inputs(one, needs=set(model.needs), **input_params(model))
    if len(inputs) == 0:
        out.note = "; ".join(str(s) for s in skipped) or "no features for this track"
        return out
    recon = model.reconstruct(inputs)
    original = inputs.mel
    if hasattr(model, "excerpt") and getattr(inputs, "clips", None) is not None:
        original, starts = model.excerpt(inputs)
        params = mel_params_of(model)
        if out.audio is not None:  # the same excerpt of the clip: frames start..start+T-1 (centred frames)
            a = int(starts[0]) * params.hop_length
            out.audio = out.audio[a:a + (original.shape[2] - 1) * params.hop_length]
    if original is not None and getattr(recon, "mel", None) is not None:
        out.mel, out.mel_reconstruction = original[0], recon.mel[0]
        if render_audio:
            out.audio_reconstruction = mel_to_audio(out.mel_reconstruction, params=mel_params_of(model))
    if getattr(inputs, "features", None) is not None and getattr(recon, "features", None) is not None:
        out.features, out.features_reconstruction = inputs.features[0], recon.features[0]
        if out.audio_reconstruction is None:
            out.note = out.note or (
                f"The {model.name} model reconstructs the 57-value feature summary, which has no sound; "
                "choose a ConvVAE or Beta-VAE checkpoint to hear reconstructions."
            )
    return out


def decode_point(model, z: np.ndarray, *, render_audio: bool = True):
    """Decode one latent point: ``(mel (128, 128) dB, audio (n,))`` for mel models,
    ``(features (57,), None)`` for feature models."""
    out = model.decode(np.asarray(z, dtype=np.float32)[None, :])
    if getattr(out, "mel", None) is not None:
        mel = out.mel[0]
        if not render_audio:
            return mel, None
        return mel, mel_to_audio(mel, params=mel_params_of(model))
    return out.features[0], None

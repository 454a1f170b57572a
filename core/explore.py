"""Exploring a latent space: scatter tables, chart selections, cluster members, listening.

UI-agnostic helpers behind the dashboard's Explore, Clusters and Latent pages.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

def scatter_frame(
    track_ids: list[str],
    points: np.ndarray,
    tracks: pd.DataFrame,
    *,
    clusters: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per point: ``x, y[, z]``, the track's metadata and its cluster.

    Parameters
    ----------
    track_ids : list of n ids, the order of ``points``.
    points : np.ndarray (n, 2) or (n, 3) projected coordinates.
    tracks : the corpus track table (``Corpus.tracks``).
    clusters : np.ndarray (n,) of cluster labels (-1 = noise), optional.
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[0] != len(track_ids) or points.shape[1] not in (2, 3):
        raise ValueError(f"points must be (n, 2|3) with n={len(track_ids)}, got {points.shape}")
    frame = pd.DataFrame(points, columns=["x", "y", "z"][: points.shape[1]])
    meta = tracks.set_index("track_id").loc[track_ids].reset_index()
    meta = meta.drop(columns=[c for c in ("path", "lyrics") if c in meta.columns])
    frame = pd.concat([frame, meta], axis=1)
    if clusters is not None:
        frame["cluster"] = [cluster_name(c) for c in np.asarray(clusters)]
    return frame


def cluster_name(label: int) -> str:
    """Display name of a cluster label: ``"noise"`` for -1, else ``"c<label>"``."""
    return "noise" if int(label) < 0 else f"c{int(label)}"


def selected_track_ids(event: Mapping[str, Any] | None) -> list[str]:
    """Track ids of the points selected in a plotly chart event (click, box or lasso).

    The mapping goes through each point's ``customdata`` (whose first value is the
    track id), never through point indices: plotly numbers points per trace, so
    indices are wrong as soon as colouring splits the points into several traces.
    Order of first selection is kept; duplicates are dropped.
    """
    if not event:
        return []
    selection = event.get("selection") if hasattr(event, "get") else None
    if not selection:
        return []
    points = selection.get("points") or []
    ids: list[str] = []
    seen: set[str] = set()
    for point in points:
        data = point.get("customdata")
        if data is None:
            continue
        if isinstance(data, (list, tuple)):
            if not data:
                continue
            data = data[0]
        track_id = str(data)
        if track_id not in seen:
            seen.add(track_id)
            ids.append(track_id)
    return ids


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


def assignments_csv(frame: pd.DataFrame) -> bytes:
    """The cluster assignments (track id, cluster, labels, coordinates) as UTF-8 CSV bytes."""
    cols = [c for c in ("track_id", "cluster", "genre", "language", "source") if c in frame.columns]
    cols += [c for c in frame.columns if c not in cols]
    return frame[cols].to_csv(index=False).encode("utf-8")


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
    which is turned back into sound. Models on the 57-value vector reconstruct
    that vector, which has no sound: ``note`` says so.
    """
    from core.audio import load_audio
    from core.config import SAMPLE_RATE
    from core.errors import BadInputError
    from core.inputs import build_inputs
    from core.latents import mel_params_of

    out = Listening()
    out.sr = SAMPLE_RATE
    row = corpus.tracks.loc[corpus.tracks["track_id"] == track_id]
    if row.empty:
        raise BadInputError(track_id, "no such track in the corpus")
    path = row["path"].iloc[0]
    if path:
        try:
            out.audio = load_audio(path, sr=SAMPLE_RATE)
        except BadInputError as exc:
            out.note = str(exc)
    one = corpus.subset([track_id])
    inputs, skipped = build_inputs(one, needs=set(model.needs), mel_params=mel_params_of(model))
    if len(inputs) == 0:
        out.note = "; ".join(str(s) for s in skipped) or "no features for this track"
        return out
    recon = model.reconstruct(inputs)
    if getattr(inputs, "mel", None) is not None and getattr(recon, "mel", None) is not None:
        out.mel, out.mel_reconstruction = inputs.mel[0], recon.mel[0]
        if render_audio:
            from core.features.mel import mel_to_audio

            out.audio_reconstruction = mel_to_audio(out.mel_reconstruction, params=mel_params_of(model))
    if getattr(inputs, "features", None) is not None and getattr(recon, "features", None) is not None:
        out.features, out.features_reconstruction = inputs.features[0], recon.features[0]
        if out.audio_reconstruction is None:
            out.note = out.note or (
                f"The {model.name} model reconstructs the 57-value feature summary, which has no sound; "
                "choose a ConvVAE or Beta-VAE checkpoint to hear reconstructions."
            )
    return out


#: Above this many points the interactive pages use a sampled silhouette (exact below).
INTERACTIVE_SILHOUETTE_SAMPLE = 3000


def recluster(index, truth: pd.DataFrame, name: str, params: dict, *, random_state: int = 0):
    """Cluster cached latents and score them: what one slider move on the Clusters page costs.

    Parameters
    ----------
    index : ``core.clustering.NeighbourIndex`` of the latents (built once per model and corpus).
    truth : label columns, one row per latent row.
    name, params : clustering method and its parameters.

    Returns ``(ClusterResult, report)`` with ``report`` from ``core.metrics.report``.
    """
    from core import metrics
    from core.clustering import cluster

    result = cluster(name, index.Z, index=index, random_state=random_state, **params)
    n = len(index.Z)
    sample = INTERACTIVE_SILHOUETTE_SAMPLE if n > INTERACTIVE_SILHOUETTE_SAMPLE else None
    report = metrics.report(index.Z, result.labels, truth, sample_size=sample, random_state=random_state,
                            index=index)
    return result, report


def decode_point(model, z: np.ndarray, *, render_audio: bool = True):
    """Decode one latent point: ``(mel (128, 128) dB, audio (n,))`` for mel models,
    ``(features (57,), None)`` for feature models."""
    out = model.decode(np.asarray(z, dtype=np.float32)[None, :])
    if getattr(out, "mel", None) is not None:
        mel = out.mel[0]
        if not render_audio:
            return mel, None
        from core.features.mel import mel_to_audio
        from core.latents import mel_params_of

        return mel, mel_to_audio(mel, params=mel_params_of(model))
    return out.features[0], None

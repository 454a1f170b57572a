"""The 128x128 log-mel spectrogram the ConvVAE sees, and its way back to audio.

Choices (the defaults of :class:`MelParams`):

* ``n_fft=2048`` at 22,050 Hz (93 ms windows) and ``hop_length=1024`` (46 ms,
  half-overlapping windows): the 128 frames cover **5.9 s**, two to three bars
  at common tempos. That is long enough to carry rhythm and timbre, short
  enough that Griffin-Lim reconstructions are still recognisable.
* The 128 frames are taken from the **centre** of the clip (``position="centre"``),
  away from fade-ins and intros; ``position="start"`` takes the first frames.
  Frames are computed only for that window, exactly as if the whole clip had
  been analysed (librosa-style centred frames with zero padding).
* 128 mel bands from ``fmin=0`` to ``fmax=sr/2`` (librosa's Slaney mel scale).
* Levels are in dB **relative to the loudest bin of the window**, floored at
  ``-top_db`` (80 dB). This removes the mastering loudness of a recording, which
  differs across sources and would otherwise dominate the clusters. So a log-mel
  ``M`` lies in ``[-top_db, 0]``, and :func:`to_unit` maps it linearly to
  ``[0, 1]`` (0 = floor, 1 = loudest): the fixed mapping the ConvVAE is trained on.
* Clips shorter than the window are **zero-padded at the end** (the padding sits
  at the dB floor). :func:`core.audio.load_audio` already rejects clips under
  one second.

The spectrogram VAEs (``conv``, ``beta``) read the WHOLE clip instead
(:func:`clip_log_mel`, ``reference="power"``): dB relative to full-scale power 1
(a full-scale sine's bins sit near 0 dB), floored at ``-top_db`` = -100 dB, with
no peak normalisation, so loudness and spectral balance survive; the model then
standardises each band with the corpus' mean and std. Those mels live in the
memory-mapped store of :mod:`core.features.melstore`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import librosa
import numpy as np

POSITIONS = ("centre", "start")
REFERENCES = ("peak", "power")


@dataclass(frozen=True)
class MelParams:
    """How a clip becomes an ``(n_mels, n_frames)`` log-mel image. JSON-safe (saved in checkpoints)."""

    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 1024
    n_mels: int = 128
    n_frames: int = 128
    fmin: float = 0.0
    fmax: float | None = None  #: None: sr / 2
    position: Literal["centre", "start"] = "centre"
    top_db: float = 80.0
    #: "peak": dB re. the window's loudest bin in [-top_db, 0] (:func:`log_mel`); "power": dB re.
    #: full-scale power 1, floored at -top_db, whole clip (:func:`clip_log_mel`)
    reference: Literal["peak", "power"] = "peak"

    def __post_init__(self) -> None:
        for name in ("sr", "n_fft", "hop_length", "n_mels", "n_frames"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"MelParams.{name} must be positive, got {getattr(self, name)}")
        if self.position not in POSITIONS:
            raise ValueError(f"MelParams.position must be one of {POSITIONS}, got {self.position!r}")
        if self.top_db <= 0:
            raise ValueError(f"MelParams.top_db must be positive, got {self.top_db}")
        if self.reference not in REFERENCES:
            raise ValueError(f"MelParams.reference must be one of {REFERENCES}, got {self.reference!r}")

    @property
    def seconds(self) -> float:
        """Length of audio the frames cover."""
        return ((self.n_frames - 1) * self.hop_length + self.n_fft) / self.sr

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MelParams":
        """Inverse of :meth:`to_dict`. Missing fields take their defaults; unknown fields are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown MelParams fields: {unknown}")
        return cls(**d)


@lru_cache(maxsize=16)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)


@lru_cache(maxsize=16)
def _mel_pinv(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    return np.linalg.pinv(_mel_basis(sr, n_fft, n_mels, fmin, fmax)).astype(np.float32)


def _basis_args(params: MelParams) -> tuple:
    return (params.sr, params.n_fft, params.n_mels, params.fmin, params.fmax)


def _window_start(n_total: int, params: MelParams) -> int:
    if n_total <= params.n_frames or params.position == "start":
        return 0
    return (n_total - params.n_frames) // 2


def mel_power(*, y: np.ndarray, params: MelParams = MelParams()) -> np.ndarray:
    """Mel power spectrogram of the ``n_frames`` window of ``y`` (only those frames are computed).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        mono signal at ``params.sr``

    Returns
    -------
    S : np.ndarray [shape=(n_mels, t), dtype=float32], ``t <= n_frames``
        ``t < n_frames`` only when the clip is shorter than the window
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected a mono signal of shape (n,), got shape {y.shape}")
    n_total = 1 + y.shape[0] // params.hop_length  # frames of the whole clip, centred
    start = _window_start(n_total, params)
    count = min(params.n_frames, n_total)
    padded = np.pad(y, params.n_fft // 2)
    a = start * params.hop_length
    segment = padded[a:a + (count - 1) * params.hop_length + params.n_fft]
    if segment.shape[0] < params.n_fft:
        segment = np.pad(segment, (0, params.n_fft - segment.shape[0]))
    D = librosa.stft(segment, n_fft=params.n_fft, hop_length=params.hop_length, center=False)
    power = np.square(np.abs(D))
    return (_mel_basis(*_basis_args(params)) @ power).astype(np.float32, copy=False)


def log_mel(*, y: np.ndarray | None = None, S: np.ndarray | None = None,
            params: MelParams = MelParams()) -> np.ndarray:
    """The ``(n_mels, n_frames)`` log-mel image of a clip, in dB relative to its loudest bin.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)] or None
        mono signal at ``params.sr``
    S : np.ndarray [shape=(n_mels, t)] or None
        a mel *power* spectrogram computed with ``params`` (e.g. by :func:`mel_power`
        or librosa); when ``t > n_frames`` the window is cut from it the same way
    params : MelParams

    Returns
    -------
    M : np.ndarray [shape=(n_mels, n_frames), dtype=float32]
        values in ``[-top_db, 0]``; frames past the end of a short clip sit at ``-top_db``
    """
    if (y is None) == (S is None):
        raise ValueError("give exactly one of y or S")
    if S is None:
        S = mel_power(y=y, params=params)
    else:
        S = np.asarray(S, dtype=np.float32)
        if S.ndim != 2 or S.shape[0] != params.n_mels:
            raise ValueError(f"S must have shape ({params.n_mels}, t), got {S.shape}")
        start = _window_start(S.shape[1], params)
        S = S[:, start:start + params.n_frames]
    amin = 1e-10
    peak = float(S.max()) if S.size else 0.0
    M = np.full((params.n_mels, params.n_frames), -params.top_db, dtype=np.float32)
    if peak > amin:
        db = librosa.power_to_db(S, ref=peak, amin=amin, top_db=params.top_db)
        M[:, :S.shape[1]] = np.clip(db, -params.top_db, 0.0)
    return M


#: The whole-clip log-mel of the spectrogram VAEs: dB re. full-scale power, floor -100 dB.
CLIP_PARAMS = MelParams(reference="power", top_db=100.0)


def clip_log_mel(*, y: np.ndarray, params: MelParams = CLIP_PARAMS) -> np.ndarray:
    """The log-mel of the WHOLE clip in dB re. full-scale power 1 (no peak normalisation).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        mono signal at ``params.sr`` (full scale = 1)
    params : MelParams
        ``n_frames`` and ``position`` are ignored: every frame of the clip is computed

    Returns
    -------
    M : np.ndarray [shape=(n_mels, 1 + n // hop_length), dtype=float32]
        ``10·log10(max(S, 1e-10))`` floored at ``-top_db``
    """
    y = np.asarray(y, dtype=np.float32)
    n_total = 1 + y.shape[0] // params.hop_length
    whole = dataclasses.replace(params, n_frames=n_total, position="start")
    S = mel_power(y=y, params=whole)
    return np.maximum(10.0 * np.log10(np.maximum(S, 1e-10)), -params.top_db).astype(np.float32)


def to_unit(M: np.ndarray, params: MelParams = MelParams()) -> np.ndarray:
    """Map log-mel dB values ``[-top_db, 0]`` to ``[0, 1]`` (clipped): the ConvVAE's input scale.

    Parameters
    ----------
    M : np.ndarray [shape=(..., n_mels, n_frames)]

    Returns
    -------
    U : np.ndarray [shape=M.shape, dtype=float32]
    """
    U = (np.asarray(M, dtype=np.float32) + params.top_db) / params.top_db
    return np.clip(U, 0.0, 1.0)


def from_unit(U: np.ndarray, params: MelParams = MelParams()) -> np.ndarray:
    """Inverse of :func:`to_unit`: ``[0, 1]`` (clipped) back to dB in ``[-top_db, 0]``.

    Parameters
    ----------
    U : np.ndarray [shape=(..., n_mels, n_frames)]

    Returns
    -------
    M : np.ndarray [shape=U.shape, dtype=float32]
    """
    U = np.clip(np.asarray(U, dtype=np.float32), 0.0, 1.0)
    return U * params.top_db - params.top_db


def mel_to_audio(M: np.ndarray, *, params: MelParams = MelParams(), n_iter: int = 16,
                 random_state: int = 0) -> np.ndarray:
    """Audio from a (possibly reconstructed) log-mel, for listening.

    The mel power is mapped back to a linear-frequency magnitude with the
    pseudo-inverse of the mel filter bank (negative values clipped), and the
    phase is estimated by ``n_iter`` Griffin-Lim iterations. With
    ``params.reference == "peak"`` the result is peak-normalised to 0.9 (those
    log-mels carry no absolute level); with ``"power"`` (dB re. full scale, the
    spectrogram VAEs' mels) it keeps its TRUE level, clipped to [-1, 1], so an
    original and its reconstruction can be compared by ear. About 0.1 s for a
    128x128 image.

    Parameters
    ----------
    M : np.ndarray [shape=(n_mels, t)]
        log-mel in dB as returned by :func:`log_mel` (use :func:`from_unit` first
        for a ConvVAE output in ``[0, 1]``)

    Returns
    -------
    y : np.ndarray [shape=((t - 1) * hop_length,), dtype=float32]
    """
    M = np.asarray(M, dtype=np.float32)
    if M.ndim != 2 or M.shape[0] != params.n_mels:
        raise ValueError(f"M must have shape ({params.n_mels}, t), got {M.shape}")
    power = librosa.db_to_power(np.nan_to_num(M, nan=-params.top_db))
    magnitude = np.sqrt(np.maximum(_mel_pinv(*_basis_args(params)) @ power, 0.0))
    y = librosa.griffinlim(magnitude, n_iter=n_iter, hop_length=params.hop_length, n_fft=params.n_fft,
                           random_state=random_state)
    if params.reference == "power":
        return np.clip(y, -1.0, 1.0).astype(np.float32, copy=False)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 0:
        y = y * (0.9 / peak)
    return y.astype(np.float32, copy=False)

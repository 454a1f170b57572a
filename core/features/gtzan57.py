"""The 57-value GTZAN feature vector (the Kaggle ``features_30_sec.csv`` layout).

Each value summarises one frame-level feature over the whole clip by its mean
and its (population) variance. Every feature uses librosa's defaults
(``n_fft=2048``, ``hop_length=512``, centred frames, Hann window):

==========================  ==================================================
chroma_stft                 ``librosa.feature.chroma_stft`` (tuning estimated)
rms                         ``librosa.feature.rms`` on the waveform
spectral_centroid           ``librosa.feature.spectral_centroid``
spectral_bandwidth          ``librosa.feature.spectral_bandwidth`` (p=2)
rolloff                     ``librosa.feature.spectral_rolloff`` (85 %)
zero_crossing_rate          ``librosa.feature.zero_crossing_rate``
harmony, perceptr           the harmonic and percussive *signals* of
                            ``librosa.effects.hpss`` (kernel 31, soft masks);
                            their means are close to zero
tempo                       the global tempo of ``librosa.beat.beat_track``
                            (a single value, no variance)
mfcc1 .. mfcc20             ``librosa.feature.mfcc(n_mfcc=20)``
==========================  ==================================================

Two implementations compute the same numbers:

* :func:`gtzan57_reference` is the straightforward pipeline, one librosa call
  per feature. It documents what each value means and is the benchmark's
  reference.
* :func:`gtzan57` is the fast one. It computes the STFT once and derives every
  spectral feature, the HPSS and the mel spectrogram from it; the mel
  spectrogram in dB feeds both the MFCCs and the onset envelope of the tempo
  estimate. The two median filters of HPSS (the slow step: ~0.9 s of the ~1.25 s
  per 30 s clip in the reference) run as an exact running median compiled with
  numba (:mod:`core.features.median`), and only the harmonic signal is
  inverted: the soft masks sum to one, so the percussive signal is the clip
  minus the harmonic signal.

Both reproduce the published Kaggle rows (checked by ``tests/test_features.py``
on real GTZAN clips).
"""

from __future__ import annotations

from functools import lru_cache

import librosa
import numpy as np
import scipy.sparse

from core.corpus.columns import FEATURE_NAMES
from core.features.median import median_filter_1d

N_FFT = 2048
HOP_LENGTH = 512
HPSS_KERNEL = 31
N_MFCC = 20


def _check_signal(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected a mono signal of shape (n,), got shape {y.shape}")
    if y.size == 0:
        raise ValueError("empty signal")
    if not np.isfinite(y).all():
        raise ValueError("signal contains NaN or infinite samples")
    return y


def _summary(values: dict[str, np.ndarray], tempo: float) -> np.ndarray:
    out = np.empty(len(FEATURE_NAMES), dtype=np.float64)
    for i, name in enumerate(FEATURE_NAMES):
        if name == "tempo":
            out[i] = tempo
            continue
        base, stat = name.rsplit("_", 1)
        a = values[base]
        out[i] = np.mean(a, dtype=np.float64) if stat == "mean" else np.var(a, dtype=np.float64)
    return out


# --------------------------------------------------------------------------- reference
def gtzan57_reference(*, y: np.ndarray, sr: int = 22050) -> np.ndarray:
    """The 57 GTZAN features, one plain librosa call per feature.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        mono audio signal
    sr : int
        sample rate of ``y``

    Returns
    -------
    features : np.ndarray [shape=(57,), dtype=float64]
        in the order of :data:`FEATURE_NAMES`
    """
    y = _check_signal(y)
    harmonic, percussive = librosa.effects.hpss(y)
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=N_MFCC)
    values = {
        "chroma_stft": librosa.feature.chroma_stft(y=y, sr=sr),
        "rms": librosa.feature.rms(y=y),
        "spectral_centroid": librosa.feature.spectral_centroid(y=y, sr=sr),
        "spectral_bandwidth": librosa.feature.spectral_bandwidth(y=y, sr=sr),
        "rolloff": librosa.feature.spectral_rolloff(y=y, sr=sr),
        "zero_crossing_rate": librosa.feature.zero_crossing_rate(y),
        "harmony": harmonic,
        "perceptr": percussive,
    }
    values.update({f"mfcc{i + 1}": mfcc[i] for i in range(N_MFCC)})
    return _summary(values, float(np.atleast_1d(tempo)[0]))


@lru_cache(maxsize=8)
def _mel_basis(sr: int) -> np.ndarray:
    return librosa.filters.mel(sr=sr, n_fft=N_FFT)


@lru_cache(maxsize=8)
def _fft_freqs(sr: int) -> np.ndarray:
    return librosa.fft_frequencies(sr=sr, n_fft=N_FFT).astype(np.float32)[:, None]


@lru_cache(maxsize=8)
def _mel_sparse(sr: int):
    return scipy.sparse.csr_matrix(_mel_basis(sr))


@lru_cache(maxsize=64)
def _chroma_basis(sr: int, tuning: float) -> np.ndarray:
    return librosa.filters.chroma(sr=sr, n_fft=N_FFT, tuning=tuning)


def _estimate_tuning(power: np.ndarray, sr: int) -> float:
    """``librosa.estimate_tuning(S=power, sr=sr, bins_per_octave=12)``, computed on its band only.

    librosa's ``piptrack`` interpolates peaks over the whole spectrogram; only the
    150-4000 Hz band is used, so this works on those bins (plus one neighbour each side)
    and interpolates at the peaks only.
    """
    freqs = _fft_freqs(sr)[:, 0]
    band = np.flatnonzero((150.0 <= freqs) & (freqs < min(4000.0, sr / 2)))
    if band.size == 0:
        return 0.0
    lo, hi = int(band[0]), int(band[-1]) + 1  # 1 <= lo, hi <= n_bins - 1
    X = power[lo - 1:hi + 1]
    ref = 0.1 * power.max(axis=0)
    Xm = X * (X > ref)
    centre = Xm[1:-1]
    f_idx, t_idx = np.nonzero((centre > Xm[:-2]) & (centre >= Xm[2:]))
    if f_idx.size == 0:
        return 0.0
    x0 = X[f_idx + 1, t_idx]
    xp = X[f_idx + 2, t_idx]
    xm = X[f_idx, t_idx]
    a = (xp + xm).astype(np.float64) - 2 * x0.astype(np.float64)
    b = (xp - xm).astype(np.float64) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(b) >= np.abs(a), 0.0, -b / a).astype(power.dtype)
    mags = x0 + (0.5 * b.astype(power.dtype)) * shift
    pitches = ((f_idx + lo) + shift) * (float(sr) / N_FFT)
    pitches = pitches.astype(power.dtype)
    keep = pitches > 0
    threshold = np.median(mags[keep]) if keep.any() else 0.0
    return float(librosa.pitch_tuning(pitches[(mags >= threshold) & keep], resolution=0.01,
                                      bins_per_octave=12))


@lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    return librosa.filters.get_window("hann", n_fft, fftbins=True).astype(np.float32)


def _istft(D: np.ndarray, *, length: int) -> np.ndarray:
    """``librosa.istft(D, length=length)`` for hop = n_fft / 4 (overlap-add by reshaping)."""
    n_bins, n_frames = D.shape
    n_fft = 2 * (n_bins - 1)
    hop = n_fft // 4
    win = _window(n_fft)
    frames = np.fft.irfft(np.ascontiguousarray(D.T), n=n_fft, axis=-1).astype(np.float32, copy=False)
    frames *= win
    frames = frames.reshape(n_frames, 4, hop)
    out = np.zeros((n_frames + 3, hop), np.float32)
    norm = np.zeros((n_frames + 3, hop), np.float32)
    win_sq = np.square(win).reshape(4, hop)
    for k in range(4):
        out[k:k + n_frames] += frames[:, k]
        norm[k:k + n_frames] += win_sq[k]
    out = out.ravel()
    norm = norm.ravel()
    nonzero = norm > np.finfo(np.float32).tiny
    out[nonzero] /= norm[nonzero]
    out = out[n_fft // 2:n_fft // 2 + length]
    return np.pad(out, (0, length - out.shape[0])) if out.shape[0] < length else out


def _zero_crossing_rate(y: np.ndarray) -> np.ndarray:
    """``librosa.feature.zero_crossing_rate(y)[0]`` from one cumulative sum of crossings."""
    padded = np.pad(y, N_FFT // 2, mode="edge")
    negative = padded < -1e-10  # librosa counts |x| <= 1e-10 as zero, and zero as positive
    crossings = np.concatenate(([0], np.cumsum(negative[1:] != negative[:-1])))
    starts = np.arange(1 + (padded.shape[0] - N_FFT) // HOP_LENGTH) * HOP_LENGTH
    return (crossings[starts + N_FFT - 1] - crossings[starts]) / float(N_FFT)


def _soft_mask(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``x**2 / (x**2 + ref**2)``, 0.5 where both are ~0 (librosa's softmask, power 2, margin 1)."""
    a = np.square(x)
    total = np.square(ref)
    total += a
    bad = total < np.finfo(total.dtype).tiny
    total[bad] = 1
    a /= total
    a[bad] = 0.5
    return a


def gtzan57(*, y: np.ndarray, sr: int = 22050) -> np.ndarray:
    """The 57 GTZAN features, fast: one STFT shared by every feature.

    Same parameters, shapes and values as :func:`gtzan57_reference` (to float32
    rounding), 7-9x faster on one core for a 30 s clip (``bench/bench_features.py``):
    ``y`` (n,) mono at ``sr`` -> (57,) float64 in the order of :data:`FEATURE_NAMES`.
    """
    y = _check_signal(y)
    D = librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH)  # (1025, t) complex64
    mag = np.abs(D)
    power = np.square(mag)

    # spectral shape, from the magnitude
    freqs = _fft_freqs(sr)
    total = mag.sum(axis=0)
    norm = np.where(total > 0, total, 1.0).astype(mag.dtype)
    weights = mag / norm
    centroid = (freqs * weights).sum(axis=0)
    bandwidth = np.sqrt((weights * np.square(freqs - centroid)).sum(axis=0))
    cum = np.cumsum(mag, axis=0)
    above = cum >= 0.85 * cum[-1]
    rolloff = freqs[np.argmax(above, axis=0), 0]

    # harmonic / percussive split: y_p = y - y_h because the two masks sum to 1
    harm = median_filter_1d(mag, size=HPSS_KERNEL, axis=1)
    perc = median_filter_1d(mag, size=HPSS_KERNEL, axis=0)
    y_harm = _istft(D * _soft_mask(harm, perc), length=y.shape[0])
    y_perc = y - y_harm

    # mel in dB: MFCCs and the onset envelope of the tempo estimate
    mel_db = librosa.power_to_db(_mel_sparse(sr) @ power)
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=N_MFCC)
    onset = librosa.onset.onset_strength(S=mel_db, sr=sr, hop_length=HOP_LENGTH, n_fft=N_FFT,
                                         aggregate=np.median)
    if onset.any():
        tempo = float(librosa.feature.tempo(onset_envelope=onset, sr=sr, hop_length=HOP_LENGTH)[0])
    else:  # what beat_track reports when nothing happens
        tempo = 0.0

    values = {
        "chroma_stft": librosa.util.normalize(_chroma_basis(sr, _estimate_tuning(power, sr)) @ power,
                                              norm=np.inf, axis=0),
        "rms": librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP_LENGTH),
        "spectral_centroid": centroid,
        "spectral_bandwidth": bandwidth,
        "rolloff": rolloff,
        "zero_crossing_rate": _zero_crossing_rate(y),
        "harmony": y_harm,
        "perceptr": y_perc,
    }
    values.update({f"mfcc{i + 1}": mfcc[i] for i in range(N_MFCC)})
    return _summary(values, tempo)

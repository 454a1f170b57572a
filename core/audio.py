"""Loading one audio clip, robustly: any common format and rate in, mono float32 at 22,050 Hz out.

:func:`load_audio` reads WAV, AU/SND (GTZAN's original layout), FLAC, OGG/Opus,
AIFF and MP3 through libsndfile (``soundfile``); other extensions (m4a, aac,
wma) go through ``audioread`` when a system decoder is present. Stereo and
multi-channel audio is averaged to mono; any sample rate is resampled to
``sr`` with soxr (librosa's default high-quality resampler).

Policy for bad input: every problem raises :class:`~core.errors.BadInputError`
naming the file and what is wrong, so batch callers can skip and list it:

===========================  ==================================================
missing file / a folder      "file not found" / "is a folder, not an audio file"
not audio (.txt, .jpg ...)   "not an audio file (extension ...)"
0-byte file                  "empty file (0 bytes)"
bad or truncated header      "unreadable or corrupt audio file (...)"
truncated audio data         "truncated: the header promises 30.00 s, only 14.90 s could be decoded"
no samples                   "no audio samples"
shorter than ``min_seconds`` "too short: 0.40 s of audio, at least 1 s needed"
NaN or infinite samples      "contains NaN or infinite samples"
silent                       "silent: peak level below -100 dBFS"
===========================  ==================================================

Truncated files (a download or copy cut short) are **skipped**, by this rule:
when the file's header promises more audio than can be decoded, by more than
:data:`TRUNCATION_TOLERANCE` (1%, and at least 0.1 s), the file is refused with
both lengths in the message. Its features would describe a shorter, cut clip
while its ``length`` said otherwise. WAV files are checked against the size of
their ``data`` chunk (libsndfile silently reads what is there), MP3/FLAC/OGG
against the frame count of their header (e.g. the MP3 Xing header).

Clips that are long enough but shorter than a feature window are *not* an
error here: :func:`core.features.mel.log_mel` zero-pads them to its 128 frames.

Long files are analysed on a window, so memory never grows with a file's length:
the 57 GTZAN features are defined on 30-second clips, so a file longer than
:data:`WHOLE_UP_TO` (32 s: GTZAN's clips run a little over 30 s and stay whole)
is read as its centre :data:`WINDOW_SECONDS` (30 s), and only that part is read
from disk (a seek for libsndfile formats; for audioread formats the decoded
stream is skipped up to the window and dropped after it). Every feature, the
log-mel and the audio the dashboard plays describe that window.
"""

from __future__ import annotations

from pathlib import Path

import audioread
import librosa
import numpy as np
import soundfile as sf

from core.config import SAMPLE_RATE
from core.errors import BadInputError, looks_like

#: File extensions treated as audio (lower case, with the dot).
AUDIO_EXTENSIONS = frozenset({
    ".wav", ".au", ".snd", ".flac", ".ogg", ".oga", ".opus", ".mp3",
    ".aif", ".aiff", ".m4a", ".aac", ".wma",
})
#: Extensions libsndfile cannot decode; read through audioread when possible.
_AUDIOREAD_ONLY = frozenset({".m4a", ".aac", ".wma"})

#: A clip whose peak absolute sample is at most this (-100 dBFS) is silent.
SILENCE_PEAK = 1e-5
#: A file whose decoded length falls short of its header's by more than this fraction (and 0.1 s) is truncated.
TRUNCATION_TOLERANCE = 0.01
#: Seconds of a long file that are analysed: its centre (the length of a GTZAN clip).
WINDOW_SECONDS = 30.0
#: Files up to this long are read whole; longer ones as their centre WINDOW_SECONDS.
WHOLE_UP_TO = 32.0


def centre_window(total_seconds: float) -> tuple[float, float | None]:
    """``(offset, duration)`` of what is analysed in a file of ``total_seconds``: all of it, or its centre window."""
    if total_seconds <= WHOLE_UP_TO:
        return 0.0, None
    return (total_seconds - WINDOW_SECONDS) / 2, WINDOW_SECONDS


def _short_by(promised: int, decoded: int, sr: int) -> bool:
    return promised - decoded > max(TRUNCATION_TOLERANCE * promised, 0.1 * sr)


def _truncated(path: Path, promised: int, decoded: int, sr: int) -> BadInputError:
    return BadInputError(path, f"truncated: the header promises {promised / sr:.2f} s, only {decoded / sr:.2f} s "
                               "could be decoded (the file was cut short); skipped")


def _wav_data_sizes(path: Path) -> tuple[int, int] | None:
    """(bytes the WAV ``data`` chunk declares, bytes present after its header), or None when the file is not
    a plain RIFF/WAVE or declares no size (streamed WAVs write 0 or 0xFFFFFFFF)."""
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = path.stat().st_size
        pos = 12
        for _ in range(64):  # a WAV has a handful of chunks before its data
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                return None
            declared = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                if declared in (0, 0xFFFFFFFF):
                    return None
                return declared, size - (pos + 8)
            pos += 8 + declared + (declared & 1)
    return None


def is_audio_path(path: str | Path) -> bool:
    """True when ``path`` has an audio file extension (the file itself is not opened)."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def _read_soundfile(path: Path, offset: float, duration: float | None, window: bool) -> tuple[np.ndarray, int]:
    try:
        with sf.SoundFile(str(path)) as f:
            native_sr = int(f.samplerate)
            if window and f.frames > 0:
                offset, duration = centre_window(f.frames / native_sr)
            start = int(round(offset * native_sr))
            if f.frames > 0 and start >= f.frames:
                raise BadInputError(path, f"offset {offset:g} s is past the end of the audio "
                                          f"({f.frames / native_sr:.2f} s)")
            if start:
                f.seek(start)
            frames = -1 if duration is None else int(round(duration * native_sr))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
            promised = f.frames - start if frames < 0 else min(frames, f.frames - start)
            if f.frames > 0 and _short_by(promised, data.shape[0], native_sr):
                raise _truncated(path, f.frames, start + data.shape[0], native_sr)
            total = f.frames
        if path.suffix.lower() == ".wav":
            sizes = _wav_data_sizes(path)
            if sizes is not None and total > 0:
                declared, present = sizes
                promised_frames = int(total * declared / max(present, 1))
                if present < declared and _short_by(promised_frames, total, native_sr):
                    raise _truncated(path, promised_frames, total, native_sr)
    except BadInputError:
        raise
    except OSError as exc:
        raise BadInputError(path, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise BadInputError(path, _unreadable(path, exc)) from None
    return data, native_sr


def _read_audioread(path: Path, offset: float, duration: float | None, window: bool) -> tuple[np.ndarray, int]:
    try:
        chunks = []
        with audioread.audio_open(str(path)) as f:
            native_sr, channels = int(f.samplerate), max(int(f.channels), 1)
            if window and (f.duration or 0) > 0:
                offset, duration = centre_window(float(f.duration))
            # keep only the samples of [start, stop): the stream is decoded in order, never held whole
            start = int(round(offset * native_sr)) * channels
            stop = None if duration is None else start + int(round(duration * native_sr)) * channels
            seen = 0
            for buf in f:
                block = np.frombuffer(buf, dtype="<i2")
                lo, hi = max(start - seen, 0), len(block) if stop is None else min(stop - seen, len(block))
                if hi > lo:
                    chunks.append(block[lo:hi].copy())
                seen += len(block)
                if stop is not None and seen >= stop:
                    break
    except Exception as exc:  # audioread raises many unrelated types (NoBackendError, DecodeError, OSError)
        raise BadInputError(path, f"unreadable audio file ({_short(exc)}); convert it to WAV, FLAC or MP3") from None
    data = np.concatenate(chunks) if chunks else np.zeros(0, dtype="<i2")
    data = data[: len(data) - len(data) % channels]
    return (data.astype(np.float32) / 32768.0).reshape(-1, channels), native_sr


def _unreadable(path: Path, exc: BaseException) -> str:
    """Why ``path`` could not be decoded: what it is when its first bytes say (a PNG named .mp3), else the
    decoder's words (libsndfile's own for an unknown format, "possibly a pipe?", would mislead)."""
    try:
        with open(path, "rb") as fh:
            what = looks_like(fh.read(16))
    except OSError:
        what = ""
    if what and not any(word in what for word in ("audio", "RIFF", "unknown")):
        return f"not an audio file: it looks like {what}, not {path.suffix.lstrip('.').upper() or 'audio'} audio"
    return f"unreadable or corrupt audio file ({_short(exc)})"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def load_audio(path: str | Path, *, sr: int = SAMPLE_RATE, offset: float = 0.0,
               duration: float | None = None, min_seconds: float = 1.0) -> np.ndarray:
    """Read an audio file as a mono float32 signal at ``sr`` Hz.

    Parameters
    ----------
    path : str or Path
        audio file (WAV, AU, FLAC, OGG, MP3, AIFF; m4a/aac/wma with a system decoder)
    sr : int > 0
        target sample rate; the file is resampled (soxr, high quality) when it differs
    offset : float >= 0
        start reading this many seconds into the file
    duration : float > 0 or None
        read at most this many seconds (None: to the end). With neither ``offset`` nor ``duration``, a
        file longer than :data:`WHOLE_UP_TO` is read as its centre :data:`WINDOW_SECONDS` (module docstring)
    min_seconds : float >= 0
        clips shorter than this (after offset/duration) are rejected

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        mono signal, finite, not silent, ``n >= min_seconds * sr``

    Raises
    ------
    BadInputError
        naming the file and the problem (see the module docstring for the list)
    """
    if sr <= 0:
        raise ValueError(f"sr must be positive, got {sr}")
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    if duration is not None and duration <= 0:
        raise ValueError(f"duration must be positive or None, got {duration}")
    path = Path(path)
    if not path.exists():
        raise BadInputError(path, "file not found")
    if path.is_dir():
        raise BadInputError(path, "is a folder, not an audio file")
    if not is_audio_path(path):
        kind = f"extension '{path.suffix}'" if path.suffix else "no file extension"
        raise BadInputError(path, f"not an audio file ({kind}; expected one of "
                                  f"{', '.join(sorted(AUDIO_EXTENSIONS))})")
    if path.stat().st_size == 0:
        raise BadInputError(path, "empty file (0 bytes)")

    window = offset == 0 and duration is None  # the whole file asked for: its analysis window
    if path.suffix.lower() in _AUDIOREAD_ONLY:
        data, native_sr = _read_audioread(path, offset, duration, window)
    else:
        data, native_sr = _read_soundfile(path, offset, duration, window)

    if data.shape[0] == 0:
        raise BadInputError(path, "no audio samples")
    y = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(y).all():
        raise BadInputError(path, "contains NaN or infinite samples")
    seconds = y.shape[0] / native_sr
    if seconds < min_seconds:
        raise BadInputError(path, f"too short: {seconds:.2f} s of audio, at least {min_seconds:g} s needed")
    if float(np.max(np.abs(y))) <= SILENCE_PEAK:
        raise BadInputError(path, "silent: peak level below -100 dBFS")
    if native_sr != sr:
        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq")
    return np.ascontiguousarray(y, dtype=np.float32)


def n_samples(path: str | Path, *, sr: int = SAMPLE_RATE) -> int:
    """Number of samples :func:`load_audio` returns for the whole file at ``sr``, from its header.

    Raises
    ------
    BadInputError
        when the header cannot be read
    """
    path = Path(path)
    if path.suffix.lower() in _AUDIOREAD_ONLY:
        return int(load_audio(path, sr=sr, min_seconds=0.0).shape[0])
    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise BadInputError(path, f"unreadable or corrupt audio file ({_short(exc)})") from None
    if int(info.samplerate) == sr:
        return int(info.frames)
    return int(np.ceil(info.frames * sr / info.samplerate))

"""Audio joining: consecutive clips concatenated into one cached WAV (BanglaBeats' 30-second tracks)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import soundfile as sf

from core import config
from core.audio import load_audio
from core.filehash import file_hash
from core.io import atomic_write, clean_stale_temps


def joined_wav(paths: list[Path]) -> Path:
    """Concatenate audio clips into one cached 16-bit WAV and return its path.

    The WAV lies in ``core.config.CACHE_DIR / "joined"``, named by a hash of the clips' paths, sizes and
    modification times, so it is written once; a ``.sha1`` stamp beside it holds the content hash of the WAV
    as written, and a cached WAV that no longer matches it (truncated, damaged) is joined again. Clips are read with :func:`core.audio.load_audio` (mono,
    22,050 Hz); one that does not load raises its ``BadInputError``.
    """
    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    out = Path(config.CACHE_DIR) / "joined" / f"{h.hexdigest()[:24]}.wav"
    stamp = out.with_suffix(".sha1")
    if _intact(out, stamp):
        return out
    parts = [load_audio(p, sr=config.SAMPLE_RATE, min_seconds=0.0) for p in paths]
    audio = np.concatenate(parts)
    clean_stale_temps(out.parent)
    atomic_write(out, lambda fh: sf.write(fh, audio, config.SAMPLE_RATE, subtype="PCM_16", format="WAV"))
    atomic_write(stamp, file_hash(out))  # written after the WAV: a WAV without its stamp is rebuilt
    return out


def _intact(out: Path, stamp: Path) -> bool:
    """True when the cached WAV is the one written: its content hash matches the stamp beside it
    (a truncated or damaged WAV, or one without a stamp, is rebuilt)."""
    try:
        return stamp.read_text(encoding="ascii").strip() == file_hash(out)
    except (OSError, UnicodeDecodeError):
        return False

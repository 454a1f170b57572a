"""The embedded demo corpus: procedurally synthesised English and Bangla music.

Nothing is downloaded: every track is rendered with numpy/scipy from a small
musical plan (tempo, key, mode, chord progression, drum or tabla pattern,
instruments, melody motif) drawn from a per-genre :class:`Style`. The same
seed gives the same bytes, whatever the number of worker processes.

Genres (11 classes; ``rock``, ``pop`` and ``hiphop`` exist in both languages,
with the same audio style: there the lyrics carry the language)::

    eng  classical jazz rock pop disco hiphop
    bng  baul adhunik rock pop hiphop

Default size: :data:`DEFAULT_TRACKS` = 220 tracks (20 per class) of
:data:`DEFAULT_SECONDS` = 10 s at 22,050 Hz, 16-bit mono WAV (about 97 MB).
10 s keeps the 57-feature extraction and the 128x128 log-mel cheap while still
holding 4 to 8 bars of music; the whole corpus renders in well under a minute
on 2 cores. Within a genre the key, tempo, mode, progression, instruments,
mix, dynamics, brightness, reverb and noise level all vary, so the genre
clusters overlap as in real corpora.

Lyrics are English (Latin script) or Bangla (real Bangla words in Bengali
script, from the small word lists below); every classical track and about
15% of the others are instrumental, with empty lyrics.

The manifest ``out_dir/manifest.csv`` has ``track_id, path, genre, language,
lyrics, source`` (paths relative to ``out_dir``) plus ``tempo, key, mode,
instrumental``; ``out_dir/demo.json`` is the stamp that :func:`ensure_demo`
checks before reusing a corpus.
"""

from __future__ import annotations

import json
import math
import os
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from core.corpus import Corpus
from core.errors import BadInputError
from core.parallel import process_pool
from core.progress import Progress

#: Bump whenever the rendered audio or lyrics change: stale demo folders are regenerated.
GENERATOR_VERSION = 1
DEFAULT_TRACKS = 220
DEFAULT_SECONDS = 10.0
DEFAULT_SEED = 0
DEFAULT_SR = 22050
MANIFEST = "manifest.csv"
STAMP = "demo.json"

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

#: Heptatonic modes (semitones above the tonic): Western modes and raga-like thaats.
MODES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "bhairav": (0, 1, 4, 5, 7, 8, 11),
    "bhairavi": (0, 1, 3, 5, 7, 8, 10),
    "yaman": (0, 2, 4, 6, 7, 9, 11),
    "khamaj": (0, 2, 4, 5, 7, 9, 10),
    "kafi": (0, 2, 3, 5, 7, 9, 10),
}
#: Melody scales other than the mode itself.
MELODY_SCALES = {
    "blues": (0, 3, 5, 6, 7, 10),
    "pent_major": (0, 2, 4, 7, 9),
    "pent_minor": (0, 3, 5, 7, 10),
}

#: Drum patterns, 16 sixteenth-steps per bar: "x" full hit, "o" soft hit, "." rest.
KITS = {
    "rock": [
        {"kick": "x.......x.x.....", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "x.....x...x.....", "snare": "....x.......x..o", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "x...x...x...x...", "snare": "....x.......x...", "crash": "x...............",
         "hat": "x.x.x.x.x.x.x.x."},
    ],
    "pop": [
        {"kick": "x.......x.......", "snare": "....x.......x...", "hat": "x.o.x.o.x.o.x.o."},
        {"kick": "x..x....x.......", "clap": "....x.......x...", "hat": "..x...x...x...x."},
        {"kick": "x...x...x...x...", "snare": "....x.......x...", "shaker": "oxoxoxoxoxoxoxox"},
    ],
    "disco": [
        {"kick": "x...x...x...x...", "clap": "....x.......x...", "ohat": "..x...x...x...x.", "hat": "x.o.x.o.x.o.x.o."},
        {"kick": "x...x...x...x...", "snare": "....x.......x...", "ohat": "..x...x...x...x.",
         "shaker": "oooooooooooooooo"},
    ],
    "hiphop": [
        {"kick": "x......x..x.....", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "x.....x.......x.", "clap": "....x.......x...", "hat": "xoxoxoxoxoxoxoxo"},
        {"kick": "x..x......x..x..", "snare": "....x.......x...", "hat": "x.xxx.x.x.xxx.x."},
    ],
    "jazz": [
        {"ride": "x...x..ox...x..o", "hat": "....x.......x...", "kick": "x...........o...",
         "snare": "......o.......o."},
        {"ride": "x...x..ox...x..o", "hat": "....x.......x...", "snare": "..o.....o.o....."},
    ],
    # tabla-like bols; cycles of 16 (keherwa, 8 matras) or 12 (dadra, 6 matras) steps
    "tabla": [
        {"dha": "x.......o.......", "ge": "..x.............", "na": "....x.x.....x.x.", "ke": "..........x.....",
         "dhin": "........x......."},
        {"dha": "x.....x.....", "dhin": "..x.........", "na": "....x.....x.", "tin": "........x..."},
        {"dha": "x...x...o...x...", "na": "..x...x...x...x.", "ge": "......x.......x.", "ke": ".............x.."},
    ],
}


@dataclass(frozen=True)
class Style:
    """How one genre of one language sounds. Every field is a range or a set of choices."""

    genre: str
    language: str
    tempo: tuple[float, float]
    kits: tuple[str, ...]
    modes: tuple[str, ...]
    progressions: tuple[tuple[int, ...], ...]
    chords: tuple[str, ...]
    bass: tuple[str, ...]
    leads: tuple[str, ...]
    melody: tuple[str, ...] = ("mode",)
    bars_per_chord: tuple[int, ...] = (1,)
    sevenths: float = 0.0
    drone: float = 0.0
    swing: tuple[float, float] = (0.0, 0.0)
    swing_unit: int = 2
    density: tuple[float, float] = (0.4, 0.7)
    brightness: tuple[float, float] = (4000.0, 10000.0)
    noise: tuple[float, float] = (0.001, 0.02)
    reverb: tuple[float, float] = (0.05, 0.25)
    instrumental: float = 0.15


_POP = dict(
    tempo=(96, 128), kits=("pop",), modes=("major", "major", "minor", "mixolydian"),
    progressions=((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 0, 4)),
    chords=("pad", "piano", "strum", "epiano"), bass=("rock", "soft"), leads=("pluck", "fm_bell", "saw_lead", "flute"),
    melody=("mode", "pent_major"), density=(0.45, 0.75), brightness=(5000, 11000),
)
_ROCK = dict(
    tempo=(110, 160), kits=("rock",), modes=("minor", "mixolydian", "dorian", "major"),
    progressions=((0, 3, 4, 3), (0, 6, 3, 0), (0, 5, 6, 4), (0, 0, 3, 4)),
    chords=("power", "power", "strum"), bass=("rock",), leads=("dist_guitar", "dist_guitar", "pluck"),
    melody=("pent_minor", "blues", "mode"), density=(0.5, 0.85), brightness=(6000, 11000), noise=(0.003, 0.03),
)
_HIPHOP = dict(
    tempo=(78, 100), kits=("hiphop",), modes=("minor", "dorian", "phrygian", "harmonic_minor"),
    progressions=((0, 5), (0, 3, 4, 3), (0, 0, 5, 6), (0, 6, 5, 6)),
    chords=("epiano", "pad", "piano"), bass=("sub",), leads=("fm_bell", "piano_lead", "flute"),
    melody=("pent_minor", "mode"), bars_per_chord=(1, 2), sevenths=0.6, swing=(0.0, 0.35), swing_unit=2,
    density=(0.2, 0.45), brightness=(3500, 8000),
)

#: The demo's genres, in the order tracks are dealt out (round robin).
STYLES: tuple[Style, ...] = (
    Style("classical", "eng", tempo=(60, 100), kits=("none",), modes=("major", "minor", "harmonic_minor"),
          progressions=((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 2, 3, 0, 3, 4)),
          chords=("strings", "piano_arp"), bass=("cello", "none"), leads=("violin", "piano_lead", "flute"),
          bars_per_chord=(1, 2), density=(0.35, 0.7), brightness=(3000, 7000), noise=(0.0005, 0.008),
          reverb=(0.2, 0.45), instrumental=1.0),
    Style("jazz", "eng", tempo=(90, 170), kits=("jazz",), modes=("major", "dorian", "mixolydian"),
          progressions=((1, 4, 0, 0), (0, 5, 1, 4), (2, 5, 1, 4)),
          chords=("epiano", "piano"), bass=("walking",), leads=("sax", "piano_lead", "pluck"),
          melody=("mode", "blues"), sevenths=1.0, swing=(0.4, 0.7), swing_unit=4,
          density=(0.35, 0.65), brightness=(3500, 8000), reverb=(0.1, 0.3)),
    Style("rock", "eng", **_ROCK),
    Style("pop", "eng", **_POP),
    Style("disco", "eng", tempo=(112, 128), kits=("disco",), modes=("minor", "dorian", "major"),
          progressions=((0, 3), (0, 6, 5, 4), (0, 3, 6, 2)),
          chords=("strings", "epiano", "strum"), bass=("disco",), leads=("saw_lead", "fm_bell", "strings_lead"),
          sevenths=0.7, density=(0.4, 0.7), brightness=(6000, 11000)),
    Style("hiphop", "eng", **_HIPHOP),
    Style("baul", "bng", tempo=(84, 132), kits=("tabla",), modes=("khamaj", "bhairavi", "kafi", "major"),
          progressions=((0,), (0, 4), (0, 3, 0, 4)),
          chords=("none", "harmonium"), bass=("none",), leads=("ektara", "flute", "ektara"),
          melody=("pent_major", "mode"), bars_per_chord=(2, 4), drone=1.0, density=(0.45, 0.8),
          brightness=(3500, 8000), noise=(0.003, 0.03), reverb=(0.05, 0.2)),
    Style("adhunik", "bng", tempo=(70, 104), kits=("tabla", "pop"),
          modes=("yaman", "bhairav", "khamaj", "major", "kafi"),
          progressions=((0, 3, 4, 0), (0, 4, 3, 0), (0, 5, 3, 4)),
          chords=("harmonium", "strings", "piano"), bass=("soft",), leads=("flute", "violin", "pluck"),
          bars_per_chord=(1, 2), drone=0.3, density=(0.35, 0.65), brightness=(3500, 8000), reverb=(0.15, 0.4)),
    Style("rock", "bng", **_ROCK),
    Style("pop", "bng", **_POP),
    Style("hiphop", "bng", **_HIPHOP),
)


# ============================================================== synthesis kit
def _midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69.0) / 12.0)


def _env(n: int, sr: int, *, attack: float, decay: float, release: float = 0.02) -> np.ndarray:
    """Amplitude envelope, shape (n,): linear attack, exponential decay (time constant ``decay`` s), short release."""
    t = np.arange(n) / sr
    e = np.exp(-t / max(decay, 1e-3))
    a = min(max(int(attack * sr), 1), n)
    e[:a] *= np.linspace(0.0, 1.0, a, endpoint=False)
    r = min(int(release * sr), n)
    if r > 1:
        e[-r:] *= np.linspace(1.0, 0.0, r)
    return e


def _additive(freq: float, n: int, sr: int, amps, *, vibrato: float = 0.0, vib_rate: float = 5.5,
              phase: float = 0.0) -> np.ndarray:
    """Sum of harmonics ``k*freq`` with amplitudes ``amps`` (those above Nyquist dropped), shape (n,).

    Rendered from a one-period wavetable, so the cost does not grow with the number of harmonics.
    """
    size = 2048
    x = np.arange(size) / size
    table = np.zeros(size + 1)
    for k, a in enumerate(amps, start=1):
        if a and k * freq < sr / 2 - 200:
            table[:size] += a * np.sin(2 * np.pi * k * x + phase * k)
    table[size] = table[0]
    t = np.arange(n) / sr
    cycles = freq * t
    if vibrato:
        cycles = cycles + freq * (vibrato / (2 * np.pi * vib_rate)) * np.sin(2 * np.pi * vib_rate * t)
    return np.interp((cycles % 1.0) * size, np.arange(size + 1), table)


def _saw(freq: float, n: int, sr: int, *, detune: float = 0.0) -> np.ndarray:
    """Two slightly detuned naive sawtooths, shape (n,)."""
    t = np.arange(n) / sr
    a = 2.0 * ((freq * (1 + detune) * t) % 1.0) - 1.0
    b = 2.0 * ((freq * (1 - detune) * t + 0.37) % 1.0) - 1.0
    return 0.5 * (a + b)


def _fm(freq: float, n: int, sr: int, *, ratio: float, index: float, decay: float) -> np.ndarray:
    """Two-operator FM tone with a decaying modulation index, shape (n,)."""
    t = np.arange(n) / sr
    idx = index * np.exp(-t / decay)
    return np.sin(2 * np.pi * freq * t + idx * np.sin(2 * np.pi * freq * ratio * t))


def _pluck(freq: float, n: int, sr: int, rng: np.random.Generator, *, damping: float = 0.996,
           brightness: float = 0.5) -> np.ndarray:
    """Karplus-Strong plucked string (a comb filter on a noise burst), shape (n,)."""
    from scipy.signal import lfilter

    period = max(int(round(sr / freq)), 2)
    burst = rng.uniform(-1, 1, period)
    if brightness < 1.0:  # soften the pick with a two-tap average
        burst = lfilter([0.5 * (1 + brightness), 0.5 * (1 - brightness)], [1], burst)
    x = np.zeros(n)
    x[: min(period, n)] = burst[: min(period, n)]
    a = np.zeros(period + 2)
    a[0] = 1.0
    a[period] = -0.5 * damping
    a[period + 1] = -0.5 * damping
    return lfilter([1.0], a, x)


@lru_cache(maxsize=256)
def _sos(order: int, lo: float | None, hi: float | None, sr: int) -> np.ndarray:
    """Butterworth second-order sections: band-pass [lo, hi], high-pass (hi None) or low-pass (lo None)."""
    from scipy.signal import butter

    top = sr * 0.45
    if lo and hi:
        return butter(order, [lo, min(hi, top)], btype="band", fs=sr, output="sos")
    if lo:
        return butter(order, lo, btype="high", fs=sr, output="sos")
    return butter(order, min(hi, top), btype="low", fs=sr, output="sos")


def _noise(n: int, rng: np.random.Generator, sr: int, lo: float | None, hi: float | None) -> np.ndarray:
    """White noise band-limited to [lo, hi] Hz (either may be None), shape (n,)."""
    from scipy.signal import sosfilt

    x = rng.standard_normal(n)
    return sosfilt(_sos(2, lo, hi, sr), x) if (lo or hi) else x


def _lowpass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    from scipy.signal import sosfilt

    return sosfilt(_sos(order, None, float(cutoff), sr), x)


def _add(buf: np.ndarray, start: int, sig: np.ndarray, gain: float = 1.0) -> None:
    """Mix ``sig`` into ``buf`` from sample ``start``, cut at the end of ``buf``."""
    if start >= len(buf) or start < 0:
        return
    end = min(len(buf), start + len(sig))
    buf[start:end] += gain * sig[: end - start]


# ---------------------------------------------------------------- percussion
def _drum_samples(rng: np.random.Generator, sr: int, tonic_hz: float) -> dict[str, np.ndarray]:
    """One sample per drum / tabla bol, slightly different for every track."""
    s: dict[str, np.ndarray] = {}
    n = int(0.45 * sr)
    t = np.arange(n) / sr
    f_hi, f_lo = rng.uniform(100, 160), rng.uniform(40, 60)
    freq = f_lo + (f_hi - f_lo) * np.exp(-t / 0.03)
    s["kick"] = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / rng.uniform(0.08, 0.18))
    n808 = int(0.9 * sr)
    t8 = np.arange(n808) / sr
    s["kick808"] = np.sin(2 * np.pi * np.cumsum(f_lo + 60 * np.exp(-t8 / 0.02)) / sr) * np.exp(-t8 / 0.4)
    ns = int(0.3 * sr)
    s["snare"] = (0.7 * _noise(ns, rng, sr, 1500, 9000) * _env(ns, sr, attack=0.001, decay=rng.uniform(0.05, 0.12))
                  + 0.5 * _additive(rng.uniform(170, 220), ns, sr, [1, 0.3]) * _env(ns, sr, attack=0.001, decay=0.04))
    clap = np.zeros(ns)
    for k, d in enumerate((0.0, 0.011, 0.023)):
        burst = _noise(ns, rng, sr, 900, 5000) * _env(ns, sr, attack=0.001, decay=0.012 if k < 2 else 0.09)
        _add(clap, int(d * sr), burst)
    s["clap"] = clap
    nh = int(0.08 * sr)
    s["hat"] = _noise(nh, rng, sr, 7000, None) * _env(nh, sr, attack=0.0005, decay=rng.uniform(0.01, 0.03))
    no = int(0.35 * sr)
    s["ohat"] = _noise(no, rng, sr, 6000, None) * _env(no, sr, attack=0.001, decay=0.15)
    s["shaker"] = _noise(nh, rng, sr, 4000, 12000) * _env(nh, sr, attack=0.01, decay=0.02)
    nr = int(0.9 * sr)
    ride = sum(_additive(f, nr, sr, [1]) for f in rng.uniform(3000, 7000, 6)) / 6
    s["ride"] = (0.6 * ride + 0.4 * _noise(nr, rng, sr, 5000, None)) * _env(nr, sr, attack=0.001, decay=0.35)
    nc = int(1.2 * sr)
    s["crash"] = _noise(nc, rng, sr, 3000, None) * _env(nc, sr, attack=0.001, decay=0.5)
    # tabla-like bols: dayan (treble, tuned to the tonic) and bayan (bass, pitch glide)
    sa = tonic_hz
    while sa < 250:
        sa *= 2
    nd = int(0.6 * sr)
    click = _noise(int(0.01 * sr), rng, sr, 2000, None)
    na = _additive(sa, nd, sr, [1, 0.5, 0.35, 0.2, 0.1]) * _env(nd, sr, attack=0.001, decay=rng.uniform(0.12, 0.25))
    na[: len(click)] += 0.4 * click
    s["na"] = na
    s["tin"] = _additive(sa, nd, sr, [0.2, 0.8, 0.4]) * _env(nd, sr, attack=0.001, decay=0.18)
    nb = int(0.7 * sr)
    tb = np.arange(nb) / sr
    gf = rng.uniform(80, 110) * (1 + 0.25 * (1 - np.exp(-tb / 0.08)))  # bayan meend: pitch rises
    ge = np.sin(2 * np.pi * np.cumsum(gf) / sr) * np.exp(-tb / rng.uniform(0.2, 0.4))
    s["ge"] = ge
    s["ke"] = _noise(int(0.05 * sr), rng, sr, None, 1200) * _env(int(0.05 * sr), sr, attack=0.0005, decay=0.012)
    s["dha"] = _mix_pad(na, ge)
    s["dhin"] = _mix_pad(s["tin"], ge)
    return s


def _mix_pad(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(max(len(a), len(b)))
    out[: len(a)] += a
    out[: len(b)] += b
    return out


# ------------------------------------------------------------------ pitched
def _note(inst: str, midi: float, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One note of instrument ``inst`` lasting ``n`` samples, shape (n,)."""
    f = _midi_hz(midi)
    if inst in ("pluck", "strum"):
        return _pluck(f, n, sr, rng, damping=0.995, brightness=0.5)
    if inst == "ektara":
        x = _pluck(f, n, sr, rng, damping=0.997, brightness=1.0)
        return np.tanh(2.0 * x) * 0.7  # bright, buzzy single string
    if inst in ("dist_guitar", "power"):
        x = _saw(f, n, sr, detune=0.004) * _env(n, sr, attack=0.005, decay=0.8)
        return np.tanh(4.0 * _lowpass(x, 3500, sr)) * 0.5
    if inst in ("piano", "piano_lead", "piano_arp"):
        x = _additive(f, n, sr, [1, 0.5, 0.3, 0.2, 0.12, 0.08, 0.05])
        return x * _env(n, sr, attack=0.002, decay=0.6 if midi < 60 else 0.4) * 0.5
    if inst in ("epiano", "fm_bell"):
        ratio, index = (1.0, 1.8) if inst == "epiano" else (3.5, 2.5)
        return _fm(f, n, sr, ratio=ratio, index=index, decay=0.3) * _env(n, sr, attack=0.003, decay=0.7)
    if inst in ("pad", "strings", "strings_lead"):
        x = _lowpass(_saw(f, n, sr, detune=0.006), 2500 if inst == "pad" else 4000, sr)
        if inst != "pad":  # bowed tremolo
            x = x * (1 + 0.1 * np.sin(2 * np.pi * 5.0 * np.arange(n) / sr))
        return x * _env(n, sr, attack=0.25 if inst != "strings_lead" else 0.06, decay=6.0, release=0.15) * 0.5
    if inst == "violin":
        x = _additive(f, n, sr, [1, 0.6, 0.45, 0.3, 0.25, 0.15, 0.1, 0.08], vibrato=0.012)
        return x * _env(n, sr, attack=0.08, decay=4.0, release=0.08) * 0.4
    if inst == "cello":
        x = _additive(f, n, sr, [1, 0.7, 0.4, 0.3, 0.15], vibrato=0.008)
        return x * _env(n, sr, attack=0.06, decay=3.0, release=0.08) * 0.5
    if inst == "harmonium":
        x = _additive(f, n, sr, [1, 0.8, 0.6, 0.5, 0.35, 0.25, 0.2, 0.12])
        x += 0.6 * _additive(f * 1.003, n, sr, [1, 0.5, 0.3])  # second reed, slightly sharp
        return x * _env(n, sr, attack=0.05, decay=8.0, release=0.1) * 0.3
    if inst == "flute":
        x = _additive(f, n, sr, [1, 0.25, 0.08], vibrato=0.01) + 0.05 * _noise(n, rng, sr, 1500, 6000)
        return x * _env(n, sr, attack=0.05, decay=3.0, release=0.06) * 0.6
    if inst == "sax":
        x = _additive(f, n, sr, [1, 0.8, 0.6, 0.5, 0.3, 0.25, 0.15, 0.1], vibrato=0.01)
        return np.tanh(1.5 * x) * _env(n, sr, attack=0.03, decay=2.0, release=0.05) * 0.4
    if inst == "saw_lead":
        return _lowpass(_saw(f, n, sr, detune=0.003), 5000, sr) * _env(n, sr, attack=0.01, decay=1.5) * 0.4
    if inst == "drone":
        x = _additive(f, n, sr, [1, 0.7, 0.6, 0.5, 0.45, 0.35, 0.3, 0.25, 0.2, 0.15])
        return x * (0.8 + 0.2 * np.sin(2 * np.pi * 0.7 * np.arange(n) / sr)) * 0.15
    if inst in ("bass_rock", "bass_disco", "bass_soft"):
        x = _lowpass(_saw(f, n, sr), 600 if inst != "bass_soft" else 350, sr)
        return x * _env(n, sr, attack=0.005, decay=0.5 if inst != "bass_soft" else 1.2)
    if inst == "bass_sub":
        return np.sin(2 * np.pi * f * np.arange(n) / sr) * _env(n, sr, attack=0.005, decay=0.9)
    if inst == "bass_walk":
        return _lowpass(_pluck(f, n, sr, rng, damping=0.993, brightness=0.2), 900, sr) * 1.2
    raise ValueError(f"unknown instrument {inst!r}")


# =================================================================== planning
def _plan(index: int, seed: int, duration: float, sr: int) -> dict:
    """Everything that decides one track: style and the random draws, as plain values."""
    style = STYLES[index % len(STYLES)]
    rng = np.random.default_rng([seed, index, 1])
    mode = str(rng.choice(style.modes))
    melody = str(rng.choice(style.melody))
    plan = {
        "index": index,
        "seed": seed,
        "style": STYLES.index(style),
        "genre": style.genre,
        "language": style.language,
        "tempo": float(round(rng.uniform(*style.tempo), 1)),
        "key": int(rng.integers(0, 12)),
        "mode": mode,
        "melody_scale": melody,
        "kit": str(rng.choice(style.kits)),
        "chords": str(rng.choice(style.chords)),
        "bass": str(rng.choice(style.bass)),
        "lead": str(rng.choice(style.leads)),
        "drone": bool(rng.random() < style.drone),
        "sevenths": bool(rng.random() < style.sevenths),
        "duration": float(duration),
        "sr": int(sr),
        "instrumental": bool(rng.random() < style.instrumental),
    }
    plan["key_name"] = f"{NOTE_NAMES[plan['key']]} {mode}"
    return plan


# ================================================================== rendering
@dataclass
class _Song:
    """The musical grid and harmony of one track, shared by the parts that render it."""

    style: Style
    plan: dict
    rng: np.random.Generator
    sr: int
    n_total: int  # samples
    step: float  # one sixteenth, seconds
    n_steps: int
    tonic: int  # MIDI note, C3..B3
    mode: tuple[int, ...]
    progression: tuple[int, ...]
    bars_per_chord: int
    swing: float

    def t_of(self, s: int) -> int:
        """Sample position of sixteenth step ``s``, with swing and a little human timing."""
        pos = s * self.step
        unit = self.style.swing_unit
        if self.swing and s % unit == unit // 2:
            pos += self.swing * self.step * (unit / 2)
        return max(int((pos + self.rng.normal(0, 0.004)) * self.sr), 0)

    def degree_midi(self, deg: int, base: int) -> int:
        """MIDI note of scale degree ``deg`` (any integer) of the mode above ``base``."""
        octave, d = divmod(deg, len(self.mode))
        return base + 12 * octave + self.mode[d]

    def chord_at(self, s: int) -> int:
        """Scale degree of the chord root sounding at step ``s``."""
        return self.progression[(s // 16 // self.bars_per_chord) % len(self.progression)]

    def samples(self, steps: float) -> int:
        return int(steps * self.step * self.sr)


def _drums(song: _Song) -> np.ndarray:
    """Drum kit or tabla-like bols on the kit's pattern, shape (n_total,)."""
    out = np.zeros(song.n_total)
    kit = song.plan["kit"]
    if kit == "none":
        return out
    samples = _drum_samples(song.rng, song.sr, _midi_hz(song.tonic))
    pattern = KITS[kit][int(song.rng.integers(len(KITS[kit])))]
    for name, hits in pattern.items():
        sample = samples["kick808" if (name == "kick" and kit == "hiphop") else name]
        for s in range(song.n_steps):
            c = hits[s % len(hits)]
            if c != ".":
                _add(out, song.t_of(s), sample, (1.0 if c == "x" else 0.5) * song.rng.uniform(0.8, 1.0))
    return out


def _drone(song: _Song) -> np.ndarray:
    """Tanpura-like drone on Sa and Pa (sometimes Ma), shape (n_total,)."""
    out = np.zeros(song.n_total)
    if song.plan["drone"]:
        fifth = 7 if song.rng.random() < 0.8 else 5
        for m in (song.tonic - 12, song.tonic - 12 + fifth, song.tonic):
            out += _note("drone", m, song.n_total, song.sr, song.rng)
    return out


def _chord_hits(inst: str, s0: int, bar: int, tones: list[int],
                bars_per_chord: int) -> list[tuple[int, int, list[int]]]:
    """``(step, length in steps, notes)`` of one bar of accompaniment played by ``inst``."""
    if inst == "power":
        power = [tones[0], tones[0] + 7, tones[0] + 12]
        return [(s0 + k, 2, power) for k in range(0, 16, 2)]
    if inst in ("pad", "strings", "harmonium"):
        return [(s0, 16 * bars_per_chord, tones)] if bar % bars_per_chord == 0 else []
    if inst == "piano_arp":
        return [(s0 + k, 3, [tones[(k // 2) % len(tones)] + (12 if k >= 8 else 0)]) for k in range(0, 16, 2)]
    if inst == "epiano":
        return [(s0 + k, 3, tones) for k in (0, 6, 10)]
    if inst == "strum":
        return [(s0 + k, 4, tones) for k in (0, 4, 6, 10, 12)]
    return [(s0, 8, tones), (s0 + 8, 8, tones)]  # piano


def _harmony(song: _Song) -> np.ndarray:
    """Chords of the progression played by the accompaniment instrument, shape (n_total,)."""
    out = np.zeros(song.n_total)
    inst = song.plan["chords"]
    if inst == "none":
        return out
    degrees = (0, 2, 4, 6) if song.plan["sevenths"] else (0, 2, 4)
    for bar in range(song.n_steps // 16 + 1):
        s0 = bar * 16
        tones = [song.degree_midi(song.chord_at(s0) + k, song.tonic) for k in degrees]
        for s, length, notes in _chord_hits(inst, s0, bar, tones, song.bars_per_chord):
            if s >= song.n_steps:
                continue
            n = song.samples(length) + int(0.1 * song.sr)
            for j, m in enumerate(notes):
                offset = int(j * 0.012 * song.sr) if inst == "strum" else 0
                _add(out, song.t_of(s) + offset, _note(inst, m, n, song.sr, song.rng),
                     0.35 * song.rng.uniform(0.8, 1.0))
    return out


_BASS_VOICE = {"rock": "bass_rock", "disco": "bass_disco", "sub": "bass_sub", "soft": "bass_soft",
               "walking": "bass_walk", "cello": "cello"}


def _bass(song: _Song) -> np.ndarray:
    """Bass line following the chord roots in the style's bass pattern, shape (n_total,)."""
    out = np.zeros(song.n_total)
    bass = song.plan["bass"]
    if bass == "none":
        return out
    low = song.tonic - 24
    prev = song.tonic - 12
    for s in range(0, song.n_steps, 2):
        root = song.degree_midi(song.chord_at(s), low)
        if bass == "rock":
            m, length, play = root, 2, True
        elif bass == "disco":  # octave bounce
            m, length, play = root + (12 if (s // 2) % 2 else 0), 2, True
        elif bass == "sub":
            m, length, play = root, 6, s % 16 in (0, 6, 10)
        elif bass in ("soft", "cello"):
            m, length, play = root, 8, s % 8 == 0
        else:  # walking: quarter notes on chord tones and passing notes
            play = s % 4 == 0
            third = song.degree_midi(song.chord_at(s) + 2, low)
            choices = [root, root + 7, third, prev + int(song.rng.choice((-2, -1, 1, 2)))]
            m, length = int(choices[int(song.rng.integers(len(choices)))]), 4
        if play:
            prev = m
            _add(out, song.t_of(s), _note(_BASS_VOICE[bass], m, song.samples(length), song.sr, song.rng),
                 song.rng.uniform(0.8, 1.0))
    return out


def _melody(song: _Song, density: float) -> np.ndarray:
    """A two-bar motif on the melody scale, repeated with variations, shape (n_total,)."""
    out = np.zeros(song.n_total)
    rng, lead = song.rng, song.plan["lead"]
    scale = song.mode if song.plan["melody_scale"] == "mode" else MELODY_SCALES[song.plan["melody_scale"]]
    base = song.tonic if lead in ("dist_guitar", "sax", "violin") else song.tonic + 12
    motif = []
    deg, s = int(rng.integers(0, len(scale))), 0
    while s < 32:
        dur = int(rng.choice((2, 2, 4, 4, 6, 8) if density < 0.55 else (1, 2, 2, 2, 4)))
        if rng.random() < density:
            deg = int(np.clip(deg + rng.choice((-2, -1, -1, 0, 1, 1, 2)), -2, 2 * len(scale)))
            motif.append((s, dur, deg))
        s += dur
    for rep in range(song.n_steps // 32 + 1):
        shift = int(rng.choice((0, 0, 1, -1, 2))) if rep % 2 else 0  # answer phrase moved on the scale
        for s, dur, d in motif:
            st = rep * 32 + s
            if st >= song.n_steps:
                break
            if rng.random() < 0.1:  # variation: drop a note
                continue
            octave, k = divmod(d + shift, len(scale))
            n = song.samples(dur) + int(0.05 * song.sr)
            _add(out, song.t_of(st), _note(lead, base + 12 * octave + scale[k], n, song.sr, rng),
                 0.45 * rng.uniform(0.75, 1.0))
    if lead == "ektara":  # the ektara's rhythmic strum on Sa between phrases
        for s in range(0, song.n_steps, 4):
            _add(out, song.t_of(s + 2), _note("ektara", song.tonic + 12, song.samples(2), song.sr, rng), 0.2)
    return out


def _master(song: _Song, stems: dict[str, np.ndarray]) -> np.ndarray:
    """Mix the stems, add room reverb, tone (low-pass), noise floor and dynamics; shape (n_total,)."""
    from scipy.signal import fftconvolve

    rng, sr, n_total, style = song.rng, song.sr, song.n_total, song.style
    gains = {"drums": rng.uniform(0.5, 1.0), "bass": rng.uniform(0.4, 0.9), "chords": rng.uniform(0.4, 1.0),
             "lead": rng.uniform(0.5, 1.0), "drone": rng.uniform(0.5, 1.0)}
    mix = sum(gains[k] * _normalise(v) for k, v in stems.items())
    ir_n = int(rng.uniform(0.3, 1.2) * sr)
    ir = rng.standard_normal(ir_n) * np.exp(-np.arange(ir_n) / (0.18 * ir_n))
    ir /= np.sqrt(np.sum(ir ** 2))
    wet = rng.uniform(*style.reverb)
    mix = (1 - wet) * mix + wet * fftconvolve(mix, ir)[:n_total]
    mix = _normalise(_lowpass(mix, rng.uniform(*style.brightness), sr))
    mix += rng.uniform(*style.noise) * rng.standard_normal(n_total)
    t = np.linspace(0.0, 1.0, n_total)
    wobble = np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t * song.plan["duration"])
    swell = 1.0 + rng.uniform(-0.4, 0.4) * t + 0.15 * wobble
    mix *= np.clip(swell, 0.2, 2.0)
    fade = min(int(0.02 * sr), n_total // 2)
    mix[:fade] *= np.linspace(0.0, 1.0, fade)
    mix[n_total - fade:] *= np.linspace(1.0, 0.0, fade)
    return _normalise(mix) * rng.uniform(0.3, 0.95)


def render(plan: dict) -> np.ndarray:
    """Render one planned track (see :func:`_plan`) to float audio in [-1, 1], shape (round(duration * sr),)."""
    style = STYLES[plan["style"]]
    rng = np.random.default_rng([plan["seed"], plan["index"], 2])
    step = 60.0 / plan["tempo"] / 4.0
    song = _Song(
        style=style, plan=plan, rng=rng, sr=plan["sr"], n_total=int(round(plan["duration"] * plan["sr"])),
        step=step, n_steps=int(math.ceil(plan["duration"] / step)) + 1, tonic=48 + plan["key"],
        mode=MODES[plan["mode"]], progression=style.progressions[int(rng.integers(len(style.progressions)))],
        bars_per_chord=int(rng.choice(style.bars_per_chord)), swing=float(rng.uniform(*style.swing)),
    )
    density = float(rng.uniform(*style.density))
    stems = {"drums": _drums(song), "drone": _drone(song), "chords": _harmony(song), "bass": _bass(song),
             "lead": _melody(song, density)}
    return _master(song, stems)


def _normalise(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return x / peak if peak > 0 else x


# ==================================================================== lyrics
_EN = {
    "pron": ("I", "you", "we", "they", "she"),
    "poss": ("my", "your", "our", "their"),
    "verb": ("run", "burn", "dance", "dream", "fall", "shine", "break", "hold", "call", "move", "ride", "sing",
             "wait", "fly"),
    "adj": ("golden", "broken", "electric", "lonely", "wild", "silver", "endless", "quiet", "burning", "velvet"),
    "rock": ("fire", "road", "thunder", "engine", "storm", "highway", "steel", "rebel", "night", "scream"),
    "pop": ("heart", "love", "summer", "kiss", "baby", "light", "forever", "tonight", "dream", "smile"),
    "hiphop": ("street", "block", "rhyme", "flow", "hustle", "money", "crown", "city", "cipher", "beat"),
    "jazz": ("moon", "whisper", "avenue", "smoke", "midnight", "rain", "cocktail", "blue", "lady", "saxophone"),
    "disco": ("floor", "groove", "mirror", "boogie", "glitter", "rhythm", "party", "lights", "funk", "feeling"),
}
_EN_TEMPLATES = (
    "{pron} {verb} through the {adj} {noun}",
    "{poss} {noun} is {adj} tonight",
    "{verb} with me, {verb} with me",
    "oh the {noun}, the {adj} {noun}",
    "{pron} {verb} and {pron} {verb}",
    "take {poss} {noun} and {verb}",
    "under the {adj} {noun}",
)
_BN = {
    "pron": ("আমি", "তুমি", "সে", "আমরা", "মন", "বন্ধু"),
    "poss": ("আমার", "তোমার", "তার", "মনের", "সবার"),
    "verb": ("খুঁজি", "ভাসে", "ডাকে", "কাঁদে", "হাসে", "জ্বলে", "গাই", "চলি", "বলি", "দেখি", "শুনি", "নাচে", "জাগে", "ভাঙে"),
    "adj": ("সোনার", "রঙিন", "একলা", "নীল", "অচিন", "পাগল", "মধুর", "গভীর", "নতুন", "পুরনো", "উদাস"),
    "baul": ("মন", "মানুষ", "দেহ", "গুরু", "সাধন", "একতারা", "মাঝি", "নৌকা", "ঘাট", "নদী", "পাখি", "খাঁচা"),
    "adhunik": ("চাঁদ", "জোছনা", "ফুল", "বৃষ্টি", "মেঘ", "আকাশ", "গান", "সুর", "স্মৃতি", "সন্ধ্যা"),
    "rock": ("শহর", "আগুন", "ঝড়", "রাত", "বিদ্রোহ", "স্বাধীনতা", "চিৎকার", "রাস্তা", "গিটার", "দেয়াল"),
    "pop": ("ভালোবাসা", "হৃদয়", "স্বপ্ন", "চোখ", "হাসি", "প্রেম", "অনুভূতি", "আলো", "ছোঁয়া", "দিন"),
    "hiphop": ("রাস্তা", "শহর", "ছন্দ", "কথা", "সত্য", "লড়াই", "গলি", "জীবন", "ঢাকা", "মাইক"),
}
_BN_TEMPLATES = (
    "{pron} {adj} {noun} {verb}",
    "{poss} {noun} {verb}",
    "ও {noun} রে, {poss} {noun} {verb}",
    "{adj} {noun}, {adj} {noun}",
    "{pron} {verb}, {pron} {verb}",
    "{poss} {adj} {noun}",
)


def make_lyrics(genre: str, language: str, rng: np.random.Generator) -> str:
    """A few lines of genre-themed lyrics in English (Latin) or Bangla (Bengali script), with a refrain."""
    words, templates, end = (_BN, _BN_TEMPLATES, "।") if language == "bng" else (_EN, _EN_TEMPLATES, "")
    theme = words.get(genre, words["pop"])

    def line() -> str:
        tpl = str(rng.choice(templates))
        out = tpl
        for slot in ("pron", "poss", "verb", "adj", "noun"):
            pool = theme if slot == "noun" else words[slot]
            while "{" + slot + "}" in out:
                out = out.replace("{" + slot + "}", str(rng.choice(pool)), 1)
        return out[0].upper() + out[1:] + end if language == "eng" else out + end

    refrain = [line(), line()]
    verse = [line() for _ in range(int(rng.integers(2, 5)))]
    return "\n".join(verse + refrain + [line() for _ in range(int(rng.integers(1, 3)))] + refrain)


# ================================================================= generation
def _track_id(plan: dict) -> str:
    return f"{plan['language']}_{plan['genre']}_{plan['index']:04d}"


def _render_job(job: tuple[dict, str]) -> str:
    """Worker: render one plan and write it as 16-bit mono WAV to ``path``."""
    import soundfile as sf

    plan, path = job
    audio = render(plan)
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)
    tmp = f"{path}.{os.getpid()}.tmp"  # atomic: a concurrent reader never sees half a file
    sf.write(tmp, pcm, plan["sr"], subtype="PCM_16", format="WAV")
    os.replace(tmp, path)
    return path


def generate(out_dir: str | Path, *, n_tracks: int = DEFAULT_TRACKS, seed: int = DEFAULT_SEED,
             duration: float = DEFAULT_SECONDS, sr: int = DEFAULT_SR, workers: int | None = None,
             progress: Progress | None = None) -> Corpus:
    """Synthesise the demo corpus into ``out_dir`` and return it.

    Parameters
    ----------
    out_dir : path
        Created if needed; ``audio/<track_id>.wav``, ``manifest.csv`` and the
        ``demo.json`` stamp are written there (existing ones overwritten).
    n_tracks : int
        Tracks are dealt round robin over the 11 genre/language classes, so any
        multiple of 11 gives balanced classes.
    seed : int
        Same seed and sizes give byte-identical files.
    duration : float
        Seconds per track.
    sr : int
        Sample rate in Hz.
    workers : int or None
        Worker processes (None: one per core, at most 8, when there is more
        than 30 s of audio to render, else 1; 1 renders in this process).
        The output does not depend on it.
    progress : callable (done, total, message) or None
    """
    if n_tracks < 1:
        raise BadInputError(out_dir, f"the demo needs at least 1 track, got n_tracks={n_tracks}")
    if not 1.0 <= duration <= 120.0:
        raise BadInputError(out_dir, f"demo track length must be 1..120 s, got {duration}")
    out = Path(out_dir)
    audio_dir = out / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    (out / STAMP).unlink(missing_ok=True)  # an interrupted run must not look complete
    plans = [_plan(i, seed, duration, sr) for i in range(n_tracks)]
    jobs = [(p, str(audio_dir / f"{_track_id(p)}.wav")) for p in plans]
    if workers is None:  # processes only pay off beyond ~30 s of audio (each one starts in about a second)
        workers = min(8, os.cpu_count() or 1) if n_tracks * duration > 30 else 1
    workers = max(1, min(workers, n_tracks))
    report = progress or (lambda done, total, message="": None)
    report(0, n_tracks, "synthesising")
    done = 0
    if workers > 1:
        try:
            with process_pool(max_workers=workers, mp_context=get_context("spawn")) as pool:
                for path in pool.map(_render_job, jobs, chunksize=4):
                    done += 1
                    report(done, n_tracks, Path(path).name)
        except BrokenProcessPool:
            pass  # a worker could not start or died: render the rest here (same bytes)
    for job in jobs[done:]:
        _render_job(job)
        done += 1
        report(done, n_tracks, Path(job[1]).name)

    rows = []
    for plan, (_, path) in zip(plans, jobs):
        lyr_rng = np.random.default_rng([seed, plan["index"], 3])
        lyrics = "" if plan["instrumental"] else make_lyrics(plan["genre"], plan["language"], lyr_rng)
        rows.append({
            "track_id": _track_id(plan),
            "path": str(Path(path).relative_to(out)),
            "genre": plan["genre"],
            "language": plan["language"],
            "lyrics": lyrics,
            "source": "demo",
            "tempo": plan["tempo"],
            "key": plan["key_name"],
            "mode": plan["mode"],
            "kit": plan["kit"],
            "lead": plan["lead"],
            "instrumental": plan["instrumental"],
        })
    _write_atomic(out / MANIFEST, pd.DataFrame(rows).to_csv(index=False))
    _write_atomic(out / STAMP, json.dumps(_stamp(n_tracks, seed, duration, sr), indent=1))
    return load_demo(out)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _stamp(n_tracks: int, seed: int, duration: float, sr: int) -> dict:
    return {"generator_version": GENERATOR_VERSION, "n_tracks": int(n_tracks), "seed": int(seed),
            "duration": float(duration), "sr": int(sr)}


def load_demo(out_dir: str | Path) -> Corpus:
    """Load a generated demo corpus (its manifest) with absolute paths; source ``demo``."""
    from core.corpus.sources import load_manifest

    corpus = load_manifest(Path(out_dir) / MANIFEST, source="demo")
    corpus.name = "demo"
    return corpus


def ensure_demo(out_dir: str | Path | None = None, *, n_tracks: int | None = None, seed: int | None = None,
                duration: float | None = None, sr: int | None = None,
                progress: Progress | None = None) -> Corpus:
    """The demo corpus in ``out_dir`` (default ``core.config.DEMO_DIR``), generated only when needed.

    Sizes left as None take the folder's ``demo.json`` stamp values when there is a stamp (so a demo made
    with ``python -m core demo --tracks 55`` is reused as it is), else the defaults. The folder is reused
    when its stamp matches the generator version and these sizes and every WAV it lists exists; otherwise
    it is regenerated.
    """
    if out_dir is None:
        from core import config

        out_dir = config.DEMO_DIR
    out = Path(out_dir)
    try:
        have = json.loads((out / STAMP).read_text())
    except (OSError, ValueError):
        have = None
    old = have if isinstance(have, dict) else {}
    want = _stamp(
        n_tracks if n_tracks is not None else old.get("n_tracks", DEFAULT_TRACKS),
        seed if seed is not None else old.get("seed", DEFAULT_SEED),
        duration if duration is not None else old.get("duration", DEFAULT_SECONDS),
        sr if sr is not None else old.get("sr", DEFAULT_SR),
    )
    if have == want and (out / MANIFEST).exists():
        corpus = load_demo(out)
        if len(corpus) == want["n_tracks"] and not corpus.skipped:
            return corpus
    return generate(out, n_tracks=want["n_tracks"], seed=want["seed"], duration=want["duration"], sr=want["sr"],
                    progress=progress)

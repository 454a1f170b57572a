"""The DSP kit of the demo synthesiser: oscillators, envelopes, filters, drum samples, instruments.

Small pure functions of numpy arrays; randomness comes only from the
``np.random.Generator`` passed in, so a track renders to the same samples
whatever process renders it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import butter, lfilter, sosfilt


def midi_hz(m: float) -> float:
    """Frequency in Hz of MIDI note ``m`` (69 = A4 = 440 Hz)."""
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


def additive(freq: float, n: int, sr: int, amps, *, vibrato: float = 0.0, vib_rate: float = 5.5,
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
    top = sr * 0.45
    if lo and hi:
        return butter(order, [lo, min(hi, top)], btype="band", fs=sr, output="sos")
    if lo:
        return butter(order, lo, btype="high", fs=sr, output="sos")
    return butter(order, min(hi, top), btype="low", fs=sr, output="sos")


def _noise(n: int, rng: np.random.Generator, sr: int, lo: float | None, hi: float | None) -> np.ndarray:
    """White noise band-limited to [lo, hi] Hz (either may be None), shape (n,)."""
    x = rng.standard_normal(n)
    return sosfilt(_sos(2, lo, hi, sr), x) if (lo or hi) else x


def lowpass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    return sosfilt(_sos(order, None, float(cutoff), sr), x)


def mix_into(buf: np.ndarray, start: int, sig: np.ndarray, gain: float = 1.0) -> None:
    """Mix ``sig`` into ``buf`` from sample ``start``, cut at the end of ``buf``."""
    if start >= len(buf) or start < 0:
        return
    end = min(len(buf), start + len(sig))
    buf[start:end] += gain * sig[: end - start]


# ---------------------------------------------------------------- percussion
def drum_samples(rng: np.random.Generator, sr: int, tonic_hz: float) -> dict[str, np.ndarray]:
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
                  + 0.5 * additive(rng.uniform(170, 220), ns, sr, [1, 0.3]) * _env(ns, sr, attack=0.001, decay=0.04))
    clap = np.zeros(ns)
    for k, d in enumerate((0.0, 0.011, 0.023)):
        burst = _noise(ns, rng, sr, 900, 5000) * _env(ns, sr, attack=0.001, decay=0.012 if k < 2 else 0.09)
        mix_into(clap, int(d * sr), burst)
    s["clap"] = clap
    nh = int(0.08 * sr)
    s["hat"] = _noise(nh, rng, sr, 7000, None) * _env(nh, sr, attack=0.0005, decay=rng.uniform(0.01, 0.03))
    no = int(0.35 * sr)
    s["ohat"] = _noise(no, rng, sr, 6000, None) * _env(no, sr, attack=0.001, decay=0.15)
    s["shaker"] = _noise(nh, rng, sr, 4000, 12000) * _env(nh, sr, attack=0.01, decay=0.02)
    nr = int(0.9 * sr)
    ride = sum(additive(f, nr, sr, [1]) for f in rng.uniform(3000, 7000, 6)) / 6
    s["ride"] = (0.6 * ride + 0.4 * _noise(nr, rng, sr, 5000, None)) * _env(nr, sr, attack=0.001, decay=0.35)
    nc = int(1.2 * sr)
    s["crash"] = _noise(nc, rng, sr, 3000, None) * _env(nc, sr, attack=0.001, decay=0.5)
    # tabla-like bols: dayan (treble, tuned to the tonic) and bayan (bass, pitch glide)
    sa = tonic_hz
    while sa < 250:
        sa *= 2
    nd = int(0.6 * sr)
    click = _noise(int(0.01 * sr), rng, sr, 2000, None)
    na = additive(sa, nd, sr, [1, 0.5, 0.35, 0.2, 0.1]) * _env(nd, sr, attack=0.001, decay=rng.uniform(0.12, 0.25))
    na[: len(click)] += 0.4 * click
    s["na"] = na
    s["tin"] = additive(sa, nd, sr, [0.2, 0.8, 0.4]) * _env(nd, sr, attack=0.001, decay=0.18)
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
def note(inst: str, midi: float, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One note of instrument ``inst`` lasting ``n`` samples, shape (n,)."""
    f = midi_hz(midi)
    if inst in ("pluck", "strum"):
        return _pluck(f, n, sr, rng, damping=0.995, brightness=0.5)
    if inst == "ektara":
        x = _pluck(f, n, sr, rng, damping=0.997, brightness=1.0)
        return np.tanh(2.0 * x) * 0.7  # bright, buzzy single string
    if inst in ("dist_guitar", "power"):
        x = _saw(f, n, sr, detune=0.004) * _env(n, sr, attack=0.005, decay=0.8)
        return np.tanh(4.0 * lowpass(x, 3500, sr)) * 0.5
    if inst in ("piano", "piano_lead", "piano_arp"):
        x = additive(f, n, sr, [1, 0.5, 0.3, 0.2, 0.12, 0.08, 0.05])
        return x * _env(n, sr, attack=0.002, decay=0.6 if midi < 60 else 0.4) * 0.5
    if inst in ("epiano", "fm_bell"):
        ratio, index = (1.0, 1.8) if inst == "epiano" else (3.5, 2.5)
        return _fm(f, n, sr, ratio=ratio, index=index, decay=0.3) * _env(n, sr, attack=0.003, decay=0.7)
    if inst in ("pad", "strings", "strings_lead"):
        x = lowpass(_saw(f, n, sr, detune=0.006), 2500 if inst == "pad" else 4000, sr)
        if inst != "pad":  # bowed tremolo
            x = x * (1 + 0.1 * np.sin(2 * np.pi * 5.0 * np.arange(n) / sr))
        return x * _env(n, sr, attack=0.25 if inst != "strings_lead" else 0.06, decay=6.0, release=0.15) * 0.5
    if inst == "violin":
        x = additive(f, n, sr, [1, 0.6, 0.45, 0.3, 0.25, 0.15, 0.1, 0.08], vibrato=0.012)
        return x * _env(n, sr, attack=0.08, decay=4.0, release=0.08) * 0.4
    if inst == "cello":
        x = additive(f, n, sr, [1, 0.7, 0.4, 0.3, 0.15], vibrato=0.008)
        return x * _env(n, sr, attack=0.06, decay=3.0, release=0.08) * 0.5
    if inst == "harmonium":
        x = additive(f, n, sr, [1, 0.8, 0.6, 0.5, 0.35, 0.25, 0.2, 0.12])
        x += 0.6 * additive(f * 1.003, n, sr, [1, 0.5, 0.3])  # second reed, slightly sharp
        return x * _env(n, sr, attack=0.05, decay=8.0, release=0.1) * 0.3
    if inst == "flute":
        x = additive(f, n, sr, [1, 0.25, 0.08], vibrato=0.01) + 0.05 * _noise(n, rng, sr, 1500, 6000)
        return x * _env(n, sr, attack=0.05, decay=3.0, release=0.06) * 0.6
    if inst == "sax":
        x = additive(f, n, sr, [1, 0.8, 0.6, 0.5, 0.3, 0.25, 0.15, 0.1], vibrato=0.01)
        return np.tanh(1.5 * x) * _env(n, sr, attack=0.03, decay=2.0, release=0.05) * 0.4
    if inst == "saw_lead":
        return lowpass(_saw(f, n, sr, detune=0.003), 5000, sr) * _env(n, sr, attack=0.01, decay=1.5) * 0.4
    if inst == "drone":
        x = additive(f, n, sr, [1, 0.7, 0.6, 0.5, 0.45, 0.35, 0.3, 0.25, 0.2, 0.15])
        return x * (0.8 + 0.2 * np.sin(2 * np.pi * 0.7 * np.arange(n) / sr)) * 0.15
    if inst in ("bass_rock", "bass_disco", "bass_soft"):
        x = lowpass(_saw(f, n, sr), 600 if inst != "bass_soft" else 350, sr)
        return x * _env(n, sr, attack=0.005, decay=0.5 if inst != "bass_soft" else 1.2)
    if inst == "bass_sub":
        return np.sin(2 * np.pi * f * np.arange(n) / sr) * _env(n, sr, attack=0.005, decay=0.9)
    if inst == "bass_walk":
        return lowpass(_pluck(f, n, sr, rng, damping=0.993, brightness=0.2), 900, sr) * 1.2
    raise ValueError(f"unknown instrument {inst!r}")


def normalise(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to a peak of 1 (unchanged when silent), same shape."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return x / peak if peak > 0 else x

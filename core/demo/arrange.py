"""Arrangement: a track's plan (the random musical choices) and its rendering into one mixed signal.

:func:`plan_track` draws everything that decides track ``index`` as plain values;
:func:`render` turns a plan into audio: drums or tabla, drone, chords, bass and
melody on one grid of sixteenth notes, then a master bus (reverb, tone, noise
floor, dynamics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from core.demo.styles import KITS, MELODY_SCALES, MODES, NOTE_NAMES, STYLES, Style
from core.demo.synth import drum_samples, lowpass, midi_hz, mix_into, normalise, note


def plan_track(index: int, seed: int, duration: float, sr: int) -> dict:
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
    samples = drum_samples(song.rng, song.sr, midi_hz(song.tonic))
    pattern = KITS[kit][int(song.rng.integers(len(KITS[kit])))]
    for name, hits in pattern.items():
        sample = samples["kick808" if (name == "kick" and kit == "hiphop") else name]
        for s in range(song.n_steps):
            c = hits[s % len(hits)]
            if c != ".":
                mix_into(out, song.t_of(s), sample, (1.0 if c == "x" else 0.5) * song.rng.uniform(0.8, 1.0))
    return out


def _drone(song: _Song) -> np.ndarray:
    """Tanpura-like drone on Sa and Pa (sometimes Ma), shape (n_total,)."""
    out = np.zeros(song.n_total)
    if song.plan["drone"]:
        fifth = 7 if song.rng.random() < 0.8 else 5
        for m in (song.tonic - 12, song.tonic - 12 + fifth, song.tonic):
            out += note("drone", m, song.n_total, song.sr, song.rng)
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
                mix_into(out, song.t_of(s) + offset, note(inst, m, n, song.sr, song.rng),
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
            mix_into(out, song.t_of(s), note(_BASS_VOICE[bass], m, song.samples(length), song.sr, song.rng),
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
            mix_into(out, song.t_of(st), note(lead, base + 12 * octave + scale[k], n, song.sr, rng),
                 0.45 * rng.uniform(0.75, 1.0))
    if lead == "ektara":  # the ektara's rhythmic strum on Sa between phrases
        for s in range(0, song.n_steps, 4):
            mix_into(out, song.t_of(s + 2), note("ektara", song.tonic + 12, song.samples(2), song.sr, rng), 0.2)
    return out


def _master(song: _Song, stems: dict[str, np.ndarray]) -> np.ndarray:
    """Mix the stems, add room reverb, tone (low-pass), noise floor and dynamics; shape (n_total,)."""
    rng, sr, n_total, style = song.rng, song.sr, song.n_total, song.style
    gains = {"drums": rng.uniform(0.5, 1.0), "bass": rng.uniform(0.4, 0.9), "chords": rng.uniform(0.4, 1.0),
             "lead": rng.uniform(0.5, 1.0), "drone": rng.uniform(0.5, 1.0)}
    mix = sum(gains[k] * normalise(v) for k, v in stems.items())
    ir_n = int(rng.uniform(0.3, 1.2) * sr)
    ir = rng.standard_normal(ir_n) * np.exp(-np.arange(ir_n) / (0.18 * ir_n))
    ir /= np.sqrt(np.sum(ir ** 2))
    wet = rng.uniform(*style.reverb)
    mix = (1 - wet) * mix + wet * fftconvolve(mix, ir)[:n_total]
    mix = normalise(lowpass(mix, rng.uniform(*style.brightness), sr))
    mix += rng.uniform(*style.noise) * rng.standard_normal(n_total)
    t = np.linspace(0.0, 1.0, n_total)
    wobble = np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t * song.plan["duration"])
    swell = 1.0 + rng.uniform(-0.4, 0.4) * t + 0.15 * wobble
    mix *= np.clip(swell, 0.2, 2.0)
    fade = min(int(0.02 * sr), n_total // 2)
    mix[:fade] *= np.linspace(0.0, 1.0, fade)
    mix[n_total - fade:] *= np.linspace(1.0, 0.0, fade)
    return normalise(mix) * rng.uniform(0.3, 0.95)


def render(plan: dict) -> np.ndarray:
    """Render one planned track (see :func:`plan_track`) to float audio in [-1, 1], shape (round(duration * sr),)."""
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

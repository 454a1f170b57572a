"""What each demo genre sounds like: modes, drum and tabla patterns, and one :class:`Style` per class.

Every field of a style is a range or a set of choices; :func:`core.demo.arrange.plan_track`
draws one value of each per track, so tracks of one genre vary and the genre
clusters overlap as in real corpora.
"""

from __future__ import annotations

from dataclasses import dataclass

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

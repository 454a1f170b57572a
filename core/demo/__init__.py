"""The embedded demo corpus: procedurally synthesised English and Bangla music, written as files.

Nothing is downloaded: every track is rendered with numpy/scipy from a small
musical plan (tempo, key, mode, chord progression, drum or tabla pattern,
instruments, melody motif) drawn from a per-genre style. The same seed gives
the same bytes, whatever the number of worker processes.

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
script); every classical track and about 15% of the others are instrumental,
with empty lyrics.

The manifest ``out_dir/manifest.csv`` has ``track_id, path, genre, language,
lyrics, source`` (paths relative to ``out_dir``) plus ``tempo, key, mode, kit,
lead, instrumental``; ``out_dir/demo.json`` is the stamp that :func:`ensure_demo`
checks before reusing a folder. This package writes files and knows nothing of
:class:`~core.corpus.Corpus`; ``core.corpus.load_demo`` reads the manifest.

Modules, in the order a track is made:

* :mod:`~core.demo.styles` -- modes, drum/tabla patterns, one ``Style`` per class
* :mod:`~core.demo.synth` -- the DSP kit: oscillators, filters, drum samples, instruments
* :mod:`~core.demo.arrange` -- ``plan_track`` (the random choices) and ``render`` (plan -> signal)
* :mod:`~core.demo.words` -- lyric word lists and ``make_lyrics``
* :mod:`~core.demo.generator` -- ``generate`` / ``ensure_demo``: one job per file, manifest, stamp
"""

from core.demo.arrange import plan_track, render
from core.demo.generator import (
    DEFAULT_SECONDS, DEFAULT_SEED, DEFAULT_SR, DEFAULT_TRACKS, GENERATOR_VERSION, MANIFEST, STAMP, ensure_demo,
    generate,
)
from core.demo.styles import STYLES, Style
from core.demo.words import make_lyrics

__all__ = [
    "DEFAULT_SECONDS", "DEFAULT_SEED", "DEFAULT_SR", "DEFAULT_TRACKS", "GENERATOR_VERSION", "MANIFEST", "STAMP",
    "STYLES", "Style", "ensure_demo", "generate", "make_lyrics", "plan_track", "render",
]

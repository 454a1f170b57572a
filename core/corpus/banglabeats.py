"""BanglaBeats: one folder per genre of 3-second clips, optionally joined into 30-second tracks."""

from __future__ import annotations

import re
from pathlib import Path

from core.corpus.join import joined_wav
from core.corpus.scan import audio_or_skip, require_dir, subfolders, to_corpus, visible_files
from core.corpus.table import Corpus
from core.errors import BadInputError, Skipped
from core.progress import Progress, null_progress

#: Clips per joined BanglaBeats track (10 x 3 s = 30 s, as in the study).
CLIPS_PER_TRACK = 10

_CLIP = re.compile(r"^(?P<song>.*?)[ ._\-]*(?P<index>\d+)$")


def _clip_key(stem: str) -> tuple[str, int] | None:
    """``"song_07"`` -> ``("song", 7)``; ``"17"`` -> ``("", 17)``; no trailing number -> None."""
    m = _CLIP.match(stem)
    return (m["song"], int(m["index"])) if m else None


def load_banglabeats(root: str | Path, *, join_clips: bool = False, language: str = "bng",
                     progress: Progress | None = None) -> Corpus:
    """BanglaBeats: one folder per genre (``Adhunik/``, ``Folk/``...) of 3-second clips.

    Without ``join_clips`` every clip is a track (id = stem, de-duplicated by path when stems repeat).

    With ``join_clips=True``, consecutive clips become 30-second tracks, as in the study:

    * clip names end with an index: ``<song><sep><index>.<ext>`` with ``sep`` one of ``_ . - space`` or
      nothing; ``17.wav`` has an empty song name, so the whole genre folder is one numbered sequence
      (BanglaBeats' own naming);
    * clips of one (genre, song) are ordered by the *numeric* index and cut into runs of consecutive indices;
      a gap is listed in ``skipped`` and no track spans it;
    * each run is cut into tracks of :data:`CLIPS_PER_TRACK` (10) clips; leftover clips at the end of a run
      (fewer than 10) are listed in ``skipped`` and not used (the study also drops incomplete chunks);
    * track ids are ``<Genre>.<k:05d>`` (or ``<song>.<k:05d>``), k counting from 0 in each sequence, so a
      gap-free folder gives the study table's ids (``Adhunik.00000``);
    * the joined audio (clips read with ``core.audio.load_audio``: mono, 22,050 Hz; written as 16-bit WAV)
      is written once to ``core.config.CACHE_DIR / "joined" / <hash>.wav``, the hash being of the clips'
      paths, sizes and modification times; ``path`` points there and ``clips`` lists the source clips
      (``|``-separated). A clip that does not load (corrupt, silent...) is listed in ``skipped`` and its
      track is not made.
    """
    root = require_dir(root, "BanglaBeats")
    skipped: list[Skipped] = []
    genre_dirs = subfolders(root)
    if not genre_dirs:
        raise BadInputError(root, "no genre folders: expected one folder per genre (Adhunik/, Folk/ ...)")
    clips: list[tuple[str, Path]] = []
    for gdir in genre_dirs:
        clips += [(gdir.name, f) for f in visible_files(gdir, skipped=skipped) if audio_or_skip(f, skipped)]
    if not join_clips:
        rows = []
        for genre, f in clips:
            key = _clip_key(f.stem)
            rows.append({"track_id": f.stem, "path": str(f), "genre": genre, "language": language,
                         "lyrics": "", "source": "banglabeats",
                         "song": key[0] if key else f.stem})
        return to_corpus(rows, skipped, "banglabeats", root, empty_hint="no audio clips in the genre folders")

    groups: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    for genre, f in clips:
        key = _clip_key(f.stem)
        if key is None:
            skipped.append(Skipped(str(f), "clip name does not end with an index number; cannot be joined"))
            continue
        groups.setdefault((genre, key[0]), []).append((key[1], f))
    plans: list[dict] = []
    for (genre, song), items in sorted(groups.items()):
        items.sort(key=lambda x: x[0])
        runs: list[list[tuple[int, Path]]] = [[items[0]]]
        for prev, cur in zip(items, items[1:]):
            if cur[0] == prev[0]:
                skipped.append(Skipped(str(cur[1]), f"same clip index {cur[0]} as {prev[1].name}; not joined"))
                continue
            if cur[0] != prev[0] + 1:
                missing = f"{prev[0] + 1}" if cur[0] == prev[0] + 2 else f"{prev[0] + 1}..{cur[0] - 1}"
                skipped.append(Skipped(str(prev[1].parent), f"gap in clip numbering: clip(s) {missing} of "
                                       f"{song or genre!r} missing after {prev[1].name}; tracks do not span it"))
                runs.append([])
            runs[-1].append(cur)
        k = 0
        for run in runs:
            for start in range(0, len(run), CLIPS_PER_TRACK):
                chunk = run[start:start + CLIPS_PER_TRACK]
                if len(chunk) < CLIPS_PER_TRACK:
                    for _, f in chunk:
                        skipped.append(Skipped(str(f), f"leftover clip: only {len(chunk)} consecutive clips "
                                                       f"left, {CLIPS_PER_TRACK} make a track"))
                    continue
                plans.append({"track_id": f"{song or genre}.{k:05d}", "genre": genre, "song": song or genre,
                              "clip_paths": [f for _, f in chunk]})
                k += 1
    rows = []
    report = progress or null_progress
    for i, plan in enumerate(plans):
        report(i, len(plans), plan["track_id"])
        try:
            out = joined_wav(plan["clip_paths"])
        except BadInputError as exc:
            skipped.append(Skipped(exc.path or plan["track_id"], f"track {plan['track_id']} not joined: {exc.problem}"))
            continue
        rows.append({"track_id": plan["track_id"], "path": str(out), "genre": plan["genre"], "language": language,
                     "lyrics": "", "source": "banglabeats", "song": plan["song"],
                     "clips": "|".join(str(p) for p in plan["clip_paths"])})
    report(len(plans), len(plans), "joined")
    return to_corpus(rows, skipped, "banglabeats", root, empty_hint=f"no run of {CLIPS_PER_TRACK} consecutive clips")

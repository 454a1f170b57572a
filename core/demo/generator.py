"""Writing the demo corpus: one render job per file, a manifest, and the stamp that says it is complete.

:func:`generate` renders every planned track (in worker processes when that
pays off) to ``out_dir/audio/<track_id>.wav`` and writes ``out_dir/manifest.csv``
and the ``out_dir/demo.json`` stamp last. :func:`ensure_demo` reuses a folder
whose stamp and files match. Both return the manifest's path; reading it as a
corpus is :func:`core.corpus.load_demo`'s job.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from core import config
from core.demo.arrange import plan_track, render
from core.demo.words import make_lyrics
from core.errors import BadInputError
from core.io import atomic_write
from core.parallel import process_pool
from core.progress import Progress, null_progress

#: Bump whenever the rendered audio or lyrics change: stale demo folders are regenerated.
GENERATOR_VERSION = 1
DEFAULT_TRACKS = 220
DEFAULT_SECONDS = 10.0
DEFAULT_SEED = 0
DEFAULT_SR = 22050
MANIFEST = "manifest.csv"
STAMP = "demo.json"


def track_id(plan: dict) -> str:
    """``<language>_<genre>_<index:04d>``, e.g. ``bng_baul_0006``."""
    return f"{plan['language']}_{plan['genre']}_{plan['index']:04d}"


def render_job(job: tuple[dict, str]) -> str:
    """Worker: render one plan and write it atomically as 16-bit mono WAV to ``path``; return ``path``."""
    plan, path = job
    pcm = np.round(np.clip(render(plan), -1.0, 1.0) * 32767.0).astype(np.int16)
    atomic_write(path, lambda fh: sf.write(fh, pcm, plan["sr"], subtype="PCM_16", format="WAV"))
    return path


def generate(out_dir: str | Path, *, n_tracks: int = DEFAULT_TRACKS, seed: int = DEFAULT_SEED,
             duration: float = DEFAULT_SECONDS, sr: int = DEFAULT_SR, workers: int | None = None,
             progress: Progress | None = None) -> Path:
    """Synthesise the demo corpus into ``out_dir``; return the path of its manifest.

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
    plans = [plan_track(i, seed, duration, sr) for i in range(n_tracks)]
    jobs = [(p, str(audio_dir / f"{track_id(p)}.wav")) for p in plans]
    if workers is None:  # processes only pay off beyond ~30 s of audio (each one starts in about a second)
        workers = min(8, os.cpu_count() or 1) if n_tracks * duration > 30 else 1
    workers = max(1, min(workers, n_tracks))
    report = progress or null_progress
    report(0, n_tracks, f"synthesising ({'starting ' + str(workers) + ' worker processes' if workers > 1 else 'in this process'})")
    finished: set[str] = set()
    if workers > 1:
        try:
            with process_pool(max_workers=workers, mp_context=get_context("spawn")) as pool:
                # One track per task, reported as each one finishes: the bar moves from the first track
                # on (ordered chunks held it at 0 until the first chunk was through).
                for future in as_completed([pool.submit(render_job, job) for job in jobs]):
                    path = future.result()
                    finished.add(str(path))
                    report(len(finished), n_tracks, Path(path).name)
        except BrokenProcessPool:
            pass  # a worker could not start or died: render the rest here (same bytes)
    for job in [j for j in jobs if j[1] not in finished]:
        render_job(job)
        finished.add(job[1])
        report(len(finished), n_tracks, Path(job[1]).name)

    rows = [_manifest_row(plan, Path(path).relative_to(out), seed) for plan, (_, path) in zip(plans, jobs)]
    atomic_write(out / MANIFEST, pd.DataFrame(rows).to_csv(index=False))
    atomic_write(out / STAMP, json.dumps(_stamp(n_tracks, seed, duration, sr), indent=1))
    return out / MANIFEST


def _manifest_row(plan: dict, path: Path, seed: int) -> dict:
    lyr_rng = np.random.default_rng([seed, plan["index"], 3])
    lyrics = "" if plan["instrumental"] else make_lyrics(plan["genre"], plan["language"], lyr_rng)
    return {
        "track_id": track_id(plan),
        "path": str(path),
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
    }


def _stamp(n_tracks: int, seed: int, duration: float, sr: int) -> dict:
    return {"generator_version": GENERATOR_VERSION, "n_tracks": int(n_tracks), "seed": int(seed),
            "duration": float(duration), "sr": int(sr)}


def _complete(out: Path, n_tracks: int) -> bool:
    """True when the manifest lists ``n_tracks`` tracks and every WAV it lists is there and not empty."""
    try:
        paths = pd.read_csv(out / MANIFEST, usecols=["path"], keep_default_na=False)["path"]
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return False
    return len(paths) == n_tracks and all((out / p).is_file() and (out / p).stat().st_size > 0 for p in paths)


def ensure_demo(out_dir: str | Path | None = None, *, n_tracks: int | None = None, seed: int | None = None,
                duration: float | None = None, sr: int | None = None,
                progress: Progress | None = None) -> Path:
    """The manifest of the demo corpus in ``out_dir`` (default ``core.config.DEMO_DIR``), generated only when needed.

    Sizes left as None take the folder's ``demo.json`` stamp values when there is a stamp (so a demo made
    with ``python -m core demo --tracks 55`` is reused as it is), else the defaults. The folder is reused
    when its stamp matches the generator version and these sizes and every WAV it lists exists; otherwise
    it is regenerated.
    """
    out = Path(config.DEMO_DIR if out_dir is None else out_dir)
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
    if have == want and _complete(out, want["n_tracks"]):
        return out / MANIFEST
    return generate(out, n_tracks=want["n_tracks"], seed=want["seed"], duration=want["duration"], sr=want["sr"],
                    progress=progress)

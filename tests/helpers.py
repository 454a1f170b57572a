"""Test helpers shared by several test files."""

from __future__ import annotations

import base64
import contextlib
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest


def tiny_demo(out_dir: Path, *, n_tracks: int = 24, seconds: float = 4.0, seed: int = 3) -> Path:
    """A small demo corpus written by the project's own generator (a few seconds to make)."""
    from core.demo import generate

    if not (out_dir / "manifest.csv").exists():
        generate(out_dir, n_tracks=n_tracks, seed=seed, duration=seconds)
    return out_dir


@contextlib.contextmanager
def tiny_demo_app(root: Path, *, n_tracks: int = 30) -> Iterator[pytest.MonkeyPatch]:
    """The dashboard's environment for an AppTest module: a :func:`tiny_demo` of ``n_tracks`` under ``root`` as its
    corpus, its runs and data under ``root``. Yields the MonkeyPatch (for a module's own settings), undone after."""
    from core import config

    mp = pytest.MonkeyPatch()
    corpus_dir = tiny_demo(root / "demo", n_tracks=n_tracks)
    mp.setenv("SONGSCAPE_CORPUS", f"manifest:{corpus_dir / 'manifest.csv'}")
    mp.setattr(config, "RUNS_DIR", root / "runs")
    mp.setattr(config, "DATA_DIR", root)
    try:
        yield mp
    finally:
        mp.undo()


def race_two_callers(monkeypatch, module, name: str, call: Callable[[Callable], Any], *,
                     fresh: Callable[[], None]) -> tuple[dict, dict]:
    """Two threads ``call(progress)`` at once while ``module.name`` (the expensive step, which takes a
    ``progress`` keyword) is held back; checks that only the first runs it and that the second, waiting,
    is shown the first one's progress. Two rounds, ``fresh()`` (a cache miss again) before each: in the
    first the first caller fails, in the second it succeeds. Returns the two rounds' results by caller
    name ("first", "second"; a failure is its exception) and leaves which callers ran the step in
    ``results["ran"]``."""
    real = getattr(module, name)
    calls, started, release, fail = [], threading.Event(), threading.Event(), [True]

    def held_back(*args, progress=None, **kwargs):
        calls.append(threading.current_thread().name)
        progress(3, 10, "half way")
        started.set()
        release.wait(10)
        if fail[0]:
            fail[0] = False
            raise RuntimeError("the first computation failed")
        return real(*args, progress=progress, **kwargs)

    monkeypatch.setattr(module, name, held_back)
    rounds = []
    for first_fails in (True, False):
        fresh()
        calls.clear(), started.clear(), release.clear()
        fail[0], results, seen, waiting = first_fails, {}, [], threading.Event()

        def relayed(done, total, message=""):
            seen.append((done, total, message))
            waiting.set()

        def run(who, progress=None):
            try:
                results[who] = call(progress)
            except RuntimeError as exc:
                results[who] = exc

        first = threading.Thread(target=run, args=("first",), name="first")
        first.start()
        assert started.wait(10)
        second = threading.Thread(target=run, args=("second", relayed), name="second")
        second.start()
        assert waiting.wait(10)
        assert calls == ["first"] and (3, 10, "half way") in seen  # waiting, shown the first one's progress
        release.set()
        first.join(30)
        second.join(30)
        results["ran"] = list(calls)
        rounds.append(results)
    failed, succeeded = rounds
    assert isinstance(failed["first"], RuntimeError) and failed["ran"] == ["first", "second"]  # then it computes
    assert succeeded["ran"] == ["first"]  # the second only read what the first cached
    return failed, succeeded


#: FMA-shaped tracks written by :func:`fma_folder`: id -> (subset, genre_top, genres, language_code, audio).
#: audio: seconds of a tone, "silent" (3 s of zeros: a readable header, fails at extraction),
#: "corrupt" (random bytes), "empty" (0 bytes), "short" (0.3 s) or None (no file).
FMA_TRACKS = {
    2: ("small", "Hip-Hop", "[21]", "en", 3.0),
    5: ("small", "Rock", "[12]", "", 3.0),
    10: ("small", "", "[12, 25]", "fr", 3.0),       # no genre_top: genres.csv gives Rock
    140: ("small", "Folk", "[17]", "en", "corrupt"),
    141: ("small", "Folk", "[17]", "en", "short"),
    148: ("small", "Folk", "[17]", "", "empty"),
    182: ("small", "Rock", "[12]", "en", None),
    1039: ("small", "Folk", "[17]", "en", "silent"),
    2000: ("medium", "Rock", "[12]", "en", None),    # not part of fma_small: not expected there
}


def fma_folder(root: Path, tracks: dict | None = None, *, sr: int = 22050) -> Path:
    """An FMA-shaped folder: fma_metadata/tracks.csv (two-row header), genres.csv, fma_small/NNN/NNNNNN.mp3."""
    import numpy as np
    import soundfile as sf

    assert "MP3" in sf.available_formats(), "this libsndfile cannot write MP3 (soundfile>=0.12 wheels can)"
    tracks = FMA_TRACKS if tracks is None else tracks
    meta = root / "fma_metadata"
    meta.mkdir(parents=True, exist_ok=True)
    lines = [",album,artist,set,set,track,track,track,track",
             ",title,name,split,subset,genre_top,genres,language_code,title",
             "track_id,,,,,,,,"]
    rng = np.random.default_rng(0)
    for tid, (subset, top, genres, lang, audio) in tracks.items():
        lines.append(f'{tid},Album {tid % 3},Artist {tid % 2},training,{subset},{top},"{genres}",{lang},Song {tid}')
        name = f"{tid:06d}"
        folder = root / "fma_small" / name[:3]
        folder.mkdir(parents=True, exist_ok=True)
        file = folder / f"{name}.mp3"
        if audio is None:
            continue
        if audio == "corrupt":
            file.write_bytes(rng.bytes(4000))
        elif audio == "empty":
            file.write_bytes(b"")
        else:
            seconds = 0.3 if audio == "short" else 3.0 if audio == "silent" else float(audio)
            t = np.arange(int(seconds * sr)) / sr
            y = np.zeros_like(t) if audio == "silent" else (
                0.3 * np.sin(2 * np.pi * (110 + tid % 400) * t) + 0.02 * rng.normal(size=t.size))
            sf.write(file, y.astype(np.float32), sr, format="MP3")
    (meta / "tracks.csv").write_text("\n".join(lines) + "\n")
    (meta / "genres.csv").write_text("genre_id,#tracks,parent,title,top_level\n12,5,0,Rock,12\n"
                                     "17,3,0,Folk,17\n21,1,0,Hip-Hop,21\n25,1,12,Punk,12\n")
    return root


def plotly_values(data) -> list:
    """A plotly JSON array as a list: plotly sends a list, or (plotly 6) a typed array ``{"dtype", "bdata"}``."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"])).tolist()
    return list(data)


def reload_as_written_before(model, path, *fields: str):
    """``model`` saved at ``path`` as a file written before its model config had ``fields`` (the fields dropped and
    the checksum made anew), and loaded again, as such a file would load."""
    import torch

    from core import checkpoint
    from core.checkpoint.integrity import content_checksum
    checkpoint.save(model, path)
    payload = torch.load(path, weights_only=True)
    for field in fields:
        del payload["model_config"][field]
    payload.pop("checksum")
    payload["checksum"] = content_checksum(payload)
    torch.save(payload, path)
    return checkpoint.load(path)

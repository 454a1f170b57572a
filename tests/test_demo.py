"""The synthetic demo corpus: music-like, varied, deterministic, bilingual, cached by its stamp."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core import demo
from core.corpus import Corpus, load_demo, load_source
from core.demo import generator
from core.errors import BadInputError
from core.lyrics import tokenize

N_CLASSES = len(demo.STYLES)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory) -> Corpus:
    """One track per class, 2 s each, rendered in this process."""
    manifest = demo.generate(tmp_path_factory.mktemp("demo"), n_tracks=N_CLASSES, duration=2.0, seed=3, workers=1)
    return load_demo(manifest.parent)


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_manifest_has_the_promised_columns_and_relative_paths(small_demo):
    folder = Path(small_demo.tracks["path"].iloc[0]).parent.parent
    manifest = pd.read_csv(folder / demo.MANIFEST, keep_default_na=False)
    for col in ("track_id", "path", "genre", "language", "lyrics", "tempo", "key", "instrumental"):
        assert col in manifest.columns
    assert all(not Path(p).is_absolute() and (folder / p).is_file() for p in manifest["path"])
    assert all(Path(p).is_absolute() for p in small_demo.tracks["path"])
    assert set(small_demo.tracks["source"]) == {"demo"}
    assert small_demo.name == "demo" and not small_demo.skipped


def test_wavs_are_16_bit_mono_at_the_requested_rate(small_demo):
    for p in small_demo.tracks["path"]:
        info = sf.info(p)
        assert (info.samplerate, info.channels, info.subtype, info.format) == (22050, 1, "PCM_16", "WAV")
        assert info.frames == 2 * 22050


def test_genres_languages_and_shared_genre_names(small_demo):
    t = small_demo.tracks
    assert t["genre"].nunique() >= 8
    assert set(t["language"]) == {"eng", "bng"}
    per_lang = t.groupby("genre")["language"].nunique()
    assert (per_lang == 2).sum() >= 3
    assert {"baul", "classical"} <= set(t["genre"])


def test_lyrics_scripts_and_instrumentals():
    plans = [demo.plan_track(i, 0, 10.0, 22050) for i in range(220)]
    df = pd.DataFrame(plans)
    assert df.loc[df["genre"] == "classical", "instrumental"].all()
    others = df[df["genre"] != "classical"]
    assert 0.05 <= others["instrumental"].mean() <= 0.3
    rng = np.random.default_rng(0)
    for genre, lang in {(s.genre, s.language) for s in demo.STYLES}:
        text = demo.make_lyrics(genre, lang, rng)
        letters = [c for c in text if unicodedata.category(c)[0] == "L"]
        if lang == "bng":
            assert letters and all(0x0980 <= ord(c) <= 0x09FF for c in letters)
            assert len(tokenize(text)) >= 8 and "\u0964" in text  # real words, danda-terminated lines
        else:
            assert letters and all(c.isascii() for c in letters)


def test_small_demo_lyrics_match_instrumental_flag(small_demo):
    t = small_demo.tracks
    flag = t["instrumental"].astype(str).str.lower() == "true"
    assert ((t["lyrics"] == "") == flag).all()
    assert (t.loc[t["genre"] == "classical", "lyrics"] == "").all()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, small_demo):
    folder = Path(small_demo.tracks["path"].iloc[0]).parent.parent
    demo.generate(tmp_path / "a", n_tracks=N_CLASSES, duration=2.0, seed=3, workers=1)
    assert _digest(tmp_path / "a") == _digest(folder)
    again = load_demo(tmp_path / "a")
    assert again.tracks.drop(columns="path").equals(small_demo.tracks.drop(columns="path"))
    demo.generate(tmp_path / "b", n_tracks=3, duration=2.0, seed=4, workers=1)
    other = _digest(tmp_path / "b")
    assert all(other[k] != _digest(folder)[k] for k in other if k.endswith(".wav"))


def test_manifest_and_stamp_are_pinned(small_demo):
    """The plan and lyrics streams are unchanged since the demo was split out of core.corpus (commit 3b23431).

    Only the text files are pinned: WAV bytes go through floating-point DSP that may round differently on
    another CPU; the tests above check that they are the same within one machine.
    """
    folder = Path(small_demo.tracks["path"].iloc[0]).parent.parent
    digests = _digest(folder)
    assert digests[demo.MANIFEST] == "7030f6238b6274e9e1b3d6b88f0e026392ca07ed34b905bafb74a6fcfe1773da"
    assert digests[demo.STAMP] == "d63e92da8bc2916d52a6290bb804f0a4b9652f5eb6e5e5887d2f347586e2aefe"


def test_the_synthesiser_does_not_know_the_corpus():
    """core.demo writes files; reading them as a Corpus is core.corpus's job (layering)."""
    code = "import sys, core.demo; print(sorted(m for m in sys.modules if m.startswith('core.corpus')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         timeout=300)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_process_pool_gives_the_same_bytes(tmp_path):
    demo.generate(tmp_path / "one", n_tracks=4, duration=1.0, seed=9, workers=1)
    demo.generate(tmp_path / "two", n_tracks=4, duration=1.0, seed=9, workers=2)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")


def test_a_broken_worker_pool_falls_back_to_rendering_here(tmp_path, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    class DyingPool:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        submitted = 0

        def submit(self, fn, job):  # one track done, then the pool dies
            from concurrent.futures import Future

            future = Future()
            if DyingPool.submitted == 0:
                future.set_result(fn(job))
            else:
                future.set_exception(BrokenProcessPool("worker died"))
            DyingPool.submitted += 1
            return future

    demo.generate(tmp_path / "ref", n_tracks=3, duration=1.0, seed=2, workers=1)
    monkeypatch.setattr(generator, "process_pool", DyingPool)
    seen = []
    demo.generate(tmp_path / "pool", n_tracks=3, duration=1.0, seed=2, workers=2,
                  progress=lambda done, total, message="": seen.append(done))
    assert _digest(tmp_path / "pool") == _digest(tmp_path / "ref")
    assert seen[-1] == 3


def test_progress_moves_with_each_rendered_track(tmp_path):
    """The bar moves as each track finishes, not after ordered chunks of them."""
    seen = []
    demo.generate(tmp_path / "pool", n_tracks=5, duration=1.0, seed=2, workers=2,
                  progress=lambda done, total, message="": seen.append((done, message)))
    assert [d for d, _ in seen] == [0, 1, 2, 3, 4, 5]
    assert "worker processes" in seen[0][1]


def test_tracks_are_tonal_music_not_noise(small_demo):
    import librosa

    noise = np.random.default_rng(0).standard_normal(2 * 22050).astype(np.float32)
    noise_flatness = float(librosa.feature.spectral_flatness(y=noise).mean())
    for p in small_demo.tracks["path"]:
        y, sr = sf.read(p, dtype="float32")
        assert 0.2 < np.abs(y).max() <= 1.0 and np.isfinite(y).all()
        assert float(librosa.feature.spectral_flatness(y=y).mean()) < noise_flatness / 5


def test_drum_tracks_pulse_at_their_planned_tempo():
    import librosa

    fps = 22050 / 512
    picks = [i for i in range(40) if demo.STYLES[i % N_CLASSES].genre in ("rock", "disco")][:3]
    for i in picks:
        plan = demo.plan_track(i, 0, 8.0, 22050)
        env = librosa.onset.onset_strength(y=demo.render(plan).astype(np.float32), sr=22050)
        ac = librosa.autocorrelate(env - env.mean())
        ac /= ac[0]
        lag = int(round(60.0 / plan["tempo"] * fps))
        at_beat = ac[lag - 1:lag + 2].max()
        # the onsets repeat every planned beat: a stronger self-similarity than at 90% of other lags
        assert at_beat > np.percentile(ac[int(0.25 * fps):int(2.0 * fps)], 90), plan["tempo"]


def test_variation_within_a_genre():
    plans = pd.DataFrame([demo.plan_track(i, 0, 10.0, 22050) for i in range(220)])
    for genre, g in plans.groupby(["language", "genre"]):
        assert g["tempo"].nunique() > 10 and g["key"].nunique() >= 6, genre
        assert g["mode"].nunique() >= 2 and g["lead"].nunique() >= 2, genre


def test_ensure_demo_reuses_a_matching_folder_and_regenerates_a_stale_one(tmp_path):
    """Through core.corpus.load_demo, the "demo" source kind: core.demo.ensure_demo, then the manifest."""
    folder = tmp_path / "d"
    first = load_demo(folder, n_tracks=3, duration=1.0)
    wav = Path(first.tracks["path"].iloc[0])
    os.utime(wav, ns=(1, 1))
    stamp = json.loads((folder / demo.STAMP).read_text())
    assert stamp["generator_version"] == demo.GENERATOR_VERSION and stamp["n_tracks"] == 3
    again = load_demo(folder, n_tracks=3, duration=1.0)
    assert again.track_ids == first.track_ids and wav.stat().st_mtime_ns == 1  # not rewritten
    stamp["generator_version"] = -1
    (folder / demo.STAMP).write_text(json.dumps(stamp))
    load_demo(folder, n_tracks=3, duration=1.0)
    assert wav.stat().st_mtime_ns != 1
    assert json.loads((folder / demo.STAMP).read_text())["generator_version"] == demo.GENERATOR_VERSION
    wav.unlink()
    load_demo(folder, n_tracks=3, duration=1.0)
    assert wav.is_file()
    bigger = load_demo(folder, n_tracks=4, duration=1.0)
    assert len(bigger) == 4
    wav = Path(bigger.tracks["path"].iloc[3])
    os.utime(wav, ns=(1, 1))
    assert len(load_demo(folder)) == 4  # sizes not given: the folder's stamp is kept
    assert wav.stat().st_mtime_ns == 1


def test_load_demo_and_source_spec(tmp_path):
    manifest = demo.generate(tmp_path / "d", n_tracks=2, duration=1.0, workers=1)
    assert manifest == tmp_path / "d" / demo.MANIFEST
    loaded = load_demo(tmp_path / "d")
    via_spec = load_source(f"{tmp_path / 'd'}")
    assert loaded.track_ids == via_spec.track_ids and set(via_spec.tracks["source"]) == {"demo"}
    assert loaded.name == "demo" and len(loaded) == 2


def test_bad_sizes_are_refused(tmp_path):
    with pytest.raises(BadInputError, match="at least 1 track"):
        demo.generate(tmp_path, n_tracks=0)
    with pytest.raises(BadInputError, match="1..120 s"):
        demo.generate(tmp_path, n_tracks=1, duration=0.1)


def test_cli_writes_a_demo_and_has_help(tmp_path, capsys):
    from core.cli import main

    assert main(["demo", "--out", str(tmp_path / "cli"), "--tracks", "2", "--seconds", "1", "--workers", "1"]) == 0
    assert (tmp_path / "cli" / demo.MANIFEST).is_file()
    assert "wrote 2 tracks" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--help"])
    assert exit_.value.code == 0
    assert "--seconds" in capsys.readouterr().out

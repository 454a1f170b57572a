"""The on-disk feature cache and batch extraction: hits, corrupt entries, bad clips skipped and listed."""

from __future__ import annotations

import importlib
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import core.config
from core.cache import FeatureCache, params_hash
from core.corpus import FEATURE_NAMES, Corpus
from core.features import FeatureSet, MelParams, extract, gtzan57

extract_module = importlib.import_module("core.features.extract")  # the package's `extract` is the function

SR = 22050


def write_clip(path, *, freq: float = 330.0, seconds: float = 2.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = 0.4 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)
    sf.write(path, y.astype(np.float32), SR, subtype="PCM_16")
    return path


def corpus_of(paths, ids=None) -> Corpus:
    ids = ids or [f"t{i}" for i in range(len(paths))]
    return Corpus(pd.DataFrame({"track_id": ids, "path": [str(p) for p in paths], "genre": "g", "source": "test"}))


@pytest.fixture
def cache(tmp_path) -> FeatureCache:
    return FeatureCache(tmp_path / "cache")


def entries(cache: FeatureCache, kind: str):
    return sorted((cache.root / kind).rglob("*.npy"))


# ------------------------------------------------------------------ the cache itself
def test_default_root_follows_config_at_creation(tmp_path, monkeypatch):
    monkeypatch.setattr(core.config, "CACHE_DIR", tmp_path / "elsewhere")
    assert FeatureCache().root == tmp_path / "elsewhere" / "features"


def test_features_keyed_by_content_kind_and_params(tmp_path, cache):
    a = write_clip(tmp_path / "a.wav")
    value = np.arange(57, dtype=np.float64)
    cache.put(a, "gtzan57", None, value)
    np.testing.assert_array_equal(cache.get(a, "gtzan57", None), value)
    assert cache.get(a, "mel", None) is None  # another kind
    assert cache.get(a, "gtzan57", {"x": 1}) is None  # other params
    copy = tmp_path / "renamed copy.wav"
    shutil.copy(a, copy)
    np.testing.assert_array_equal(cache.get(copy, "gtzan57", None), value)  # same bytes: hit
    write_clip(copy, freq=500.0)  # edited file: miss
    assert cache.get(copy, "gtzan57", None) is None
    assert params_hash({"a": 1, "b": 2}) == params_hash({"b": 2, "a": 1}) != params_hash({"a": 2, "b": 1})
    assert not list(cache.root.rglob("*.tmp"))  # atomic writes leave nothing behind


def test_arrays_by_string_key(cache):
    assert cache.get_array("latents/model-1/corpus-2") is None
    z = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    cache.put_array("latents/model-1/corpus-2", z)
    got = cache.get_array("latents/model-1/corpus-2")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, z)
    cache.put_array("latents/model-1/corpus-2", z * 2)  # replaced
    np.testing.assert_array_equal(cache.get_array("latents/model-1/corpus-2"), z * 2)
    with pytest.raises(TypeError):
        cache.put_array("objects", np.array([{"a": 1}], dtype=object))


def test_get_or_compute_stores_once_and_recomputes_what_is_not_valid(cache):
    made = []

    def compute(progress):
        made.append(1)
        progress(1, 1, "made")
        return {"z": np.arange(4.0) * len(made)}

    seen = []
    first = cache.get_or_compute("k", compute, progress=lambda d, t, m="": seen.append(m))
    again = cache.get_or_compute("k", compute)
    assert len(made) == 1 and seen == ["made"] and np.array_equal(first["z"], again["z"])
    # an entry its caller does not accept (another shape, a stale layout) is made again and replaced
    fresh = cache.get_or_compute("k", compute, valid=lambda hit: hit["z"][1] == 2.0)
    assert len(made) == 2 and fresh["z"][1] == 2.0 and cache.get_arrays("k")["z"][1] == 2.0

    def broken(progress):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):  # a failure stores nothing and frees the key
        cache.get_or_compute("other", broken)
    assert cache.get_arrays("other") is None
    assert cache.get_or_compute("other", compute)["z"].shape == (4,)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "extra bytes"])
def test_corrupt_entry_is_detected_and_deleted(cache, damage):
    cache.put_array("k", np.arange(1000, dtype=np.float64))
    file = cache.array_path("k")
    data = file.read_bytes()
    if damage == "truncate":
        file.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        file.write_bytes(np.random.default_rng(1).integers(0, 256, len(data), dtype=np.uint8).tobytes())
    else:
        file.write_bytes(data + b"\x00junk")
    assert cache.get_array("k") is None
    assert not file.exists()


# ------------------------------------------------------------------ batch extraction
def test_batch_with_bad_files_completes_and_lists_them(tmp_path, cache):
    good = [write_clip(tmp_path / f"good{i}.wav", freq=200 + 100 * i, seed=i) for i in range(2)]
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF" + bytes(range(200)))
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(2 * SR, np.float32), SR, subtype="PCM_16")
    short = tmp_path / "short.wav"
    write_clip(short, seconds=0.3)
    text = tmp_path / "notes.txt"
    text.write_text("lyrics")
    paths = [good[0], corrupt, silent, good[1], short, text, tmp_path / "missing.wav"]
    corpus = corpus_of(paths)
    seen = []
    fs = extract(corpus, kind="gtzan57", cache=cache, n_jobs=1, progress=lambda d, t, m="": seen.append((d, t)))
    assert fs.track_ids == ["t0", "t3"]
    assert fs.X.shape == (2, 57)
    np.testing.assert_allclose(fs.X[1], gtzan57(y=sf.read(good[1], dtype="float32")[0]))
    reasons = {s.path: s.reason for s in fs.skipped}
    assert set(reasons) == {str(p) for p in paths[1:3] + paths[4:]}
    assert reasons[str(corrupt)].startswith("unreadable or corrupt")
    assert reasons[str(silent)].startswith("silent")
    assert reasons[str(short)].startswith("too short")
    assert reasons[str(text)].startswith("not an audio file")
    assert reasons[str(tmp_path / "missing.wav")] == "file not found"
    assert seen[-1] == (7, 7)
    frame = fs.to_frame()
    assert frame.index.tolist() == ["t0", "t3"] and tuple(frame.columns) == FEATURE_NAMES


def test_second_run_only_reads_the_cache(tmp_path, cache, monkeypatch):
    paths = [write_clip(tmp_path / f"c{i}.wav", freq=150 * (i + 1), seed=i) for i in range(3)]
    first = extract(corpus_of(paths), kind="gtzan57", cache=cache, n_jobs=1)
    assert len(entries(cache, "gtzan57")) == 3

    def must_not_compute(*args, **kwargs):
        raise AssertionError("computed although cached")

    monkeypatch.setattr(extract_module, "compute_features", must_not_compute)
    second = extract(corpus_of(paths), kind="gtzan57", cache=cache, n_jobs=1)
    assert second.skipped == [] and second.track_ids == first.track_ids
    np.testing.assert_array_equal(second.X, first.X)


def test_corrupt_cache_entry_is_recomputed(tmp_path, cache):
    path = write_clip(tmp_path / "a.wav")
    first = extract(corpus_of([path]), kind="gtzan57", cache=cache, n_jobs=1)
    (entry,) = entries(cache, "gtzan57")
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2])  # cut in half, inside the data
    again = extract(corpus_of([path]), kind="gtzan57", cache=cache, n_jobs=1)
    assert again.skipped == []
    np.testing.assert_array_equal(again.X, first.X)
    assert entry.exists()  # rebuilt on disk
    np.testing.assert_array_equal(cache.get(path, "gtzan57"), first.X[0])


def test_mel_kind_and_params_are_part_of_the_key(tmp_path, cache):
    paths = [write_clip(tmp_path / f"m{i}.wav", seconds=3.0, seed=i) for i in range(2)]
    fs = extract(corpus_of(paths), kind="mel", cache=cache, n_jobs=1)
    assert fs.X.shape == (2, 128, 128) and fs.X.dtype == np.float32 and fs.params == MelParams()
    with pytest.raises(ValueError, match="gtzan57"):
        fs.to_frame()
    small = MelParams(n_mels=64, n_frames=32)
    fs2 = extract(corpus_of(paths), kind="mel", params=small, cache=cache, n_jobs=1)
    assert fs2.X.shape == (2, 64, 32)
    assert len(entries(cache, "mel")) == 4


def test_precomputed_features_need_no_audio(cache):
    ids = ["a", "b"]
    feats = pd.DataFrame(np.arange(114, dtype=float).reshape(2, 57), index=ids, columns=list(FEATURE_NAMES))
    corpus = Corpus(pd.DataFrame({"track_id": ids, "path": ["", ""]}), features57=feats)
    fs = extract(corpus, kind="gtzan57", cache=cache)
    assert isinstance(fs, FeatureSet) and fs.track_ids == ids and fs.skipped == []
    np.testing.assert_array_equal(fs.X, feats.to_numpy())


def test_tracks_without_audio_are_listed(tmp_path, cache):
    path = write_clip(tmp_path / "a.wav")
    corpus = corpus_of([path, ""], ids=["has-audio", "lyrics-only"])
    fs = extract(corpus, kind="gtzan57", cache=False, n_jobs=1)
    assert fs.track_ids == ["has-audio"]
    assert [(s.path, s.reason) for s in fs.skipped] == [("lyrics-only", "no audio file for this track")]


@pytest.mark.slow
def test_process_pool_matches_in_process(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(extract_module, "IN_PROCESS_MAX", 0)  # use the pool even for this small batch
    paths = [write_clip(tmp_path / f"p{i}.wav", freq=120 + 40 * i, seconds=1.5, seed=i) for i in range(6)]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    corpus = corpus_of(paths + [bad])
    pooled = extract(corpus, kind="gtzan57", cache=False, n_jobs=2)
    serial = extract(corpus, kind="gtzan57", cache=False, n_jobs=1)
    assert pooled.track_ids == serial.track_ids == [f"t{i}" for i in range(6)]
    np.testing.assert_allclose(pooled.X, serial.X, rtol=1e-6)
    assert [s.path for s in pooled.skipped] == [str(bad)]

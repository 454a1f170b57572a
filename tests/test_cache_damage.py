"""Damaged or foreign entries of the feature and latents caches are recomputed, never served; concurrent
encodings of the same latents run once."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from core.corpus import FEATURE_NAMES, Corpus
from core.cache import FeatureCache
from core.latents import encode_corpus
from core.models import create
from tests.test_models import feature_inputs
from tests.test_corpus_bad_inputs import wav


# ---------------------------------------------------------------------------------------- caches
def test_flipped_exponent_bit_in_a_cache_entry_is_recomputed(tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    clip = wav(tmp_path / "a.wav")
    value = np.full(57, 4325.0)
    cache.put(clip, "gtzan57", None, value)
    entry = cache.feature_path(clip, "gtzan57")
    data = bytearray(entry.read_bytes())
    pos = len(data) - 8 * 57 + 7  # the last byte (sign + exponent) of the first float64
    data[pos] ^= 0x04
    entry.write_bytes(bytes(data))
    assert cache.get(clip, "gtzan57") is None and not entry.exists()  # dropped: the caller recomputes
    cache.put(clip, "gtzan57", None, value)
    np.testing.assert_array_equal(cache.get(clip, "gtzan57"), value)


def test_another_songs_entry_is_not_served(tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    a, b = wav(tmp_path / "a.wav", freq=200), wav(tmp_path / "b.wav", freq=900)
    cache.put(a, "gtzan57", None, np.zeros(57))
    cache.put(b, "gtzan57", None, np.ones(57))
    cache.feature_path(b, "gtzan57").write_bytes(cache.feature_path(a, "gtzan57").read_bytes())
    assert cache.get(b, "gtzan57") is None
    np.testing.assert_array_equal(cache.get(a, "gtzan57"), np.zeros(57))  # a's own entry is kept


def _feature_corpus(n: int = 30) -> Corpus:
    X = feature_inputs(n=n, f=len(FEATURE_NAMES), seed=5).features
    ids = [f"t{i}" for i in range(n)]
    tracks = pd.DataFrame({"track_id": ids, "path": "", "genre": "g", "source": "features"})
    return Corpus(tracks, pd.DataFrame(X, index=ids, columns=list(FEATURE_NAMES)), [], "features")


@pytest.mark.parametrize("damage", ["swapped", "cut", "out-of-range", "bytes"])
def test_damaged_latents_cache_is_recomputed(tmp_path, damage):
    corpus = _feature_corpus()
    model = create("basic", epochs=2)
    from core.inputs import build_inputs

    model.fit(build_inputs(corpus, needs=model.needs)[0])
    ids, Z = encode_corpus(model, corpus)
    cache = FeatureCache()
    key = f"latents/{model.name}-{model.fingerprint()}-{corpus.fingerprint()}"
    hit = cache.get_arrays(key)
    assert hit is not None
    z, rows = hit["z"].copy(), hit["rows"].copy()
    if damage == "swapped":
        rows[[0, 1]] = rows[[1, 0]]
        cache.put_arrays(key, {"z": z, "rows": rows})
    elif damage == "cut":
        cache.put_arrays(key, {"z": z[:-3], "rows": rows})
    elif damage == "out-of-range":
        rows[-1] = 10_000
        cache.put_arrays(key, {"z": z, "rows": rows})
    else:
        file = cache.array_path(key)
        data = bytearray(file.read_bytes())
        data[-5] ^= 0xFF
        file.write_bytes(bytes(data))
    again_ids, again = encode_corpus(model, corpus)
    assert again_ids == ids
    np.testing.assert_allclose(again, Z)


def test_concurrent_encodings_of_the_same_latents_run_once_and_share_progress(monkeypatch):
    """Two threads (two sessions, or a session and the background warm-up) ask for the same latents: the
    inputs are built and encoded once; the second thread waits, passing on the first one's progress, and
    gets the same latents. When the first fails, the second does the work itself."""
    import core.latents as latents
    from core.inputs import build_inputs
    from tests.helpers import race_two_callers

    corpus = _feature_corpus(n=24)
    model = create("basic", epochs=2)
    model.fit(build_inputs(corpus, needs=model.needs)[0])
    key = f"latents/{model.name}-{model.fingerprint()}-{corpus.fingerprint()}"
    failed, succeeded = race_two_callers(
        monkeypatch, latents, "build_inputs", lambda progress: encode_corpus(model, corpus, progress=progress),
        fresh=lambda: FeatureCache().array_path(key).unlink(missing_ok=True))
    assert failed["second"][1].shape == (24, model.latent_dim)
    np.testing.assert_array_equal(succeeded["first"][1], succeeded["second"][1])
    assert succeeded["first"][0] == succeeded["second"][0]

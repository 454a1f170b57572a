"""The neighbour probe (bench/bench_neighbours.py) on clips the test makes."""

from __future__ import annotations

import numpy as np

from bench.bench_neighbours import broadband, explained, feature_groups, mel_summaries, pooled_track_blocks
from core.corpus import FEATURE_NAMES
from tests.test_models import clip_store, mel_inputs, small


def test_summaries_and_broadband_numbers_follow_the_clips():
    rng = np.random.default_rng(0)
    clips = []
    for level in (-60.0, -40.0, -20.0):
        C = rng.normal(level, 1.0, (64, 50)).astype(np.float32)
        C[-16:] -= 12.0                      # a codec-like cut at the top
        clips.append(C)
    store = clip_store(clips, "neighbour-probe")
    found = mel_summaries(store)
    assert found["band means"].shape == (3, 64) and found["cepstra 13"].shape == (3, 26)
    np.testing.assert_allclose(found["band means"][:, 0], [clips[i][0].mean() for i in range(3)], atol=0.01)  # float16 on disk
    # coefficient 0 of an orthonormal DCT is the band mean times sqrt(F), F = 64: it follows the level
    np.testing.assert_allclose(found["cepstra 13"][:, 0], [c.mean() * np.sqrt(64) for c in clips], atol=0.05)
    B = broadband(store)
    np.testing.assert_allclose(B[:, 0], [c.mean() for c in clips], atol=0.01)
    assert np.all(np.abs(B[:, 1] + 12.0) < 1.0)   # the top 16 bands lie 12 dB under the middle


def test_feature_groups_cover_every_column_but_the_mfccs_once_each():
    groups = feature_groups()
    columns = sorted(i for c in groups.values() for i in c)
    assert columns == [i for i, name in enumerate(FEATURE_NAMES) if not name.startswith("mfcc")]
    assert [FEATURE_NAMES[i] for i in groups["zero_crossing_rate"]] == ["zero_crossing_rate_mean", "zero_crossing_rate_var"]
    assert [FEATURE_NAMES[i] for i in groups["tempo"]] == ["tempo"]


def test_explained_share_is_one_for_a_linear_function_and_near_zero_for_noise():
    rng = np.random.default_rng(1)
    c = rng.normal(size=(200, 2))
    share, residual = explained(c @ rng.normal(size=(2, 5)) + 3.0, c)
    assert share > 0.999 and np.abs(residual).max() < 1e-8
    share, _ = explained(rng.normal(size=(200, 5)), c)
    assert share < 0.05


def test_pooled_track_blocks_give_what_encode_gives_and_two_other_poolings():
    inputs = mel_inputs(12, lyrics=False)
    model = small("conv", modality="audio").fit(inputs)
    pooled = pooled_track_blocks(model, inputs)
    d = model.module_.d_track
    assert pooled["poe"].shape == pooled["mean"].shape == (12, d) and pooled["mean+std"].shape == (12, 2 * d)
    np.testing.assert_allclose(pooled["poe"], model.encode(inputs)[:, :d], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(pooled["mean+std"][:, :d], pooled["mean"])
    assert (pooled["mean+std"][:, d:] >= 0).all()

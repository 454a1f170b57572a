"""Latent parts: a multimodal latent's blocks, the balanced view every page clusters, and tracks without lyrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

from core import blocks
from core.blocks import LatentBlock
from core.cli import main
from core.inputs import ModelInputs
from core.latents import latent_part
from tests.helpers import tiny_demo
from tests.test_models import mel_inputs, small

AUDIO_LYRICS = (LatentBlock("audio", "audio", 0, 40), LatentBlock("crop", "audio", 40, 48, track_level=False),
                LatentBlock("lyrics", "lyrics", 48, 56))


def drowned_language(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Latents whose 8 lyrics dimensions split two languages cleanly, next to 48 audio dimensions of
    ten times the spread that know nothing of it (the shape of the shipped ConvVAE's problem)."""
    rng = np.random.default_rng(seed)
    language = rng.integers(0, 2, n)
    Z = rng.normal(0, 10, (n, 56))
    Z[:, 48:] = rng.normal(0, 0.3, (n, 8)) + np.where(language[:, None] == 1, 1.0, -1.0)
    return Z.astype(np.float32), language


def kmeans_nmi(Z: np.ndarray, truth: np.ndarray) -> float:
    return normalized_mutual_info_score(truth, KMeans(2, n_init=10, random_state=0).fit_predict(Z))


def test_the_balanced_part_finds_what_the_raw_concatenation_drowns():
    Z, language = drowned_language()
    assert kmeans_nmi(Z, language) < 0.1
    assert kmeans_nmi(blocks.view(Z, AUDIO_LYRICS, "balanced"), language) > 0.9
    assert kmeans_nmi(blocks.view(Z, AUDIO_LYRICS, "lyrics"), language) > 0.9


def test_each_modality_weighs_the_same_in_the_balanced_part_and_the_crop_block_is_left_out():
    Z, _ = drowned_language()
    V = blocks.view(Z, AUDIO_LYRICS, "balanced")
    assert V.shape == (len(Z), 40 + 8) and V.dtype == np.float32
    for piece in (V[:, :40], V[:, 40:]):
        assert np.allclose(piece.mean(0), 0, atol=1e-5)
        assert np.mean(np.sum(piece.astype(np.float64) ** 2, axis=1)) == pytest.approx(1.0, rel=1e-4)
    np.testing.assert_array_equal(blocks.view(Z, AUDIO_LYRICS, "audio"), Z[:, :40])
    np.testing.assert_array_equal(blocks.view(Z, AUDIO_LYRICS, "lyrics"), Z[:, 48:])
    np.testing.assert_array_equal(blocks.view(Z, AUDIO_LYRICS, "all"), Z)
    assert blocks.column_names(AUDIO_LYRICS, "balanced")[39:41] == ["audio_39", "lyrics_0"]
    assert blocks.column_names(AUDIO_LYRICS, "all")[40] == "crop_0"


def test_parts_offered_follow_the_modalities():
    assert blocks.parts(AUDIO_LYRICS) == ["balanced", "audio", "lyrics", "all"]
    assert blocks.default_part(AUDIO_LYRICS) == "balanced"
    one = (LatentBlock("z", "features", 0, 16),)
    assert blocks.parts(one) == ["all"] and blocks.column_names(one) == [f"z{i}" for i in range(16)]
    with pytest.raises(ValueError, match="'lyrics' is not one of this model's parts"):
        blocks.view(np.zeros((3, 16)), one, "lyrics")
    assert blocks.view(np.zeros((0, 56)), AUDIO_LYRICS, "balanced").shape == (0, 48)


def test_conv_blocks_match_its_network_and_tracks_without_lyrics_still_encode_and_cluster():
    inputs = mel_inputs()  # one track in four has no lyrics
    model = small("conv")
    before = model.latent_blocks()
    model.fit(inputs)
    found = model.latent_blocks()
    assert found == before
    assert [(b.name, b.modality, b.start, b.stop, b.track_level) for b in found] == [
        ("audio", "audio", 0, 3, True), ("crop", "audio", 3, 4, False), ("lyrics", "lyrics", 4, 6, True)]
    Z = model.encode(inputs)
    missing = blocks.missing_rows(Z, found[2])
    np.testing.assert_array_equal(missing, [not text for text in inputs.lyrics])
    V = latent_part(model, Z)  # the default: balanced
    assert V.shape == (len(inputs), 3 + 2) and np.isfinite(V).all()
    labels = KMeans(2, n_init=4, random_state=0).fit_predict(V)
    assert set(labels[missing]) <= {0, 1}  # the tracks without lyrics are clustered like the others
    # a collection with no lyrics at all still encodes with the fused model: every lyrics block is the prior
    audio_only = model.encode(ModelInputs(inputs.track_ids, clips=inputs.clips))
    assert np.all(audio_only[:, 4:] == 0)
    np.testing.assert_allclose(audio_only[:, :4], Z[:, :4], rtol=1e-5, atol=1e-6)


def test_a_collection_without_any_lyrics_gives_an_audio_only_model_with_one_part():
    inputs = mel_inputs()
    model = small("conv").fit(ModelInputs(inputs.track_ids, lyrics=[""] * len(inputs), clips=inputs.clips))
    assert [b.modality for b in model.latent_blocks()] == ["audio", "audio"]
    assert blocks.parts(model.latent_blocks()) == ["all"]
    Z = model.encode(ModelInputs(inputs.track_ids, clips=inputs.clips))
    np.testing.assert_array_equal(latent_part(model, Z), Z)


def test_encode_writes_the_balanced_part_by_default_and_every_dimension_on_request(tmp_path, capsys):
    demo = tiny_demo(tmp_path / "demo", n_tracks=12, seconds=4.0)
    out = tmp_path / "z.csv"
    assert main(["encode", "checkpoints/conv.pt", f"demo:{demo}", "--out", str(out)]) == 0
    balanced = pd.read_csv(out)
    assert "(balanced part)" in capsys.readouterr().out
    dims = [c for c in balanced.columns if c not in ("track_id", "genre", "language")]
    assert dims[0] == "audio_0" and dims[-1].startswith("lyrics_") and not any(c.startswith("crop_") for c in dims)
    assert main(["encode", "checkpoints/conv.pt", f"demo:{demo}", "--out", str(out), "--part", "all"]) == 0
    every = pd.read_csv(out)
    assert any(c.startswith("crop_") for c in every.columns)
    assert len(every.columns) - 3 == 56 and len(dims) == 48
    # a one-block model has no lyrics part: a clear message, no traceback, no file replaced
    assert main(["encode", "checkpoints/basic.pt", f"demo:{demo}", "--out", str(out), "--part", "lyrics"]) == 2
    err = capsys.readouterr().err
    assert "--part" in err and "'lyrics' is not a part of this checkpoint" in err and "Traceback" not in err
    assert len(pd.read_csv(out).columns) - 3 == 56

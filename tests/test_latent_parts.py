"""Latent parts: a multimodal latent's blocks, the joint view every page clusters, the balanced view, and tracks
without lyrics."""

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
    assert blocks.parts(AUDIO_LYRICS) == ["joint", "balanced", "audio", "lyrics", "all"]
    assert blocks.default_part(AUDIO_LYRICS) == "joint"
    assert blocks.column_names(AUDIO_LYRICS, "joint") == blocks.column_names(AUDIO_LYRICS, "balanced")
    # two modalities that are not audio and lyrics have no joint part (nothing says which predicts which)
    other = (LatentBlock("a", "audio", 0, 4), LatentBlock("b", "features", 4, 8))
    assert blocks.parts(other)[0] == "balanced"
    one = (LatentBlock("z", "features", 0, 16),)
    assert blocks.parts(one) == ["all"] and blocks.column_names(one) == [f"z{i}" for i in range(16)]
    with pytest.raises(ValueError, match="'lyrics' is not one of this model's parts"):
        blocks.view(np.zeros((3, 16)), one, "lyrics")
    assert blocks.view(np.zeros((0, 56)), AUDIO_LYRICS, "balanced").shape == (0, 48)
    assert blocks.view(np.zeros((0, 56)), AUDIO_LYRICS, "joint").shape == (0, 48)


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
    V = latent_part(model, Z)  # the default: joint (balanced here: too few tracks with lyrics to fit its map)
    assert V.shape == (len(inputs), 3 + 2) and np.isfinite(V).all()
    labels = KMeans(2, n_init=4, random_state=0).fit_predict(V)
    assert set(labels[missing]) <= {0, 1}  # the tracks without lyrics are clustered like the others
    # a collection with no lyrics at all still encodes with the fused model: every lyrics block is the prior
    audio_only = model.encode(ModelInputs(inputs.track_ids, clips=inputs.clips))
    assert np.all(audio_only[:, 4:] == 0)
    np.testing.assert_allclose(audio_only[:, :4], Z[:, :4], rtol=1e-5, atol=1e-6)


def test_a_collection_without_any_lyrics_gives_an_audio_only_model_that_clusters_every_dimension_by_default():
    inputs = mel_inputs()
    model = small("conv").fit(ModelInputs(inputs.track_ids, lyrics=[""] * len(inputs), clips=inputs.clips))
    assert [b.modality for b in model.latent_blocks()] == ["audio", "audio"]
    assert blocks.parts(model.latent_blocks()) == ["all", "audio"]  # the track block alone is offered second
    Z = model.encode(ModelInputs(inputs.track_ids, clips=inputs.clips))
    np.testing.assert_array_equal(latent_part(model, Z), Z)


def test_encode_writes_the_joint_part_by_default_and_every_dimension_on_request(tmp_path, capsys):
    demo = tiny_demo(tmp_path / "demo", n_tracks=12, seconds=4.0)
    out = tmp_path / "z.csv"
    assert main(["encode", "checkpoints/conv.pt", f"demo:{demo}", "--out", str(out)]) == 0
    joint = pd.read_csv(out)
    # 12 tracks: too few with lyrics to fit the joint part's map, and the message says so
    said = capsys.readouterr().out
    assert "(joint part, which is the balanced part here: fewer than 20 tracks have lyrics" in said, said
    dims = [c for c in joint.columns if c not in ("track_id", "genre", "language")]
    assert dims[0] == "audio_0" and dims[-1].startswith("lyrics_") and not any(c.startswith("crop_") for c in dims)
    assert main(["encode", "checkpoints/conv.pt", f"demo:{demo}", "--out", str(out), "--part", "all"]) == 0
    every = pd.read_csv(out)
    assert any(c.startswith("crop_") for c in every.columns)
    # all: track 32 + crop 8 + the temporal latent's 4 channels + lyrics 16
    assert len(every.columns) - 3 == 60 and len(dims) == 48 and any(c.startswith("temporal_") for c in every.columns)
    # a one-block model has no lyrics part: a clear message, no traceback, no file replaced
    assert main(["encode", "checkpoints/basic.pt", f"demo:{demo}", "--out", str(out), "--part", "lyrics"]) == 2
    err = capsys.readouterr().err
    assert "--part" in err and "'lyrics' is not a part of this checkpoint" in err and "Traceback" not in err
    assert len(pd.read_csv(out).columns) - 3 == 60


def shared_style(n: int = 400, seed: int = 0, without_lyrics: int = 0):
    """Latents of tracks in 4 styles and 2 languages. The lyrics block knows the language well and the style
    faintly; the audio block knows the style well, beside loud unrelated variation (two recording chains,
    loudness) that knows nothing of either. The last ``without_lyrics`` tracks have no lyrics."""
    rng = np.random.default_rng(seed)
    style, language = rng.integers(0, 4, n), rng.integers(0, 2, n)
    centres = rng.normal(0, 1, (4, 5))
    Z = np.zeros((n, 56), dtype=np.float32)
    Z[:, :5] = centres[style] + rng.normal(0, 0.35, (n, 5))
    Z[:, 5] = np.where(rng.integers(0, 2, n) == 1, 6.0, -6.0)  # two recording chains
    Z[:, 6:8] = rng.normal(0, 2, (n, 2))
    Z[:, 8:40] = rng.normal(0, 0.3, (n, 32))
    Z[:, 40:48] = rng.normal(0, 3, (n, 8))  # the crop block: left out of every fused part
    Z[:, 48:50] = np.where(language[:, None] == 1, 1.5, -1.5) + rng.normal(0, 0.3, (n, 2))
    Z[:, 50:54] = 0.45 * centres[style, :4] + rng.normal(0, 0.6, (n, 4))
    Z[:, 54:56] = rng.normal(0, 0.5, (n, 2))
    if without_lyrics:
        Z[-without_lyrics:, 48:] = 0
    return Z, style, language


def kmeans_nmi_k(Z: np.ndarray, truth: np.ndarray, k: int) -> float:
    return normalized_mutual_info_score(truth, KMeans(k, n_init=10, random_state=0).fit_predict(Z))


def test_the_joint_part_adds_what_both_modalities_know_and_keeps_what_only_the_lyrics_know():
    Z, style, language = shared_style()
    joint, balanced, lyrics = (blocks.view(Z, AUDIO_LYRICS, p) for p in ("joint", "balanced", "lyrics"))
    assert joint.shape == balanced.shape == (len(Z), 48) and joint.dtype == np.float32
    # the style, faint in the lyrics, comes through the audio's agreement with them: neighbours share it
    # more often, and K-Means finds the style-and-language groups better than on either other view
    from core.metrics import neighbour_agreement
    assert neighbour_agreement(joint, style, k=5).value > neighbour_agreement(lyrics, style, k=5).value + 0.1
    both = style * 2 + language
    assert kmeans_nmi_k(joint, both, 8) > max(kmeans_nmi_k(lyrics, both, 8), kmeans_nmi_k(balanced, both, 8)) + 0.08
    # the language, only in the lyrics, is not pulled apart by the audio's recording chains, which steer
    # the balanced part
    assert kmeans_nmi(joint, language) > 0.9
    assert kmeans_nmi(balanced, language) < 0.5
    # audio that predicts nothing of the lyrics adds (almost) nothing: the lyrics alone decide
    Z2, language2 = drowned_language()
    assert kmeans_nmi(blocks.view(Z2, AUDIO_LYRICS, "joint"), language2) > 0.9


def test_a_track_without_lyrics_is_placed_by_the_audios_estimate_of_them():
    Z, style, _ = shared_style(n=400, without_lyrics=60)
    V = blocks.view(Z, AUDIO_LYRICS, "joint")
    missing = np.arange(len(Z)) >= 340
    audio_cols, lyrics_cols = V[:, :40], V[:, 40:]
    assert np.abs(lyrics_cols[missing]).sum(1).min() > 0  # no longer the prior mean
    # its lyrics columns are the audio's linear estimate of the lyrics, the one map fitted on the others
    A = Z[:, :40].astype(np.float64) - Z[~missing, :40].mean(0)
    L = Z[:, 48:].astype(np.float64) - Z[~missing, 48:].mean(0)
    B, alpha = blocks.ridge_map(A[~missing], L[~missing])
    np.testing.assert_allclose(lyrics_cols[missing], (A @ B)[missing], atol=1e-4)
    np.testing.assert_allclose(lyrics_cols[~missing], L[~missing], atol=1e-4)
    # and the audio columns put two tracks as far apart as the audio's estimates of their lyrics
    i, j = 3, 350
    assert np.linalg.norm(audio_cols[i] - audio_cols[j]) == pytest.approx(np.linalg.norm((A @ B)[i] - (A @ B)[j]), rel=1e-4)
    # so a track without lyrics lands among tracks of its style more often than in the balanced part, where
    # it sits at the lyrics' prior and the recording chains pull at it (chance: 0.25)
    from sklearn.neighbors import NearestNeighbors

    def same_style_neighbours(view):
        _, idx = NearestNeighbors(n_neighbors=5).fit(view[~missing]).kneighbors(view[missing])
        return np.mean(style[~missing][idx] == style[missing][:, None])

    assert same_style_neighbours(V) > same_style_neighbours(blocks.view(Z, AUDIO_LYRICS, "balanced")) + 0.1
    assert same_style_neighbours(V) > 0.6


def test_with_too_few_tracks_with_lyrics_the_joint_part_is_the_balanced_part():
    Z, _, _ = shared_style(n=200, without_lyrics=200 - (blocks.MIN_PAIRED - 1))
    np.testing.assert_array_equal(blocks.view(Z, AUDIO_LYRICS, "joint"), blocks.view(Z, AUDIO_LYRICS, "balanced"))
    assert blocks.fitted_part(Z, AUDIO_LYRICS, "joint") == "balanced"
    Z, _, _ = shared_style(n=200, without_lyrics=200 - blocks.MIN_PAIRED)
    assert not np.allclose(blocks.view(Z, AUDIO_LYRICS, "joint"), blocks.view(Z, AUDIO_LYRICS, "balanced"))
    assert blocks.fitted_part(Z, AUDIO_LYRICS, "joint") == "joint"
    assert blocks.fitted_part(Z, AUDIO_LYRICS, "lyrics") == "lyrics"


def test_ridge_map_chooses_its_strength_without_labels():
    rng = np.random.default_rng(1)
    X = rng.normal(0, 1, (300, 10))
    X -= X.mean(0)
    true = rng.normal(0, 1, (10, 3))
    Y = X @ true + rng.normal(0, 0.05, (300, 3))
    Y -= Y.mean(0)
    B, alpha = blocks.ridge_map(X, Y)
    np.testing.assert_allclose(B, np.linalg.solve(X.T @ X + alpha * np.eye(10), X.T @ Y), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(B, true, atol=0.02)  # a clean relation: little shrinkage
    noise = rng.normal(0, 1, (300, 3))
    B0, alpha0 = blocks.ridge_map(X, noise - noise.mean(0))
    assert alpha0 > 100 * alpha and np.abs(B0).max() < 0.1  # no relation: shrunk towards nothing
    assert np.all(blocks.ridge_map(np.zeros((5, 4)), Y[:5])[0] == 0)

"""Reconstruction measures, the lyrics-only and balanced-PCA baselines, the fusion task and the
quality benchmark's pieces, on small data built here."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from core import checkpoint
from core.corpus import Corpus
from core.errors import BadInputError
from core.evaluate import TASKS
from core.evaluate.run import task_support
from core.inputs import ModelInputs
from core.models import MODELS, create
from core.reconstruction import model_reconstruction_measures, reconstruction_measures, rhythm_measures

ENGLISH = "love night heart dance baby tonight forever dream"
BANGLA = "ভালোবাসা রাত হৃদয় নাচ স্বপ্ন আকাশ নদী গান"


def _spectra(n=12, F=16, T=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(-40.0, 10.0, size=(n, F, T))


# ------------------------------------------------------------------ reconstruction measures
def test_a_perfect_reconstruction_retrieves_every_track_and_has_zero_distance():
    O = _spectra()
    m = reconstruction_measures(O, O.copy())
    assert m["self_retrieval"] == 1.0 and m["dist_recon_db"] == pytest.approx(0.0, abs=1e-6)
    assert m["chance"] == pytest.approx(1 / 12)
    assert m["dist_corpus_mean_db"] > 5.0


def test_the_same_output_for_every_track_retrieves_one_track_only_and_matches_the_mean_distance():
    O = _spectra()
    R = np.broadcast_to(O.mean(0), O.shape).copy()
    m = reconstruction_measures(O, R)
    assert m["self_retrieval"] == pytest.approx(m["chance"])  # only the track nearest the mean is a hit
    assert m["dist_recon_db"] == pytest.approx(m["dist_corpus_mean_db"])


def test_self_retrieval_counts_the_share_of_reconstructions_nearest_their_own_track():
    O = _spectra(n=4)
    R = O.copy()
    R[0], R[1] = O[1], O[0]  # two reconstructions swapped: those two are retrieved wrongly
    m = reconstruction_measures(O, R)
    assert m["self_retrieval"] == pytest.approx(0.5)
    # the distance is RMS dB: a constant 3 dB offset is a distance of exactly 3
    assert reconstruction_measures(O, O + 3.0)["dist_recon_db"] == pytest.approx(3.0)


def test_mismatched_or_broken_arrays_are_refused_with_a_message():
    O = _spectra()
    with pytest.raises(BadInputError, match="shape"):
        reconstruction_measures(O, O[:, :8])
    with pytest.raises(BadInputError, match="at least 2 tracks"):
        reconstruction_measures(O[:1], O[:1])
    bad = O.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(BadInputError, match="NaN"):
        reconstruction_measures(O, bad)


# ------------------------------------------------------------------ baselines
def _inputs(n=16, seed=0) -> ModelInputs:
    rng = np.random.default_rng(seed)
    mel = rng.uniform(-80.0, 0.0, size=(n, 16, 16)).astype(np.float32)
    lyrics = [" ".join(rng.choice((ENGLISH if i % 2 else BANGLA).split(), 6)) for i in range(n)]
    lyrics[0] = ""  # one track without lyrics
    return ModelInputs(track_ids=[f"t{i}" for i in range(n)], mel=mel, lyrics=lyrics)


def test_tfidf_baseline_is_the_tfidf_rows_and_separates_two_vocabularies(tmp_path):
    assert "tfidf" in MODELS
    inputs = _inputs()
    model = create("tfidf").fit(inputs)
    Z = model.encode(inputs)
    assert Z.shape == (16, model.latent_dim) and model.latent_dim == 16  # 8 + 8 distinct words
    assert np.allclose(Z[0], 0.0)  # no lyrics: zeros
    eng = Z[1::2].sum(0) > 0
    bng = Z[2::2].sum(0) > 0
    assert not (eng & bng).any()  # the two languages use disjoint columns
    loaded = checkpoint.load(checkpoint.save(model, tmp_path / "tfidf.pt"), expect_model="tfidf")
    assert np.allclose(loaded.encode(inputs), Z)
    with pytest.raises(BadInputError, match="reconstructs no mel"):
        model_reconstruction_measures(model, inputs)


def test_tfidf_baseline_refuses_a_corpus_without_lyrics():
    inputs = ModelInputs(track_ids=["a", "b"], lyrics=["", ""])
    with pytest.raises(BadInputError, match="no track had any usable lyrics"):
        create("tfidf").fit(inputs)


def test_balanced_pca_gives_the_lyrics_block_the_same_total_variance_as_the_mel(tmp_path):
    inputs = _inputs()
    plain = create("pca", inputs="mel", modality="both", latent_dim=4).fit(inputs)
    bal = create("pca_balanced", latent_dim=4).fit(inputs)
    A = bal._matrix(inputs)
    n_pix = 16 * 16
    assert A[:, :n_pix].var(0).sum() == pytest.approx(1.0, rel=1e-3)
    assert A[:, n_pix:].var(0).sum() == pytest.approx(1.0, rel=1e-3)
    # the lyrics dominate nothing in plain PCA; balanced, the first component leans on them
    share = lambda m: float((m.components_[0, n_pix:] ** 2).sum())  # noqa: E731
    assert share(bal) > 5 * share(plain)
    loaded = checkpoint.load(checkpoint.save(bal, tmp_path / "bal.pt"), expect_model="pca_balanced")
    assert np.allclose(loaded.encode(inputs), bal.encode(inputs), atol=1e-5)
    rec = bal.reconstruct(inputs)
    assert rec.mel.shape == inputs.mel.shape
    m = model_reconstruction_measures(bal, inputs)
    assert 0.0 <= m["self_retrieval"] <= 1.0 and m["dist_recon_db"] < m["dist_corpus_mean_db"] + 1.0


def test_balanced_pca_takes_only_mel_inputs():
    with pytest.raises(ValueError, match="inputs must be 'mel'"):
        create("pca_balanced", inputs="features").fit(_inputs())


# ------------------------------------------------------------------ fusion task
def test_fusion_task_has_every_modality_and_is_skipped_without_lyrics():
    task = TASKS["fusion"]
    models = {(s.model, s.config.get("modality")) for s in task.models}
    assert {("tfidf", None), ("pca_balanced", None), ("conv", "audio"), ("conv", "lyrics"),
            ("conv", "both")} <= models
    tracks = pd.DataFrame({"track_id": ["a"], "genre": ["rock"], "language": [""], "path": ["x.wav"],
                           "lyrics": [""]})
    assert "no lyrics" in task_support(Corpus(tracks=tracks, name="t"), task)


# ------------------------------------------------------------------ the benchmark's pieces
def _bench():
    return importlib.import_module("bench.bench_quality")


def test_bench_gives_distinct_labels_and_adapts_to_a_corpus_without_lyrics():
    bench = _bench()
    tracks = pd.DataFrame({"track_id": ["a"], "genre": ["rock"], "language": [""], "path": ["x.wav"],
                           "lyrics": [""]})
    specs = bench.specs_for(Corpus(tracks=tracks, name="t"))
    labels = [s.label for s in specs]
    assert len(labels) == len(set(labels))
    assert not any(s.config.get("modality") in ("both", "lyrics") for s in specs)
    assert {"tfidf", "pca_balanced"}.isdisjoint({s.model for s in specs})
    assert "conv" in {s.model for s in specs}


def test_bench_table_and_fusion_gain_from_per_seed_rows():
    bench = _bench()
    # a multimodal model is scored on each latent part; its balanced part is compared with its own audio and
    # lyrics parts and with the single-modality models that ran
    df = pd.DataFrame({"corpus": "demo", "representation": ["ConvVAE [balanced]"] * 2 + ["ConvVAE [audio]"] * 2
                       + ["ConvVAE lyrics only"] * 2, "nmi_genre": [0.5, 0.6, 0.3, 0.3, 0.4, 0.6],
                       "nmi_language": [0.9, 0.9, 0.0, 0.0, 0.8, 0.8]})
    text = bench.table(df)
    assert "| demo | ConvVAE [balanced] | 2 | 0.550 ± 0.050 |" in text
    gains = bench.fusion_gain(df)
    assert any("nmi_genre 0.550 vs best single modality (ConvVAE lyrics only) 0.500: +0.050" in g for g in gains)
    assert any("nmi_language 0.900" in g and "+0.100" in g for g in gains)
    assert bench.fusion_pairs({"conv.pt [balanced]", "conv.pt [audio]"})["conv.pt [balanced]"][:2] == (
        "conv.pt [audio]", "conv.pt [lyrics]")
    # saved checkpoints: the files given one label are the seeds of one representation
    assert bench.checkpoint_groups(["ck/conv.pt", "ConvVAE=a/s0.pt", "ConvVAE=a/s1.pt"]) == {
        "conv.pt": ["ck/conv.pt"], "ConvVAE": ["a/s0.pt", "a/s1.pt"]}


def test_whole_clip_models_are_measured_on_their_own_excerpt_whatever_mels_the_inputs_carry():
    """The benchmark builds one set of inputs for every model, with a peak-relative 128-frame mel
    (for PCA on mel) beside the whole clips: a whole-clip model is still compared with ITS excerpt."""
    from tests.test_models import mel_inputs, small
    inputs = mel_inputs()
    assert inputs.mel is not None and inputs.clips is not None
    model = small("conv", modality="audio").fit(inputs)
    both = model_reconstruction_measures(model, inputs)
    clips_only = model_reconstruction_measures(model, ModelInputs(inputs.track_ids, clips=inputs.clips))
    original, rebuilt = model.excerpt(inputs)[0], model.reconstruct(inputs).mel
    assert both == clips_only == {**reconstruction_measures(original, rebuilt),
                                  **rhythm_measures(original=original, reconstruction=rebuilt)}


def test_every_fusion_comparison_names_labels_a_corpus_with_lyrics_really_produces():
    bench = _bench()
    tracks = pd.DataFrame({"track_id": ["a", "b"], "genre": ["rock", "pop"], "language": ["en", "bn"],
                           "path": ["x.wav", "y.wav"], "lyrics": ["love night", "ভালোবাসা রাত"]})
    labels = {s.label for s in bench.specs_for(Corpus(tracks=tracks, name="t"))}
    for fused, singles in bench.FUSION.items():
        assert {fused, *singles} <= labels, (fused, singles, sorted(labels))

"""Encoding a collection with its own mel band levels (core.latents): a collection recorded with other band
levels than the training corpus (a codec that cuts the top bands, another mastering level) is read as the
training corpus was; the model itself is left as it was. ``"auto"``, the default everywhere, uses them for a
collection the model was not trained on, with enough tracks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import core.config
from core import checkpoint, latents
from core.cli import main
from core.corpus import load_sources
from core.errors import BadInputError
from core.inputs import ModelInputs, build_inputs
from core.latents import (MIN_LEVEL_TRACKS, band_levels_of, levels_choice, model_and_latents, reader,
                          with_collection_levels)
from core.models import create
from tests.helpers import tiny_demo
from tests.test_models import clip_store, mel_inputs, small


def test_a_collection_offset_band_by_band_encodes_as_the_original_with_its_own_levels():
    inputs = mel_inputs(16, lyrics=False)
    # longer than small()'s few steps: enough for the encoder to read the levels
    model = create("conv", modality="audio", width=8, latent_dim=3, crop_latent_dim=1, crops_per_track=2, crop_frames=16,
                   temporal_dim=0, epochs=10, steps_per_epoch=20, batch_size=8, warmup_steps=4, lr_warmup_steps=2,
                   patience=None, random_state=0).fit(inputs)
    F = inputs.clips.n_mels
    offset = np.linspace(0.0, -30.0, F, dtype=np.float32)[:, None]  # the top bands 30 dB down, as an MP3 preview
    clips = [np.asarray(inputs.clips.clip(i)) + offset for i in range(len(inputs))]
    other = ModelInputs(inputs.track_ids, clips=clip_store(clips, "levels-offset"))
    Z, Z_trained_levels = model.encode(inputs), model.encode(other)
    fingerprint, levels = model.fingerprint(), model.prep_.band_mean.copy()

    adapted = with_collection_levels(model, other)
    assert not np.allclose(Z_trained_levels, Z, atol=1e-3)  # the offset moves every track with the trained levels
    # with its own levels the collection reads as the original, but for the store's float16 rounding of the offset
    # clips (1/16 dB at these levels): the latents move less than a fiftieth of what the offset moved them
    shift = np.abs(Z_trained_levels - Z).max()
    assert np.abs(adapted.encode(other) - Z).max() < 0.02 * shift
    assert np.allclose(adapted.prep_.band_mean, other.clips.band_stats()[0])  # the collection's own band means
    assert np.array_equal(adapted.prep_.band_std, model.prep_.band_std)  # the spreads are the training corpus's
    # the model given is untouched, and the adapted copy's latents are cached under a key of their own
    assert np.array_equal(model.prep_.band_mean, levels) and model.fingerprint() == fingerprint
    assert adapted.fingerprint() != fingerprint


def test_models_that_read_no_audio_clips_are_returned_as_they_are():
    inputs = mel_inputs(12)
    for model in (small("pca", inputs="mel").fit(inputs), small("conv", modality="lyrics").fit(inputs)):
        assert with_collection_levels(model, inputs) is model


class _Collection:
    """What the choice reads of a corpus: its size, whether it has audio and its content fingerprint."""

    def __init__(self, n_tracks: int, fingerprint: str, *, has_audio: bool = True):
        self.n_tracks, self._fingerprint, self.has_audio = n_tracks, fingerprint, has_audio

    def __len__(self) -> int:
        return self.n_tracks

    def fingerprint(self) -> str:
        return self._fingerprint


def test_auto_reads_a_collection_the_model_was_not_trained_on_with_its_own_levels():
    inputs = mel_inputs(12, lyrics=False)
    model = small("conv", modality="audio").fit(inputs)
    model.training_data_ = {"sources": ["folder:a"], "n_tracks": 12, "fingerprint": "trained-on"}
    enough = MIN_LEVEL_TRACKS
    assert levels_choice(model, _Collection(enough, "trained-on")) == "trained"  # its own training data
    assert levels_choice(model, _Collection(enough, "other")) == "collection"
    assert levels_choice(model, _Collection(enough - 1, "other")) == "trained"  # too few tracks to say
    assert levels_choice(model, _Collection(enough, "other", has_audio=False)) == "trained"  # nothing to measure
    model.training_data_ = None  # an older file that records nothing: other data, as far as anyone knows
    assert levels_choice(model, _Collection(enough, "other")) == "collection"
    # asked for by name, either is used whatever the collection
    assert levels_choice(model, _Collection(1, "other"), levels="collection") == "collection"
    assert levels_choice(model, _Collection(enough, "other"), levels="trained") == "trained"
    with pytest.raises(BadInputError, match="--levels"):
        levels_choice(model, _Collection(enough, "other"), levels="loudest")
    # models that standardise no mel bands have no levels to choose
    for other in (small("pca", inputs="mel").fit(mel_inputs(12)), small("conv", modality="lyrics").fit(mel_inputs(12))):
        assert levels_choice(other, _Collection(enough, "other")) == "trained"
        assert reader(other, _Collection(enough, "other")) is other


def test_the_reader_measures_a_collection_once_and_keeps_the_model_given(tmp_path, monkeypatch):
    corpus = load_sources([f"demo:{tiny_demo(tmp_path / 'demo', n_tracks=MIN_LEVEL_TRACKS, seconds=3.0)}"])
    model = checkpoint.load("checkpoints/real.pt")  # trained on real recordings, not on this synthetic demo
    levels, fingerprint = model.prep_.band_mean.copy(), model.fingerprint()
    read_by = reader(model, corpus)
    assert band_levels_of(read_by) == "collection" and band_levels_of(model) == "trained"
    clips = build_inputs(corpus, needs={"clips"}, **latents.input_params(model))[0].clips
    assert np.allclose(read_by.prep_.band_mean, clips.band_stats()[0], atol=1e-4)  # every frame's band mean
    assert np.array_equal(model.prep_.band_mean, levels) and model.fingerprint() == fingerprint
    assert read_by.fingerprint() != fingerprint  # its latents are cached apart

    def measured_again(*args, **kwargs):
        raise AssertionError("the collection's levels were measured twice")

    monkeypatch.setattr(latents, "band_sums_chunk", measured_again)
    assert np.array_equal(reader(model, corpus).prep_.band_mean, read_by.prep_.band_mean)  # from the cache
    # the corpus it was trained on keeps the training levels
    model.training_data_ = dict(model.training_data_, fingerprint=corpus.fingerprint())
    assert reader(model, corpus) is model


def test_encode_with_the_collections_levels_on_the_command_line(tmp_path, capsys, monkeypatch):
    demo = tiny_demo(tmp_path / "demo", n_tracks=12, seconds=4.0)
    out = tmp_path / "z.csv"
    args = ["encode", "checkpoints/real.pt", f"demo:{demo}", "--out", str(out)]
    assert main(args) == 0  # auto: 12 tracks are too few to stand for a recording chain
    assert "band levels" not in capsys.readouterr().out
    auto = pd.read_csv(out)
    assert main([*args, "--levels", "trained"]) == 0
    trained = pd.read_csv(out)
    assert auto.equals(trained)
    assert main([*args, "--levels", "collection"]) == 0
    assert "with the collection's band levels" in capsys.readouterr().out
    own = pd.read_csv(out)
    assert list(own["track_id"]) == list(trained["track_id"]) and own.shape == trained.shape
    # the synthetic demo sits far from the real recordings' levels: every track moves
    assert (np.abs(own.iloc[:, 3:].to_numpy() - trained.iloc[:, 3:].to_numpy()).max(axis=1) > 1e-3).all()
    # on a Dask cluster each task sums its chunk's bands: the same levels, the same latents (a fresh cache
    # here, so that neither the levels nor the latents are read from the runs above)
    monkeypatch.setattr(core.config, "CACHE_DIR", tmp_path / "fresh-cache")
    ran, run_keyed = [], latents.distributed.run_keyed
    monkeypatch.setattr(latents.distributed, "run_keyed", lambda client, fn, *a, **k: (
        ran.append(fn.__name__), run_keyed(client, fn, *a, **k))[1])
    corpus = load_sources([f"demo:{demo}"])
    model, _, Z = model_and_latents("checkpoints/real.pt", corpus, levels="collection", cluster="local:1")
    assert band_levels_of(model) == "collection" and ran == ["band_sums_chunk", "encode_chunk"]
    assert np.allclose(Z[:, :own.shape[1] - 3], own.iloc[:, 3:].to_numpy(), atol=1e-4)

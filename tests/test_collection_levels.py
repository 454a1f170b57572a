"""Encoding a collection with its own mel band levels (core.latents.with_collection_levels): a collection
recorded with other band levels than the training corpus (a codec that cuts the top bands, another mastering
level) is read as the training corpus was; the model itself is left as it was."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.cli import main
from core.inputs import ModelInputs
from core.latents import with_collection_levels
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
    assert np.allclose(adapted.encode(other), Z, atol=1e-4)  # with its own levels the collection reads as the original
    assert np.allclose(adapted.prep_.band_mean, other.clips.band_stats()[0])  # the collection's own band means
    assert np.array_equal(adapted.prep_.band_std, model.prep_.band_std)  # the spreads are the training corpus's
    # the model given is untouched, and the adapted copy's latents are cached under a key of their own
    assert np.array_equal(model.prep_.band_mean, levels) and model.fingerprint() == fingerprint
    assert adapted.fingerprint() != fingerprint


def test_models_that_read_no_audio_clips_are_returned_as_they_are():
    inputs = mel_inputs(12)
    for model in (small("pca", inputs="mel").fit(inputs), small("conv", modality="lyrics").fit(inputs)):
        assert with_collection_levels(model, inputs) is model


def test_encode_with_the_collections_levels_on_the_command_line(tmp_path, capsys):
    demo = tiny_demo(tmp_path / "demo", n_tracks=12, seconds=4.0)
    out = tmp_path / "z.csv"
    args = ["encode", "checkpoints/real.pt", f"demo:{demo}", "--out", str(out)]
    assert main(args) == 0
    trained = pd.read_csv(out)
    assert main([*args, "--levels", "collection"]) == 0
    assert "with the collection's band levels" in capsys.readouterr().out
    own = pd.read_csv(out)
    assert list(own["track_id"]) == list(trained["track_id"]) and own.shape == trained.shape
    # the synthetic demo sits far from the real recordings' levels: every track moves
    assert (np.abs(own.iloc[:, 3:].to_numpy() - trained.iloc[:, 3:].to_numpy()).max(axis=1) > 1e-3).all()
    # on a cluster the collection's levels are refused before anything is loaded, and the file is kept
    assert main([*args, "--levels", "collection", "--cluster", "local:1"]) == 2
    err = capsys.readouterr().err
    assert "--levels" in err and "without --cluster" in err and "Traceback" not in err
    assert pd.read_csv(out).equals(own)

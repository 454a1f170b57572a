"""The spectrogram VAE's percussive shares: a head of the static latents predicts how much of each band group's power
lies in broadband, short structures rather than held, narrowband ones, so that how percussive a crop is pays its way
into the latents that are clustered."""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import uniform_filter

from core import checkpoint
from core.models import create
from core.models.conv import ConvVAEModule, PercussiveView
from core.models.losses import gaussian_nll
from tests.helpers import reload_as_written_before
from tests.test_models import mel_inputs, small

LEVELS = (np.linspace(-30.0, -60.0, 32).astype(np.float32), np.full(32, 10.0, np.float32))


def _standardised(db: np.ndarray) -> torch.Tensor:
    mean, std = LEVELS
    return torch.from_numpy((db - mean[:, None]) / std[:, None])


def _net(**extra) -> ConvVAEModule:
    torch.manual_seed(0)
    return ConvVAEModule(n_mels=32, crop_frames=16, width=8, latent_dim=3, crop_latent_dim=1, lyrics_dim=0,
                         lyrics_latent_dim=0, modality="audio", crop_sigma=True, band_levels=LEVELS, **extra)


def test_clicks_are_percussive_and_a_held_tone_is_harmonic_in_its_own_band_group():
    view = PercussiveView(*LEVELS, groups=4)
    view.kernel = 5
    db = np.full((2, 32, 40), -90.0, np.float32)
    db[0, :, ::8] = -10.0           # a click every 8 frames, in every band
    db[1, 20, :] = -10.0            # one band held for the whole crop: group 2 of 4 (bands 16..23)
    shares = view.shares(_standardised(db)).numpy()
    assert shares[0].min() > 0.95
    assert shares[1, 2] < 0.05
    # the box filters are running means with the edges repeated, along time per band and along the bands per frame
    x = np.random.default_rng(0).normal(size=(2, 32, 40)).astype(np.float32)
    np.testing.assert_allclose(view._smooth(torch.from_numpy(x), 2).numpy(),
                               uniform_filter(x, size=(1, 1, 5), mode="nearest"), atol=1e-5)
    np.testing.assert_allclose(view._smooth(torch.from_numpy(x), 1).numpy(),
                               uniform_filter(x, size=(1, 5, 1), mode="nearest"), atol=1e-5)


def test_the_shares_do_not_depend_on_the_level_of_the_whole_crop():
    view = PercussiveView(*LEVELS, groups=4)
    db = np.random.default_rng(1).normal(-40.0, 12.0, size=(3, 32, 40)).astype(np.float32)
    torch.testing.assert_close(view.shares(_standardised(db)), view.shares(_standardised(db - 25.0)), atol=1e-5, rtol=0)


def test_the_head_is_scored_beside_the_bands_in_training_and_left_out_of_the_refinement():
    net = _net(percussive_also=4, temporal_dim=2, temporal_hop=2).train()
    batch = {"x": torch.randn(4, 32, 16), "group": 2}
    net.training_stage("main")
    out = net(batch)
    assert int(net.percussive.seen) == 1 and out["percussive_hat"].shape == (4, 4)
    log_sigma = net.mel_scale.log_sigma[:, None] + out["x_log_sigma"][:, :, None]
    mel = gaussian_nll(batch["x"], out["x_hat"], log_sigma)
    shares = gaussian_nll(net.percussive(batch["x"]), out["percussive_hat"], net.percussive_scale.log_sigma)
    torch.testing.assert_close(net.reconstruction_error(out, batch), mel + 16.0 * shares)  # weight: the crop's frames
    # its gradient reaches the encoder: the latents are what it is there to shape
    net.reconstruction_error(out, batch).sum().backward()
    assert net.percussive_head.weight.grad.abs().sum() > 0
    assert net.audio_encoder.head.weight.grad.abs().sum() > 0
    net.training_stage("refine")
    seen = int(net.percussive.seen)
    out = net(batch)
    assert "percussive_target" not in out and int(net.percussive.seen) == seen
    assert not net.percussive_head.weight.requires_grad
    log_sigma = net.mel_scale.log_sigma[:, None] + out["x_log_sigma"][:, :, None]
    torch.testing.assert_close(net.reconstruction_error(out, batch), gaussian_nll(batch["x"], out["x_hat"], log_sigma))


def test_it_is_the_default_of_the_spectrogram_vaes_and_not_of_the_autoencoder():
    assert create("conv").config.percussive_also == 8 and create("beta").config.percussive_also == 8
    assert create("ae", inputs="mel").config.percussive_also == 0


def test_without_the_setting_or_the_band_levels_there_is_no_head():
    assert not hasattr(_net(), "percussive")
    torch.manual_seed(0)
    net = ConvVAEModule(n_mels=32, crop_frames=16, width=8, latent_dim=3, lyrics_dim=0, lyrics_latent_dim=0,
                        modality="audio", percussive_also=4)
    assert net.n_percussive == 0 and not hasattr(net, "percussive_head")


def test_the_statistics_travel_with_the_checkpoint(tmp_path):
    inputs = mel_inputs(lyrics=False)
    model = small("conv", modality="audio", percussive_also=4).fit(inputs)
    view = model.module_.percussive
    assert int(view.seen) > 1
    torch.testing.assert_close(view.band_mean, torch.as_tensor(model.prep_.band_mean, dtype=torch.float32))
    loaded = checkpoint.load(checkpoint.save(model, tmp_path / "perc.pt"))
    for name in ("mean", "var", "seen", "band_mean", "band_std"):
        torch.testing.assert_close(getattr(loaded.module_.percussive, name), getattr(view, name))
    np.testing.assert_allclose(loaded.encode(inputs), model.encode(inputs), rtol=1e-5, atol=1e-6)


def test_a_checkpoint_written_before_the_setting_loads_without_the_head(tmp_path):
    inputs = mel_inputs(lyrics=False)
    model = small("conv", modality="audio", percussive_also=0).fit(inputs)
    loaded = reload_as_written_before(model, tmp_path / "before.pt", "percussive_also")
    assert loaded.config.percussive_also == 0 and not hasattr(loaded.module_, "percussive")
    np.testing.assert_allclose(loaded.encode(inputs), model.encode(inputs), rtol=1e-5, atol=1e-6)

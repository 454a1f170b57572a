"""The spectrogram VAE's σ per crop: the decoder gives each crop its own log σ per mel band, so that how much a
band moves within a crop (a track's texture) is the latents' to carry, not only its average spectrum."""

from __future__ import annotations

import numpy as np
import torch

from core.inputs import ModelInputs
from core.metrics import neighbour_agreement
from core.models import create
from core.models.conv import ConvVAEModule
from core.models.losses import gaussian_nll
from tests.helpers import reload_as_written_before
from tests.test_models import clip_store, mel_inputs, small


def test_the_likelihood_adds_the_crops_own_log_sigma_to_the_bands():
    torch.manual_seed(0)
    net = ConvVAEModule(n_mels=16, crop_frames=16, width=8, latent_dim=3, crop_latent_dim=1, lyrics_dim=0,
                        lyrics_latent_dim=0, modality="audio", crop_sigma=True).eval()
    with torch.no_grad():
        net.mel_scale.log_sigma.copy_(torch.linspace(-1.0, 1.0, 16))
        net.audio_decoder.sigma.weight.mul_(50.0)  # far beyond the bound, to see it hold
    batch = {"x": torch.randn(6, 16, 16), "group": 2}
    out = net(batch)
    own = out["x_log_sigma"]
    assert own.shape == (6, 16) and own.abs().max() <= 3.0 and own.abs().max() > 2.0
    expected = gaussian_nll(batch["x"], out["x_hat"], net.mel_scale.log_sigma[:, None] + own[:, :, None])
    torch.testing.assert_close(net.reconstruction_error(out, batch), expected)
    # without it, one σ per band for every crop, and no head
    plain = ConvVAEModule(n_mels=16, crop_frames=16, width=8, latent_dim=3, crop_latent_dim=1, lyrics_dim=0,
                          lyrics_latent_dim=0, modality="audio").eval()
    assert "x_log_sigma" not in plain(batch) and not hasattr(plain.audio_decoder, "sigma")


def test_it_is_the_default_of_the_spectrogram_vaes_and_not_of_the_autoencoder():
    assert create("conv").config.crop_sigma == 1 and create("beta").config.crop_sigma == 1
    assert create("ae", inputs="mel").config.crop_sigma == 0


def test_a_checkpoint_written_before_the_setting_loads_with_one_sigma_per_band(tmp_path):
    inputs = mel_inputs()
    model = small("conv", crop_sigma=0).fit(inputs)
    loaded = reload_as_written_before(model, tmp_path / "before.pt", "crop_sigma")
    assert loaded.config.crop_sigma == 0 and not hasattr(loaded.module_.audio_decoder, "sigma")
    np.testing.assert_allclose(loaded.encode(inputs), model.encode(inputs), rtol=1e-5, atol=1e-6)


def _textures(n: int = 24, F: int = 16, seed: int = 0) -> tuple[ModelInputs, np.ndarray]:
    """Clips (dB) whose average spectra are drawn alike for every track, half of which are steady (1 dB of
    frame-to-frame noise) and half of which move (12 dB): a difference of texture, not of average spectrum."""
    rng = np.random.default_rng(seed)
    moving = np.arange(n) % 2
    clips = []
    for m in moving:
        length = int(rng.integers(60, 90))
        C = -60.0 + rng.normal(0.0, 8.0, (F, 1)) + rng.normal(0.0, 12.0 if m else 1.0, (F, length))
        clips.append(C.astype(np.float32))
    return ModelInputs([f"t{i}" for i in range(n)], clips=clip_store(clips, f"texture-{n}-{F}-{seed}")), moving


def _texture_agreement(inputs: ModelInputs, moving: np.ndarray, crop_sigma: int) -> float:
    # the mel bands scored alone (no cepstral score, no percussive shares), so that σ per crop is the only difference
    model = create("conv", modality="audio", width=16, latent_dim=4, crop_latent_dim=2, crops_per_track=2,
                   crop_frames=32, temporal_dim=0, epochs=6, steps_per_epoch=80, batch_size=16, warmup_steps=20,
                   lr_warmup_steps=10, random_state=0, crop_sigma=crop_sigma, cepstral_also=0,
                   percussive_also=0).fit(inputs)
    return neighbour_agreement(model.encode(inputs), moving, k=5).value


def test_the_track_latent_tells_a_moving_texture_from_a_steady_one_only_with_a_sigma_per_crop():
    inputs, moving = _textures()
    without = _texture_agreement(inputs, moving, crop_sigma=0)
    with_it = _texture_agreement(inputs, moving, crop_sigma=1)
    assert with_it > 0.8 and with_it > without + 0.2, (without, with_it)

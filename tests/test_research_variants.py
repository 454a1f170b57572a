"""Two research settings on top of σ per crop, kept at this commit only (RESULTS.md, "σ per crop")."""

from __future__ import annotations

import torch

from core.models.conv import ConvVAEModule
from core.models.losses import gaussian_nll
from tests.test_models import mel_inputs, small


def _net(**extra) -> ConvVAEModule:
    torch.manual_seed(0)
    return ConvVAEModule(n_mels=32, crop_frames=16, width=8, latent_dim=3, crop_latent_dim=1, lyrics_dim=0,
                         lyrics_latent_dim=0, modality="audio", crop_sigma=True, **extra).eval()


def test_the_frame_to_frame_change_is_scored_with_its_own_sigma_per_crop_and_band():
    net = _net(delta_sigma=True)
    batch = {"x": torch.randn(4, 32, 16), "group": 2}
    out = net(batch)
    mel = gaussian_nll(batch["x"], out["x_hat"], net.mel_scale.log_sigma[:, None] + out["x_log_sigma"][:, :, None])
    change = gaussian_nll(batch["x"].diff(dim=-1), out["x_hat"].diff(dim=-1),
                          net.delta_scale.log_sigma[:, None] + out["dx_log_sigma"][:, :, None])
    torch.testing.assert_close(net.reconstruction_error(out, batch), mel + change)


def test_the_cepstral_score_is_added_to_the_mel_likelihood_of_the_same_reconstruction():
    net = _net(cepstral_also=8)
    batch = {"x": torch.randn(4, 32, 16), "group": 2}
    net.cep_also(batch["x"], update=True)
    out = net(batch)
    mel = gaussian_nll(batch["x"], out["x_hat"], net.mel_scale.log_sigma[:, None] + out["x_log_sigma"][:, :, None])
    cep = gaussian_nll(net.cep_also(batch["x"]), net.cep_also(out["x_hat"]), net.cep_also_scale.log_sigma[:, None])
    torch.testing.assert_close(net.reconstruction_error(out, batch), mel + 4.0 * cep)   # F / N = 32 / 8


def test_each_research_setting_trains_and_encodes():
    inputs = mel_inputs(12, lyrics=False)
    for extra in ({"delta_sigma": 1}, {"cepstral_also": 8}):
        Z = small("conv", modality="audio", **extra).fit(inputs).encode(inputs)
        assert Z.shape[0] == 12 and torch.isfinite(torch.from_numpy(Z)).all()

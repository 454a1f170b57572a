"""A research setting on top of the cepstral score, kept at this commit only (RESULTS.md, "The cepstral score")."""

from __future__ import annotations

import torch

from core.models.conv import ConvVAEModule
from core.models.losses import gaussian_nll
from tests.test_models import mel_inputs, small


def test_the_cepstral_score_gets_the_crops_own_sigma_per_coefficient():
    torch.manual_seed(0)
    net = ConvVAEModule(n_mels=32, crop_frames=16, width=8, latent_dim=3, crop_latent_dim=1, lyrics_dim=0,
                        lyrics_latent_dim=0, modality="audio", crop_sigma=True, cepstral_also=8, cepstral_sigma=True)
    batch = {"x": torch.randn(4, 32, 16), "group": 2}
    out = net.train()(batch)
    mel = gaussian_nll(batch["x"], out["x_hat"], net.mel_scale.log_sigma[:, None] + out["x_log_sigma"][:, :, None])
    cep = gaussian_nll(net.cepstral(batch["x"]), net.cepstral(out["x_hat"]),
                       net.cepstral_scale.log_sigma[:, None] + out["c_log_sigma"][:, :, None])
    assert out["c_log_sigma"].shape == (4, 8)
    torch.testing.assert_close(net.reconstruction_error(out, batch), mel + 4.0 * cep)


def test_it_trains_and_encodes():
    inputs = mel_inputs(12, lyrics=False)
    Z = small("conv", modality="audio", cepstral_also=8, cepstral_sigma=1).fit(inputs).encode(inputs)
    assert Z.shape[0] == 12 and torch.isfinite(torch.from_numpy(Z)).all()

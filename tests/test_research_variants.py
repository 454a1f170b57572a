"""Six research settings of the spectrogram VAE, kept at this commit only (RESULTS.md, "Neighbours, continued")."""

from __future__ import annotations

import numpy as np
import torch
from scipy.fft import dct

from core.models.conv import CepstralInput, augment_level_tilt, crop_infonce
from tests.test_models import mel_inputs, small


def test_cepstral_input_is_the_orthonormal_dct_and_its_inverse_keeps_a_smooth_spectrum():
    cep = CepstralInput(32, 8)
    x = torch.randn(3, 32, 10)
    c = torch.einsum("nf,bft->bnt", cep.basis, x)
    np.testing.assert_allclose(c.numpy(), dct(x.numpy(), type=2, axis=1, norm="ortho")[:, :8], atol=1e-5)
    z = cep(x, update=True)                       # the first batch sets the statistics
    np.testing.assert_allclose(z.mean((0, 2)).numpy(), 0.0, atol=1e-5)
    smooth = torch.einsum("nf,bnt->bft", cep.basis, torch.randn(3, 8, 10))   # a spectrum of 8 coefficients
    np.testing.assert_allclose(cep.to_mel(cep(smooth)).numpy(), smooth.numpy(), atol=1e-4)


def test_smoothed_bands_are_a_projection_that_keeps_a_smooth_spectrum():
    from core.models.conv import ConvVAEModule
    net = ConvVAEModule(n_mels=32, crop_frames=16, width=8, latent_dim=3, crop_latent_dim=1, lyrics_dim=0,
                        lyrics_latent_dim=0, modality="audio", smooth_bands=8)
    x = torch.randn(2, 32, 16)
    once = net.smoothed(x)
    torch.testing.assert_close(net.smoothed(once), once, atol=1e-5, rtol=0)   # projecting twice changes nothing
    smooth = torch.einsum("nf,bnt->bft", net.smooth.basis, torch.randn(2, 8, 16))
    torch.testing.assert_close(net.smoothed(smooth), smooth, atol=1e-5, rtol=0)
    assert once.norm() < x.norm()


def test_the_level_weight_scales_coefficient_zero_of_the_cepstral_likelihood_only():
    from core.models.conv import ConvVAEModule
    from core.models.losses import gaussian_nll
    batch = {"x": torch.randn(4, 32, 16), "group": 2}
    errors = []
    for weight in (1.0, 3.0):
        net = ConvVAEModule(n_mels=32, crop_frames=16, width=8, latent_dim=3, crop_latent_dim=1, lyrics_dim=0,
                            lyrics_latent_dim=0, modality="audio", cepstral_input=8, cepstral_level_weight=weight)
        torch.manual_seed(0)
        for p in net.parameters():
            torch.nn.init.normal_(p, std=0.1)
        net.eval()
        net.cepstra(batch["x"], update=True)
        out = net(batch)
        target, sigma = net.cepstra(batch["x"]), net.mel_scale.log_sigma[:, None]
        level = net.cep_weight * gaussian_nll(target[:, :1], out["x_hat"][:, :1], sigma[:1])
        errors.append((net.reconstruction_error(out, batch).detach(), level.detach()))
    (one, level), (three, _) = errors
    torch.testing.assert_close(three - one, 2 * level, rtol=1e-4, atol=1e-2)


def test_the_cepstral_score_is_added_to_the_mel_likelihood_of_the_same_reconstruction():
    from core.models.conv import ConvVAEModule
    from core.models.losses import gaussian_nll
    net = ConvVAEModule(n_mels=32, crop_frames=16, width=8, latent_dim=3, crop_latent_dim=1, lyrics_dim=0,
                        lyrics_latent_dim=0, modality="audio", cepstral_also=8)
    batch = {"x": torch.randn(4, 32, 16), "group": 2}
    net.eval()
    net.cep_also(batch["x"], update=True)
    out = net(batch)
    mel = gaussian_nll(batch["x"], out["x_hat"], net.mel_scale.log_sigma[:, None])
    cep = gaussian_nll(net.cep_also(batch["x"]), net.cep_also(out["x_hat"]), net.cep_also_scale.log_sigma[:, None])
    torch.testing.assert_close(net.reconstruction_error(out, batch), mel + 4.0 * cep)   # F / N = 32 / 8


def test_crop_infonce_is_least_when_the_crops_of_a_track_agree():
    torch.manual_seed(0)
    apart = crop_infonce(torch.randn(16, 6), 4).mean()
    together = crop_infonce(torch.randn(4, 6).repeat_interleave(4, 0) + 0.01 * torch.randn(16, 6), 4).mean()
    assert together < 1.2 < apart                  # log 3: three positives, and no negative near
    assert abs(float(together) - np.log(3)) < 0.1


def test_augmentation_adds_a_level_and_a_linear_tilt_per_crop():
    out = augment_level_tilt(torch.zeros(5, 16, 4), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out[:, :, 0], out[:, :, 3])                   # the same at every frame
    step = out[:, 1:, 0] - out[:, :-1, 0]
    assert torch.allclose(step, step[:, :1].expand_as(step), atol=1e-6)  # linear over the bands
    assert out.abs().max() <= 0.75 + 1e-6


def test_each_research_setting_trains_and_encodes():
    inputs = mel_inputs(12, lyrics=False)
    for extra in ({"cepstral_input": 8}, {"smooth_bands": 8}, {"cepstral_also": 8},
                  {"contrast_weight": 1.0, "beta": 4.0, "condition_broadband": 1}):
        model = small("conv", modality="audio", **extra).fit(inputs)
        Z = model.encode(inputs)
        assert Z.shape[0] == 12 and np.isfinite(Z).all()
        assert model.reconstruct(inputs).mel.shape[1:] == (32, 16)

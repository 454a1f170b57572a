"""The spectrogram VAE's cepstral score: the reconstruction is also scored on the first N cepstral coefficients of
each frame, so that the shape of the spectrum, which the 57 features' MFCCs describe, weighs as much as the bands."""

from __future__ import annotations

import numpy as np
import torch

from core import checkpoint
from core.models import create
from core.models.conv import CepstralView, ConvVAEModule
from core.models.losses import gaussian_nll
from tests.helpers import reload_as_written_before
from tests.test_models import mel_inputs, small


def _net(**extra) -> ConvVAEModule:
    torch.manual_seed(0)
    return ConvVAEModule(n_mels=32, crop_frames=16, width=8, latent_dim=3, crop_latent_dim=1, lyrics_dim=0,
                         lyrics_latent_dim=0, modality="audio", crop_sigma=True, **extra)


def test_the_view_is_an_orthonormal_dct_over_the_bands_standardised_by_the_first_batch():
    view = CepstralView(32, 32)
    torch.testing.assert_close(view.basis @ view.basis.T, torch.eye(32), atol=1e-5, rtol=0)
    # a flat spectrum lies on the first coefficient alone
    flat = view.basis @ torch.ones(32)
    assert flat[0] > 5.0 and flat[1:].abs().max() < 1e-4
    x = 3.0 + 2.0 * torch.randn(8, 32, 20)
    view.update(x)
    c = view(x)
    torch.testing.assert_close(c.mean((0, 2)), torch.zeros(32), atol=1e-4, rtol=0)
    torch.testing.assert_close(c.var((0, 2)), torch.ones(32), atol=1e-3, rtol=0)
    # a later batch moves the statistics by the momentum only
    mean = view.mean.clone()
    view.update(x + 10.0)
    shift = (view.basis @ torch.full((32,), 10.0)) * view.momentum
    torch.testing.assert_close(view.mean, mean + shift, atol=1e-4, rtol=0)


def test_the_cepstral_score_is_added_to_the_mel_likelihood_of_the_same_reconstruction():
    net = _net(cepstral_also=8)
    batch = {"x": torch.randn(4, 32, 16), "group": 2}
    net.train()
    out = net(batch)  # a training pass: it also sets the view's statistics from this first batch
    assert int(net.cepstral.seen) == 1
    mel = gaussian_nll(batch["x"], out["x_hat"], net.mel_scale.log_sigma[:, None] + out["x_log_sigma"][:, :, None])
    cep = gaussian_nll(net.cepstral(batch["x"]), net.cepstral(out["x_hat"]), net.cepstral_scale.log_sigma[:, None])
    torch.testing.assert_close(net.reconstruction_error(out, batch), mel + 4.0 * cep)  # weight F / N = 32 / 8
    # an evaluation pass leaves the statistics alone; without the setting there is no view and no term
    net.eval()
    net(batch)
    assert int(net.cepstral.seen) == 1
    plain = _net().eval()
    out = plain(batch)
    assert not hasattr(plain, "cepstral") and plain.n_cepstral == 0
    expected = gaussian_nll(batch["x"], out["x_hat"], plain.mel_scale.log_sigma[:, None] + out["x_log_sigma"][:, :, None])
    torch.testing.assert_close(plain.reconstruction_error(out, batch), expected)


def test_the_refinement_scores_the_bands_alone_and_leaves_the_statistics_as_the_main_stage_left_them():
    net = _net(cepstral_also=8, temporal_dim=2, temporal_hop=2).train()
    batch = {"x": torch.randn(4, 32, 16), "group": 2}
    net.training_stage("main")
    net(batch)
    net.training_stage("refine")
    statistics = net.cepstral.mean.clone(), int(net.cepstral.seen)
    out = net(batch | {"x": batch["x"] + 5.0})
    assert torch.equal(net.cepstral.mean, statistics[0]) and int(net.cepstral.seen) == statistics[1]
    log_sigma = net.mel_scale.log_sigma[:, None] + out["x_log_sigma"][:, :, None]
    torch.testing.assert_close(net.reconstruction_error(out, batch), gaussian_nll(batch["x"], out["x_hat"], log_sigma))
    net.training_stage("done")
    assert net.reconstruction_error(out, batch).mean() > gaussian_nll(batch["x"], out["x_hat"], log_sigma).mean()


def test_a_reconstruction_that_misses_the_shape_of_the_spectrum_costs_more_than_one_that_misses_noise():
    """Two reconstructions with the same error per band in size: one off by a smooth tilt over the bands, the other
    by signs that alternate from band to band. The mel likelihood alone cannot tell them apart; the cepstral score
    charges the tilt, the shape of the spectrum, more."""
    net = _net(cepstral_also=8).eval()
    x = torch.randn(16, 32, 16)
    net.cepstral.update(x)
    tilt = torch.linspace(-1.0, 1.0, 32)[None, :, None].expand_as(x)
    noise = tilt.abs() * torch.tensor([(-1.0) ** f for f in range(32)])[None, :, None]
    scale = net.mel_scale.log_sigma[:, None]
    torch.testing.assert_close(gaussian_nll(x, x + tilt, scale), gaussian_nll(x, x + noise, scale))
    cost = {name: gaussian_nll(net.cepstral(x), net.cepstral(x + off), net.cepstral_scale.log_sigma[:, None]).mean()
            for name, off in (("exact", torch.zeros_like(x)), ("tilt", tilt), ("noise", noise))}
    assert cost["tilt"] - cost["exact"] > 5 * (cost["noise"] - cost["exact"])


def test_it_is_the_default_of_the_spectrogram_vaes_and_not_of_the_autoencoder():
    assert create("conv").config.cepstral_also == 40 and create("beta").config.cepstral_also == 40
    assert create("ae", inputs="mel").config.cepstral_also == 0


def test_the_statistics_travel_with_the_checkpoint(tmp_path):
    inputs = mel_inputs(lyrics=False)
    model = small("conv", modality="audio", cepstral_also=8).fit(inputs)
    assert int(model.module_.cepstral.seen) > 1
    loaded = checkpoint.load(checkpoint.save(model, tmp_path / "cep.pt"))
    for name in ("mean", "var", "seen"):
        torch.testing.assert_close(getattr(loaded.module_.cepstral, name), getattr(model.module_.cepstral, name))
    np.testing.assert_allclose(loaded.encode(inputs), model.encode(inputs), rtol=1e-5, atol=1e-6)


def test_a_checkpoint_written_before_the_setting_loads_with_the_mel_bands_scored_alone(tmp_path):
    inputs = mel_inputs()
    model = small("conv", cepstral_also=0).fit(inputs)
    loaded = reload_as_written_before(model, tmp_path / "before.pt", "cepstral_also")
    assert loaded.config.cepstral_also == 0 and not hasattr(loaded.module_, "cepstral")
    np.testing.assert_allclose(loaded.encode(inputs), model.encode(inputs), rtol=1e-5, atol=1e-6)


def test_a_loaded_checkpoint_has_the_dct_basis_that_the_view_derives_rather_than_saves(tmp_path):
    """The basis is not in the state dict; the network is built on the meta device and loaded, so it must be filled
    from the sizes again, or a run resumed from the checkpoint would score cepstra against uninitialised memory."""
    inputs = mel_inputs(lyrics=False)
    model = small("conv", modality="audio", cepstral_also=8).fit(inputs)
    loaded = checkpoint.load(checkpoint.save(model, tmp_path / "cep.pt"))
    torch.testing.assert_close(loaded.module_.cepstral.basis, CepstralView(loaded.prep_.n_mels, 8).basis)

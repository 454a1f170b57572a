"""The spectrogram VAE's texture term: the track block also predicts each mel band's mean and std over its
track's crops, a summary of the whole track that the per-crop decoder never asks for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import checkpoint
from core.models.conv import ConvVAEModule, texture_statistics
from core.models.losses import gaussian_nll
from tests.test_models import mel_inputs, small


def _module(**kw) -> ConvVAEModule:
    settings = dict(n_mels=6, crop_frames=8, width=8, latent_dim=3, crop_latent_dim=2, lyrics_dim=0,
                    lyrics_latent_dim=0, modality="audio", texture_weight=1.0)
    return ConvVAEModule(**{**settings, **kw})


def test_the_statistics_pool_the_frames_of_every_crop_of_a_track():
    x = torch.randn(6, 4, 5)                 # 3 tracks of 2 crops, 4 bands, 5 frames
    stats = texture_statistics(x, 2)
    assert stats.shape == (3, 8)
    frames = x.numpy().reshape(3, 2, 4, 5).transpose(0, 2, 1, 3).reshape(3, 4, 10)
    np.testing.assert_allclose(stats[:, :4].numpy(), frames.mean(-1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats[:, 4:].numpy(), frames.std(-1), rtol=1e-5, atol=1e-6)
    # one crop per track: the crop's own statistics
    np.testing.assert_allclose(texture_statistics(x, 1)[:, :4].numpy(), x.numpy().mean(-1), rtol=1e-5, atol=1e-6)


def test_the_term_counts_once_per_track_and_is_shared_by_its_crops():
    module = _module().train()
    batch = {"x": torch.randn(6, 6, 8), "group": 3}
    out = module(batch, generator=torch.Generator().manual_seed(0))
    assert out["texture_hat"].shape == (2, 12)
    err = module.reconstruction_error(out, batch)
    mel = gaussian_nll(batch["x"], out["x_hat"], module.mel_scale.log_sigma[:, None])
    extra = (err - mel).detach()
    # the three crops of a track carry the same third of their track's term
    torch.testing.assert_close(extra[:3], extra[:1].expand(3))
    torch.testing.assert_close(extra[3:], extra[3:4].expand(3))
    per_track = 8 / 2 * gaussian_nll(texture_statistics(batch["x"], 3), out["texture_hat"],
                                     module.texture_scale.log_sigma)
    torch.testing.assert_close(extra.reshape(2, 3).sum(1), per_track.detach(), rtol=1e-5, atol=1e-4)
    # it trains the texture head and, through the shared draw, the encoder
    err.sum().backward()
    assert module.texture_decoder[0].weight.grad.abs().sum() > 0
    assert module.texture_scale.log_sigma.grad.abs().sum() > 0


def test_weight_zero_or_no_track_block_adds_nothing():
    plain = _module(texture_weight=0.0)
    assert not hasattr(plain, "texture_decoder")
    assert "texture_hat" not in plain.train()({"x": torch.randn(4, 6, 8), "group": 2})
    # without a track block there is no track to summarise
    assert _module(crop_latent_dim=0).texture_weight == 0.0


def test_a_model_with_the_term_trains_saves_and_loads_as_it_was(tmp_path):
    inputs = mel_inputs(16)
    model = small("conv", modality="audio", texture_weight=2.0).fit(inputs)
    assert model.get_params()["texture_weight"] == 2.0
    Z = model.encode(inputs)
    assert np.isfinite(Z).all() and Z.shape == (16, 4)
    checkpoint.save(model, tmp_path / "t.pt")
    again = checkpoint.load(tmp_path / "t.pt")
    assert again.config.texture_weight == 2.0
    np.testing.assert_allclose(again.encode(inputs), Z, rtol=1e-5, atol=1e-6)


def test_the_setting_is_checked_with_the_argument_named():
    from core.params import SPECS
    with pytest.raises(ValueError, match="texture"):
        SPECS["texture_weight"].check(-1.0)


def test_the_cepstral_noise_model_counts_a_shared_level_once():
    from core.models.conv import dct_matrix
    D = dct_matrix(6)
    torch.testing.assert_close(D @ D.T, torch.eye(6), atol=1e-6, rtol=0)
    mel, cep = _module(texture_weight=0.0), _module(texture_weight=0.0, likelihood="cepstral")
    x = torch.randn(2, 6, 8)
    # every band 1 unit too loud: six band errors for the mel model, one coefficient for the cepstral model
    out = {"x_hat": x + 1.0}
    per_band = 0.5 * 8 * 6   # 0.5 x (frames x bands) unit errors, at σ = 1
    constant = 6 * 8 * (0.5 * np.log(2 * np.pi))
    torch.testing.assert_close(mel.reconstruction_error(out, {"x": x}), torch.full((2,), per_band + constant))
    torch.testing.assert_close(cep.reconstruction_error(out, {"x": x}), torch.full((2,), per_band + constant),
                               rtol=1e-4, atol=1e-3)  # the same total (orthonormal): all of it in coefficient 0
    shared = (dct_matrix(6) @ torch.ones(6, 1)).squeeze()
    assert shared[0].item() == pytest.approx(6 ** 0.5) and shared[1:].abs().max() < 1e-5
    with pytest.raises(ValueError, match="likelihood"):
        _module(likelihood="linear")

"""Behaviour of the research model: python -m pytest -q exp/test_model.py (small tensors, CPU)."""

import math

import numpy as np
import torch

from exp.model import CropVAE, kl_per_dim, product_of_experts, vae_loss
from exp.train import Recipe, crop_starts, embed, recon_measures, train


def test_a_track_without_lyrics_is_encoded_from_audio_alone_whatever_its_lyrics_row():
    mu_a, lv_a = torch.randn(2, 4), torch.randn(2, 4)
    mask = torch.tensor([False, False])
    a = product_of_experts(mu_a, lv_a, torch.randn(2, 4), torch.randn(2, 4), mask)
    b = product_of_experts(mu_a, lv_a, torch.full((2, 4), 1e6), torch.zeros(2, 4), mask)
    assert torch.allclose(a[0], b[0]) and torch.allclose(a[1], b[1])
    with_lyrics = product_of_experts(mu_a, lv_a, torch.ones(2, 4) * 5, torch.zeros(2, 4), ~mask)
    assert not torch.allclose(with_lyrics[0], a[0])


def test_free_bits_give_no_gradient_to_dimensions_under_the_floor():
    torch.manual_seed(0)
    model = CropVAE(n_mels=16, n_frames=16, width=16, latent_dim=4)
    x = torch.randn(8, 16, 16)
    loss, parts = vae_loss(model, {"x": x}, beta=1.0, free_bits=1e6)
    loss.backward()
    assert parts["kl_dims"].shape == (4,)
    assert float(model.enc.head.weight.grad.abs().sum()) > 0  # the likelihood still trains the encoder
    assert torch.isfinite(loss)


def test_kl_per_dim_is_zero_at_the_prior():
    assert torch.allclose(kl_per_dim(torch.zeros(5, 3), torch.zeros(5, 3)), torch.zeros(3))


def test_self_retrieval_is_perfect_for_a_copy_and_at_chance_for_the_mean():
    rng = np.random.default_rng(0)
    orig = rng.normal(size=(6, 4, 8))
    assert recon_measures(orig, orig)["self_retrieval"] == 1.0
    m = recon_measures(orig, np.broadcast_to(orig.mean(0), orig.shape))
    assert abs(m["dist_recon_db"] - m["dist_corpus_mean_db"]) < 1e-6


def test_crop_starts_cover_the_whole_clip():
    s = crop_starts(646, 128, 32)
    assert s[0] == 0 and s[-1] == 646 - 128 and np.all(np.diff(s) <= 32)
    assert list(crop_starts(100, 128, 32)) == [0]


def test_a_short_training_run_is_finite_and_gives_one_embedding_per_track():
    rng = np.random.default_rng(0)
    n, T = 6, 160
    mel = (rng.normal(size=(n, 128, T)) * 10 - 40).astype(np.float16)
    data = {"mel": mel, "lengths": np.full(n, T), "lyr": np.zeros((n, 0), np.float16),
            "lmask": np.zeros(n, bool)}
    r = Recipe(width=16, latent_dim=4, steps=3, warmup_steps=2, batch_size=4, eval_hop=64)
    model, stats, hist = train(data, r, seed=0, verbose=False)
    assert hist["warnings"] == [] and np.isfinite(hist["loss"]).all()
    emb = embed(model, data, r, stats)
    assert emb["mean"].shape == (n, 4) and emb["meanstd"].shape == (n, 8)


def test_modulation_spectrum_ignores_a_circular_time_shift_and_sees_the_beat_rate():
    from exp.model import modulation_spectrum
    t = torch.arange(128, dtype=torch.float32)
    slow = torch.sin(2 * math.pi * t / 64)[None, None]    # 2 cycles per crop
    fast = torch.sin(2 * math.pi * t / 8)[None, None]     # 16 cycles per crop
    a, b = modulation_spectrum(fast), modulation_spectrum(torch.roll(fast, 5, dims=-1))
    assert torch.allclose(a, b, atol=1e-4)
    assert int(modulation_spectrum(slow).argmax()) < int(a.argmax())


def test_the_modulation_likelihood_term_trains_with_the_mod_encoder():
    torch.manual_seed(0)
    model = CropVAE(n_mels=16, n_frames=16, width=16, latent_dim=4, pool="mod", mod_weight=1.0)
    loss, parts = vae_loss(model, {"x": torch.randn(8, 16, 16)}, beta=1.0, free_bits=0.0)
    loss.backward()
    assert "nll_mod" in parts and float(model.enc.mod_proj.weight.grad.abs().sum()) > 0

"""The model registry: every model fits, encodes and reconstructs; the VAE loss; the modality mask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from core.errors import BadInputError
from core.inputs import ModelInputs
from core.models import MODELS, create
import tempfile
from pathlib import Path

from core.features.melstore import MelClips
from core.models.conv import ConvVAEModule, product_of_posteriors
from core.models.losses import LOG_2PI, VAELoss, kl_per_dim
from core.training import init_parameters


def blobs(n: int = 120, f: int = 57, *, seed: int = 0, centers: int = 3) -> np.ndarray:
    """(n, f) raw-scale features in ``centers`` well separated groups, columns of very different scales."""
    rng = np.random.default_rng(seed)
    c = rng.normal(0, 4, (centers, f))
    X = c[rng.integers(0, centers, n)] + rng.normal(0, 1, (n, f)) + 20.0
    return (X * np.logspace(-2, 4, f)).astype(np.float32)


def feature_inputs(n: int = 120, f: int = 57, seed: int = 0) -> ModelInputs:
    return ModelInputs([f"t{i}" for i in range(n)], features=blobs(n, f, seed=seed))


_STORES = Path(tempfile.mkdtemp(prefix="songscape-test-clips-"))


def clip_store(clips: list[np.ndarray], name: str) -> MelClips:
    """A memory-mapped whole-clip store of ``clips`` (each (F, length) dB), written under a temporary folder."""
    return MelClips.write(_STORES / f"{name}.npy", clips, params={"n_mels": int(clips[0].shape[0])}, key=name)


def mel_inputs(n: int = 24, *, size: int = 32, seed: int = 0, lyrics: bool = True) -> ModelInputs:
    """Tiny log-mels in dB (two kinds: low or high bands loud) and lyrics for three tracks in four.

    ``mel``: (n, size, size) centre windows re. peak (pca / raw); ``clips``: whole clips of 20 to 60
    frames in dB re. full scale (conv / beta / ae on mel), with the same two kinds.
    """
    rng = np.random.default_rng(seed)
    M = rng.uniform(-80, -60, (n, size, size)).astype(np.float32)
    kind = np.arange(n) % 2
    M[kind == 0, : size // 2] += 50
    M[kind == 1, size // 2:] += 50
    clips = []
    for k in kind:
        C = rng.normal(-70, 3, (size, int(rng.integers(20, 60)))).astype(np.float32)
        C[: size // 2] += 40 if k == 0 else 0
        C[size // 2:] += 40 if k == 1 else 0
        clips.append(C)
    texts = None
    if lyrics:
        words = [["love", "night", "dance", "baby"], ["ভালোবাসা", "নদী", "গান", "মাটি"]]
        texts = [" ".join(rng.choice(words[k], 6)) if i % 4 != 3 else "" for i, k in enumerate(kind)]
    return ModelInputs([f"m{i}" for i in range(n)], mel=M, lyrics=texts,
                       clips=clip_store(clips, f"mel-{n}-{size}-{seed}"))


def small(name: str, **extra):
    """A model with tiny, fast settings."""
    if name in ("conv", "beta"):
        # the design without a temporal latent unless asked (tests/test_temporal_latent.py has its own)
        extra = {"temporal_dim": 0, **extra}
        return create(name, width=8, latent_dim=3, crop_latent_dim=1, crops_per_track=2, lyrics_latent_dim=2,
                      crop_frames=16, epochs=3, steps_per_epoch=4, batch_size=8, lyrics_hidden=8, warmup_steps=4,
                      lr_warmup_steps=2, patience=None, **extra)
    if name == "ae" and extra.get("inputs") == "mel":
        return create(name, width=8, latent_dim=3, crop_frames=16, epochs=3, batch_size=8, **extra)
    if name in ("basic", "ae"):
        return create(name, epochs=4, **extra)
    return create(name, **extra)


def test_registry_has_every_model_and_rejects_unknown():
    assert set(MODELS) == {"basic", "conv", "beta", "ae", "pca", "raw", "tfidf", "pca_balanced"}
    with pytest.raises(ValueError, match="unknown model 'vae'"):
        create("vae")


def test_needs_follow_the_config():
    assert create("basic").needs == {"features"}
    assert create("conv").needs == {"clips", "lyrics"}
    assert create("conv", modality="audio").needs == {"clips"}
    assert create("beta", modality="lyrics").needs == {"lyrics"}
    assert create("pca", inputs="mel").needs == {"mel"}
    assert create("pca", inputs="mel", modality="both").needs == {"mel", "lyrics"}
    assert create("raw", inputs="mel").needs == {"mel"}
    assert create("ae", inputs="mel").needs == {"clips"}
    assert create("ae").needs == {"features"}


def test_basic_defaults_are_the_study_configuration():
    m = create("basic")
    c, t = m.config, m.training
    assert (c.latent_dim, tuple(c.hidden), t.epochs, t.batch_size, t.beta) == (2, (32, 16), 120, 32, 1.0)
    assert create("beta").training.beta == 4.0 and create("conv").training.beta == 1.0
    assert create("conv").config == create("beta").config  # β-VAE is a loss setting of the same network


def test_create_routes_parameters_and_names_unknown_ones():
    m = create("conv", latent_dim=4, beta=2.0, epochs=7, random_state=5, device="cpu")
    assert (m.config.latent_dim, m.training.beta, m.training.epochs, m.random_state, m.device) == (4, 2.0, 7, 5, "cpu")
    with pytest.raises(ValueError, match=r"model 'basic' has no parameter\(s\) \['seed'\]"):
        create("basic", seed=3)
    with pytest.raises(ValueError, match="'pca' has no parameter.*'epochs'"):
        create("pca", epochs=3)
    assert create("pca").training is None


@pytest.mark.parametrize("name,extra", [("basic", {}), ("ae", {}), ("pca", {}), ("raw", {}),
                                        ("conv", {"modality": "audio"}), ("ae", {"inputs": "mel"})])
def test_estimator_conventions(name, extra):
    """__init__ stores parameters only; fit validates, learns state ending in _, returns self, keeps params."""
    model = small(name, **extra)
    assert not [k for k in vars(model) if k.endswith("_")]  # nothing learned before fit
    params = repr(model.get_params())
    inputs = mel_inputs(lyrics=False) if model.needs & {"mel", "clips"} else feature_inputs()
    assert model.fit(inputs) is model
    assert repr(model.get_params()) == params  # fit changed no parameter (ae's epochs=None stays None)
    assert model.is_fitted() and [k for k in vars(model) if k.endswith("_")]


def test_bad_parameter_values_are_refused_by_fit_not_by_the_constructor():
    model = create("conv", modality="video")  # stored as given
    with pytest.raises(ValueError, match="modality must be one of"):
        model.fit(mel_inputs())
    with pytest.raises(ValueError, match="inputs must be one of"):
        create("pca", inputs="audio").fit(feature_inputs())


def test_autoencoder_is_one_class_whatever_its_inputs():
    assert type(create("ae")) is type(create("ae", inputs="mel")) is MODELS["ae"]
    assert create("ae").epochs == 120 and create("ae", inputs="mel").epochs == 30
    assert create("ae", inputs="mel").training.epochs is None


def test_fit_leaves_global_torch_state_and_the_model_on_the_cpu():
    torch.manual_seed(7)
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    model = small("basic", device="auto").fit(feature_inputs())
    assert torch.equal(torch.get_rng_state(), state) and torch.get_num_threads() == threads
    assert {p.device.type for p in model.module_.parameters()} == {"cpu"}


@pytest.mark.parametrize("name", ["basic", "conv"])
def test_inference_runs_on_the_threads_training_would_use_and_restores_them(name, monkeypatch):
    """Encoding, decoding and reconstructing follow core.training.default_threads (one thread for a small
    network, else one per physical core): two threads on a core another process keeps busy made encoding the
    demo corpus 5-20x slower. The process's own thread count is put back after."""
    import core.models.base as base

    inputs = mel_inputs() if name == "conv" else feature_inputs()
    model = small(name).fit(inputs)
    seen = []
    model.module_.register_forward_pre_hook(lambda *_: seen.append(None))
    for sub in model.module_.modules():
        sub.register_forward_pre_hook(lambda *_: seen.append(torch.get_num_threads()))
    monkeypatch.setattr(base, "default_threads", lambda module: 1)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model.encode(inputs)
        model.reconstruct(inputs)
        assert {n for n in seen if n is not None} == {1}, seen[:10]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_device_choice_is_per_model():
    """CUDA only where it was measured to be faster (core.training.device)."""
    assert not MODELS["basic"].cuda_pays_off and MODELS["conv"].cuda_pays_off and MODELS["beta"].cuda_pays_off
    assert not create("ae").cuda_pays_off and create("ae", inputs="mel").cuda_pays_off


def test_fingerprint_covers_the_model_not_how_it_was_trained():
    inputs = feature_inputs()
    a = small("basic").fit(inputs)
    state = a.get_state()
    b = create("basic", epochs=99, lr=0.5, random_state=8)  # other training settings, same weights
    b.set_state(state["weights"], state["feature_params"])
    assert b.fingerprint() == a.fingerprint()
    c = create("basic", hidden=(32, 16))
    c.set_state({k: v + 1e-3 for k, v in state["weights"].items()}, state["feature_params"])
    assert c.fingerprint() != a.fingerprint()  # other weights


@pytest.mark.parametrize("name", ["basic", "ae", "pca", "raw"])
def test_feature_models_fit_encode_reconstruct(name):
    inputs = feature_inputs()
    model = small(name).fit(inputs)
    Z = model.encode(inputs)
    d = 57 if name == "raw" else 2
    assert Z.shape == (120, d) and Z.dtype == np.float32 and np.isfinite(Z).all()
    rec = model.reconstruct(inputs)
    assert rec.features.shape == inputs.features.shape and rec.track_ids == inputs.track_ids
    # reconstructions come back in raw units (columns from 1e-2 to 1e4, far from 0): not standardised
    X = inputs.features
    assert np.all(np.abs(rec.features.mean(0) - X.mean(0)) < 0.5 * X.std(0))
    if name in ("basic", "ae"):
        assert model.decode(Z[:5]).features.shape == (5, 57)


def test_raw_is_the_standardised_features():
    inputs = feature_inputs()
    Z = create("raw").fit(inputs).encode(inputs)
    X = inputs.features.astype(np.float64)
    np.testing.assert_allclose(Z, (X - X.mean(0)) / X.std(0), rtol=1e-4, atol=1e-4)


def test_vae_samples_from_the_prior_and_keeps_kl_per_dim():
    inputs = feature_inputs()
    model = small("basic", latent_dim=3).fit(inputs)
    assert model.kl_per_dim_.shape == (3,) and np.all(model.kl_per_dim_ >= 0)
    s1 = model.sample(7, random_state=1).features
    assert s1.shape == (7, 57)
    np.testing.assert_array_equal(s1, model.sample(7, random_state=1).features)
    assert all(len(h["kl_per_dim"]) == 3 and len(h["val_kl_per_dim"]) == 3 for h in model.history_)


def test_wrong_feature_count_is_refused_with_the_sizes():
    model = small("basic").fit(feature_inputs())
    with pytest.raises(BadInputError, match="trained on 57 features, the data has 40"):
        model.encode(feature_inputs(f=40))


def test_missing_needed_inputs_are_named():
    with pytest.raises(BadInputError, match="needs 'features'"):
        small("basic").fit(ModelInputs(["a", "b"], lyrics=["x", "y"]))


def test_same_seed_same_model_other_seed_other_model():
    inputs = feature_inputs()
    a = small("basic", random_state=3).fit(inputs)
    torch.manual_seed(123)  # the global seed plays no part
    b = small("basic", random_state=3).fit(inputs)
    c = small("basic", random_state=4).fit(inputs)
    np.testing.assert_array_equal(a.encode(inputs), b.encode(inputs))
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    assert not np.allclose(a.encode(inputs), c.encode(inputs))


# ---------------------------------------------------------------------- the loss
def test_kl_per_dim_matches_the_closed_form():
    mu = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    logvar = torch.tensor([[0.0, np.log(2.0)], [np.log(0.5), 0.0]], dtype=torch.float32)
    expected = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)
    got = kl_per_dim(mu, logvar)
    torch.testing.assert_close(got, expected)
    assert got[0, 0] == 0  # N(0, 1) has no KL to the prior


def test_beta_vae_loss_is_recon_plus_beta_times_kl():
    g = torch.Generator().manual_seed(0)
    recon = torch.rand(16, generator=g) * 10
    mu, logvar = torch.randn(16, 5, generator=g), torch.randn(16, 5, generator=g)
    kl = (0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)).sum(1).mean()
    for beta in (0.0, 1.0, 4.0):
        out = VAELoss(beta=beta)(recon, mu, logvar)
        torch.testing.assert_close(out["loss"], recon.mean() + beta * kl)
        torch.testing.assert_close(out["kl"], kl)
        assert out["kl_per_dim"].shape == (5,)
        torch.testing.assert_close(out["kl_per_dim"].sum(), out["kl"])


def test_beta_model_trains_with_beta_times_kl():
    """The β-VAE network's objective, recomputed by hand: Gaussian NLL (σ per band) + β·Σ max(KL_j, free bits)."""
    module = ConvVAEModule(n_mels=16, crop_frames=16, width=8, latent_dim=3, lyrics_dim=0, lyrics_latent_dim=2,
                           modality="audio")
    with torch.no_grad():
        module.mel_scale.log_sigma.copy_(torch.linspace(-0.5, 0.5, 16))
    batch = {"x": torch.randn(6, 16, 16), "lyr": torch.zeros(6, 0), "lmask": torch.zeros(6, dtype=torch.bool)}
    out = module(batch, generator=torch.Generator().manual_seed(1))
    loss = create("beta").loss()
    assert (loss.beta, loss.free_bits) == (4.0, 0.25)
    terms = loss(module.reconstruction_error(out, batch), out["mu"], out["logvar"])
    ls = module.mel_scale.log_sigma[:, None]
    nll = (0.5 * ((batch["x"] - out["x_hat"]) / ls.exp()) ** 2 + ls + 0.5 * LOG_2PI).sum((1, 2)).mean()
    kl_j = (0.5 * (out["mu"] ** 2 + out["logvar"].exp() - 1 - out["logvar"])).mean(0)
    torch.testing.assert_close(terms["loss"], nll + 4.0 * kl_j.clamp(min=0.25).sum())
    torch.testing.assert_close(terms["kl"], kl_j.sum())  # the KL reported is the real one, not the floored


def test_free_bits_and_per_step_warmup():
    recon = torch.zeros(4)
    mu, logvar = torch.zeros(4, 3), torch.zeros(4, 3)          # KL 0 in every dimension
    mu[:, 0] = 2.0                                             # dimension 0: KL 2 nats
    loss = VAELoss(beta=2.0, free_bits=0.5, warmup_steps=10)
    assert [loss.beta_at(0, s) for s in (0, 5, 10, 50)] == [0.0, 1.0, 2.0, 2.0]
    assert loss.beta_at(0) == 2.0 and loss.settled_step == 10
    # dims 1 and 2 count 0.5 nats each (free bits), dim 0 its real 2 nats; at step 5 β is 1
    torch.testing.assert_close(loss(recon, mu, logvar, step=5)["loss"], torch.tensor(1.0 * (2.0 + 0.5 + 0.5)))
    torch.testing.assert_close(loss(recon, mu, logvar)["kl"], torch.tensor(2.0))


def test_warmup_and_capacity_schedules():
    warm = VAELoss(beta=4.0, warmup_epochs=4)
    assert [warm.beta_at(e) for e in range(6)] == [1.0, 2.0, 3.0, 4.0, 4.0, 4.0]
    cap = VAELoss(beta=2.0, capacity=10.0, capacity_epochs=5)
    assert [cap.capacity_at(e) for e in (0, 1, 5, 9)] == [0.0, 2.0, 10.0, 10.0]
    recon = torch.ones(4)
    mu, logvar = torch.full((4, 2), 1.0), torch.zeros(4, 2)  # KL = 0.5 per dim -> 1.0
    torch.testing.assert_close(cap(recon, mu, logvar, epoch=1)["loss"], torch.tensor(1.0 + 2.0 * abs(1.0 - 2.0)))
    assert warm.settled_epoch == 3 and cap.settled_epoch == 5 and VAELoss().settled_epoch == 0


# --------------------------------------------------------- lyrics modality mask
def _lyrics_batch(n=8, V=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.tensor([True, False] * (n // 2))
    lyr = torch.rand(n, V, generator=g)
    lyr[~mask] = 0
    return {"x": torch.randn(n, 16, 16, generator=g), "lyr": lyr, "lmask": mask}


def _both(seed=0, **kw):
    return init_parameters(ConvVAEModule(n_mels=16, crop_frames=16, width=8, latent_dim=4, lyrics_dim=20,
                                         lyrics_latent_dim=3, **kw), generator=torch.Generator().manual_seed(seed))


def test_latents_are_audio_and_lyrics_blocks_concatenated_and_missing_lyrics_are_the_prior():
    module = _both().eval()
    batch = _lyrics_batch()
    with torch.no_grad():
        mu, logvar = module.posterior(batch)
        assert mu.shape == (8, 7) and module.latent_dim == 7
        # a track without lyrics: its lyrics block IS the prior (mean 0, variance 1, no KL)
        assert torch.all(mu[~batch["lmask"], 4:] == 0) and torch.all(logvar[~batch["lmask"], 4:] == 0)
        err = module.reconstruction_error(module(batch), batch)
        for garbage in (torch.full((4, 20), 7.0), torch.randn(4, 20) * 1e3, torch.full((4, 20), float("nan"))):
            noisy = dict(batch, lyr=batch["lyr"].clone())
            noisy["lyr"][~batch["lmask"]] = garbage
            mu2, logvar2 = module.posterior(noisy)
            # whatever sits in a lyric-less row is never read: same posterior, same loss
            torch.testing.assert_close(mu2, mu)
            torch.testing.assert_close(logvar2, logvar)
            torch.testing.assert_close(module.reconstruction_error(module(noisy), noisy), err)
        # the audio block is the audio-only model's, lyrics or not
        audio_only = ConvVAEModule(n_mels=16, crop_frames=16, width=8, latent_dim=4, lyrics_dim=20,
                                   lyrics_latent_dim=3, modality="audio")
        audio_only.load_state_dict({k: v for k, v in module.state_dict().items() if "lyrics" not in k})
        torch.testing.assert_close(audio_only.eval().posterior(batch)[0], mu[:, :4])
        # while a track WITH lyrics does depend on them (the branch is really used)
        other = dict(batch, lyr=batch["lyr"].clone())
        other["lyr"][batch["lmask"]] = torch.rand(4, 20)
        assert not torch.allclose(module.posterior(other)[0][batch["lmask"], 4:], mu[batch["lmask"], 4:])


def test_zero_lyrics_vector_is_not_mistaken_for_input():
    """A masked zero row and an unmasked zero row encode differently: the mask, not the zeros, decides."""
    module = _both(seed=1).eval()
    b = {"x": torch.randn(2, 16, 16), "lyr": torch.zeros(2, 10 * 2), "lmask": torch.tensor([False, True])}
    b["x"][1] = b["x"][0]
    with torch.no_grad():
        mu, _ = module.posterior(b)
    torch.testing.assert_close(mu[0, :4], mu[1, :4])
    assert not torch.allclose(mu[0, 4:], mu[1, 4:])


# ------------------------------------------------------------ mel-based models
@pytest.mark.parametrize("name,extra", [("conv", {}), ("beta", {}), ("conv", {"modality": "audio"}),
                                        ("conv", {"modality": "lyrics"}), ("ae", {"inputs": "mel"}),
                                        ("pca", {"inputs": "mel", "modality": "both"}), ("raw", {"inputs": "mel"})])
def test_mel_models_fit_encode_reconstruct(name, extra):
    inputs = mel_inputs()
    model = small(name, **extra).fit(inputs)
    Z = model.encode(inputs)
    assert Z.shape[0] == 24 and np.isfinite(Z).all()
    if "mel" in model.needs:
        rec = model.reconstruct(inputs)
        assert rec.mel.shape == inputs.mel.shape and np.isfinite(rec.mel).all()
        # back in dB: the same range as the input, not [0, 1]
        assert rec.mel.min() < -20 and rec.mel.max() <= inputs.mel.max() + 1
    if "clips" in model.needs:
        rec, (orig, starts) = model.reconstruct(inputs), model.excerpt(inputs)
        assert rec.mel.shape == orig.shape == (24, 32, 16) and np.isfinite(rec.mel).all()
        # the centre excerpt, in dB re. full scale (the clips sit between about -75 and -25 dB)
        lengths = inputs.clips.lengths
        np.testing.assert_array_equal(starts, (lengths - 16) // 2)
        np.testing.assert_array_equal(orig[3], inputs.clips.clip(3)[:, starts[3]:starts[3] + 16])
        assert -80 < rec.mel.mean() < -20
    if name in ("conv", "beta"):
        d = {"both": 6, "audio": 4, "lyrics": 2}[extra.get("modality", "both")]   # track 3 + crop 1 + lyrics 2
        assert Z.shape == (24, d) and model.latent_dim == d and model.kl_per_dim_.shape == (d,)
        assert model.sample(2, random_state=0).track_ids == ["z0", "z1"]
        last = model.history_[-1]
        assert last["step"] == 12 and isinstance(last["warnings"], list) and 0 <= last["active_units"] <= d
        if extra.get("modality") != "lyrics":
            beta = 4.0 if name == "beta" else 1.0
            assert last["beta_normalised"] == pytest.approx(beta * 4 / (32 * 16)) == model.beta_normalised()


def test_conv_lyricless_track_encoding_ignores_its_lyrics_text():
    inputs = mel_inputs()
    model = small("conv").fit(inputs)
    no_lyrics = [i for i, t in enumerate(inputs.lyrics) if not t]
    Z = model.encode(inputs)
    assert np.all(Z[no_lyrics, 4:] == 0)  # the lyrics block of a track without lyrics is the prior mean
    # the same tracks with lyrics made of words outside the vocabulary -> still "no lyrics"
    texts = list(inputs.lyrics)
    for i in no_lyrics:
        texts[i] = "zzzz qqqq xxxx"
    Z2 = model.encode(ModelInputs(inputs.track_ids, lyrics=texts, clips=inputs.clips))
    np.testing.assert_allclose(Z2[no_lyrics], Z[no_lyrics], rtol=1e-6, atol=1e-6)
    # giving one of them real lyrics changes its encoding
    texts[no_lyrics[0]] = inputs.lyrics[0]
    Z3 = model.encode(ModelInputs(inputs.track_ids, lyrics=texts, clips=inputs.clips))
    assert not np.allclose(Z3[no_lyrics[0]], Z[no_lyrics[0]])


def test_conv_refuses_other_mel_bands():
    model = small("conv", modality="audio").fit(mel_inputs())
    with pytest.raises(BadInputError, match="trained on 32 mel bands, the data has 48"):
        model.encode(mel_inputs(size=48, lyrics=False))


def test_conv_without_usable_lyrics_says_it_is_audio_only():
    inputs = mel_inputs()
    model = small("conv").fit(ModelInputs(inputs.track_ids, lyrics=[""] * 24, clips=inputs.clips))
    assert model.config.modality == "both" and model.modality == "audio" and model.latent_dim == 4
    assert model.input_spec()["modality"] == "audio"


def test_track_embedding_is_the_product_of_the_crop_posteriors():
    """PoE with the prior: precision 1 + Σ 1/var_i, mean Σ(mu_i/var_i)/precision (per dimension)."""
    mu = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    logvar = torch.log(torch.tensor([[0.5, 1.0], [0.25, 2.0]]))
    expected = torch.tensor([(1 / 0.5 + 3 / 0.25) / (1 + 2 + 4), (-2 / 1.0 + 0.0) / (1 + 1 + 0.5)])
    torch.testing.assert_close(product_of_posteriors(mu, logvar), expected)
    # a model's embedding is exactly that product over the crops every eval_hop frames
    inputs = mel_inputs(lyrics=False)
    model = small("conv", modality="audio", eval_hop=8).fit(inputs)
    L = int(inputs.clips.lengths[5])
    starts = list(range(0, L - 16 + 1, 8)) + ([L - 16] if (L - 16) % 8 else [])
    x = torch.from_numpy(model.prep_.standardise(inputs.clips.crops([5] * len(starts), starts, 16)))
    with torch.no_grad():
        m, lv = model.module_.audio_posterior(x)
    np.testing.assert_allclose(model.encode(inputs)[5], product_of_posteriors(m, lv).numpy(), rtol=1e-5, atol=1e-6)


def test_spectrogram_training_reads_a_memory_map_lazily():
    """The whole clips stay on disk (a large corpus would not fit in memory); training and encoding read the crops they use."""
    inputs = mel_inputs()
    assert isinstance(inputs.clips.frames, np.memmap) and inputs.clips.frames.dtype == np.float16
    model = small("conv")
    model.fit(inputs)
    data = model.prep_.training_data(inputs)
    assert isinstance(data.clips.frames, np.memmap)  # the training data object holds the map, not arrays
    assert not hasattr(data, "tensors")
    b = data.batch(np.array([0, 1, 2]), rng=np.random.default_rng(0))
    assert b["x"].shape == (3, 32, 16)
    # standardised per band with the training corpus' statistics
    full = np.concatenate([inputs.clips.clip(i) for i in range(len(inputs))], 1)
    np.testing.assert_allclose(model.prep_.band_mean, full.mean(1), atol=0.05)
    np.testing.assert_allclose(model.prep_.band_std, full.std(1), rtol=0.01)


# ---------------------------------------------------------- the real study table
@pytest.fixture(scope="module")
def study(shared_data):
    df = pd.read_csv(shared_data / "features" / "gtzan_banglabeats_30s.csv")
    X = df.iloc[:, 2:59].to_numpy(np.float32)
    return df, ModelInputs(df["filename"].tolist(), features=X)


def _silhouette_k2(Z):
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    return silhouette_score(Z, KMeans(2, n_init=10, random_state=0).fit_predict(Z))


def test_pca_reproduces_the_study_pca_row(study):
    """README of the shared data: StandardScaler -> PCA(2) -> KMeans(k=2) gives silhouette 0.3666."""
    _, inputs = study
    Z = create("pca").fit(inputs).encode(inputs)
    assert Z.shape == (2617, 2)
    assert abs(_silhouette_k2(Z) - 0.3666) < 0.003


@pytest.mark.slow
@pytest.mark.parametrize("name", ["basic", "ae", "raw"])
def test_models_train_on_the_study_table(study, name):
    df, inputs = study
    model = create(name, **({"epochs": 5} if name != "raw" else {})).fit(inputs)
    Z = model.encode(inputs)
    assert len(Z) == 2617 and np.isfinite(Z).all()
    if name != "raw":
        losses = [h["val_loss"] for h in model.history_]
        assert losses[-1] < losses[0]  # it learns
        # the two languages are not mixed at random in the latent space
        lang = (df["language"] == "eng").to_numpy()
        gap = np.linalg.norm(Z[lang].mean(0) - Z[~lang].mean(0)) / Z.std(0).mean()
        assert gap > 0.3


# ------------------------------------------------------------ the track-level latent
def test_grouped_batches_hold_k_random_crops_of_each_track():
    inputs = mel_inputs()
    model = small("conv")
    model.prep_ = model._fit_preprocessing(inputs)
    data = model._training_data(inputs)
    assert data.group == 2
    batch = data.batch(np.array([5, 9, 1, 7, 3, 0, 2, 4]), rng=np.random.default_rng(0))
    assert batch["group"] == 2 and batch["x"].shape[0] == 8
    # the first B/K drawn tracks, each twice in a row, with two different crops
    np.testing.assert_array_equal(batch["lyr"].numpy(), data.lyr[[5, 5, 9, 9, 1, 1, 7, 7]].toarray())
    assert not torch.allclose(batch["x"][0], batch["x"][1])
    # evaluation batches (no rng): one centre crop per track, no group
    ev = data.batch(np.array([5, 9]), rng=None)
    assert "group" not in ev and ev["x"].shape[0] == 2


def test_track_block_is_one_draw_per_track_and_its_kl_counts_once_per_track():
    from core.models.conv import ConvVAEModule, product_of_groups
    module = ConvVAEModule(n_mels=16, crop_frames=16, width=8, latent_dim=3, crop_latent_dim=2, lyrics_dim=0,
                           lyrics_latent_dim=2, modality="audio").train()
    x = torch.randn(6, 16, 16)
    out = module({"x": x, "group": 3}, generator=torch.Generator().manual_seed(0))
    mu, lv = module.posterior({"x": x})
    mu_t, lv_t = product_of_groups(mu[:, :3], lv[:, :3], 3)
    # the track block of every crop is its track's product of posteriors (with the prior) ...
    torch.testing.assert_close(out["mu"][:3, :3], mu_t[0].expand(3, 3))
    torch.testing.assert_close(out["mu"][3:, :3], mu_t[1].expand(3, 3))
    prec = 1 + torch.exp(-lv[:3, :3]).sum(0)
    torch.testing.assert_close(mu_t[0], (mu[:3, :3] * torch.exp(-lv[:3, :3])).sum(0) / prec)
    # ... the crop block stays per crop, and the track block's KL weighs 1/K per crop
    torch.testing.assert_close(out["mu"][:, 3:], mu[:, 3:])
    torch.testing.assert_close(out["kl_weight"], torch.tensor([1 / 3] * 3 + [1.0] * 2))
    # one draw of z_track per track: the decoder sees the same track block for the K crops
    g = torch.Generator().manual_seed(1)
    eps = torch.randn(out["mu"].shape, generator=g)
    eps[:, :3] = eps[::3, :3].repeat_interleave(3, 0)
    z = out["mu"] + eps * torch.exp(0.5 * out["logvar"])
    again = module({"x": x, "group": 3}, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(again["x_hat"], module.decode(z)["x_hat"])
    with pytest.raises(ValueError, match="groups of 4"):
        module({"x": x, "group": 4}, generator=torch.Generator().manual_seed(0))


def test_weighted_kl_counts_in_the_loss_not_in_the_report():
    from core.models.losses import VAELoss
    mu, lv = torch.ones(4, 2), torch.zeros(4, 2)          # KL 0.5 nats per dimension
    plain = VAELoss()(torch.zeros(4), mu, lv)
    weighted = VAELoss()(torch.zeros(4), mu, lv, dim_weight=torch.tensor([0.25, 1.0]))
    assert plain["loss"].item() == pytest.approx(1.0) and weighted["loss"].item() == pytest.approx(0.625)
    assert weighted["kl"].item() == pytest.approx(1.0)


def test_batch_size_must_split_into_tracks():
    with pytest.raises(ValueError, match=r"batch_size \(10\) must be a multiple of crops_per_track \(4\)"):
        create("conv", batch_size=10).validate()


def test_the_beta_warm_up_ends_within_the_first_third_of_a_short_run():
    """The ConvVAE's warm-up (1,000 steps) is a third of its 3,000-step recipe; a shorter run warms up over
    its own first third, so it trains most of its steps at the β asked for."""
    from core.models.losses import WARMUP_SHARE

    recipe = create("conv", beta=1.0)
    assert recipe.loss().warmup_steps == MODELS["conv"].training_defaults["warmup_steps"] == 1000
    short = create("conv", beta=1.0, epochs=8, steps_per_epoch=30)
    loss = short.loss()
    assert loss.warmup_steps == int(8 * 30 * WARMUP_SHARE) == 80
    assert loss.beta_at(2, 3 * 30) == 1.0  # β at the end of epoch 3 is the β asked for (was 0.09)
    assert loss.beta_at(0, 40) == 0.5
    assert create("conv", epochs=1, steps_per_epoch=1).loss().warmup_steps == 1
    assert create("basic").loss().warmup_steps == 0  # a feature model has no per-step warm-up

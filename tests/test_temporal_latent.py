"""The spectrogram VAE's temporal latent: a low-rate latent sequence per crop that carries when things happen,
so that the reconstructions keep the rhythm while the track block stays what is clustered."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import blocks, checkpoint
from core.checkpoint.integrity import content_checksum
from core.inputs import ModelInputs
from core.models import create
from core.models.conv import ConvVAEModule
from core.models.losses import VAELoss
from core.reconstruction import onset_envelope_correlation
from tests.test_models import clip_store, mel_inputs, small


def _module(**kw) -> ConvVAEModule:
    settings = dict(n_mels=16, crop_frames=32, width=8, latent_dim=3, crop_latent_dim=2, temporal_dim=2,
                    temporal_hop=4, lyrics_dim=10, lyrics_latent_dim=2)
    return ConvVAEModule(**{**settings, **kw})


def test_the_posterior_holds_a_sequence_and_its_kl_is_reported_per_channel():
    module = _module().train()
    batch = {"x": torch.randn(4, 16, 32), "group": 2, "lyr": torch.rand(4, 10), "lmask": torch.ones(4, dtype=torch.bool)}
    out = module(batch, generator=torch.Generator().manual_seed(0))
    # [track 3, crop 2, temporal 2 channels x 8 steps, lyrics 2] per crop; the embedding has one value per channel
    assert out["mu"].shape == (4, 3 + 2 + 2 * 8 + 2) and module.latent_dim == 3 + 2 + 2 + 2
    assert out["x_hat"].shape == (4, 16, 32)
    groups = out["kl_groups"].tolist()
    assert groups == [0, 1, 2, 3, 4] + [5] * 8 + [6] * 8 + [7, 8]
    terms = VAELoss(free_bits=0.25)(module.reconstruction_error(out, batch), out["mu"], out["logvar"],
                                    dim_weight=out["kl_weight"], dim_groups=out["kl_groups"])
    assert terms["kl_per_dim"].shape == (module.latent_dim,)
    assert terms["kl_per_dim"].sum().item() == pytest.approx(terms["kl"].item(), rel=1e-5)
    # a point of the embedding decodes too: its temporal block is a summary, decoded as a sequence held still
    module.eval()
    with torch.no_grad():
        point = module.decode(torch.zeros(2, module.latent_dim))["x_hat"]
        held = torch.zeros(2, out["mu"].shape[1])
        held[:, 5:21] = 3.0  # a constant sequence: nothing happens in time, so it adds nothing
        torch.testing.assert_close(module.decode(held)["x_hat"], point)


@pytest.mark.parametrize("hop", [1, 2, 4, 8])
def test_every_hop_gives_a_sequence_at_its_rate(hop):
    module = _module(temporal_hop=hop, lyrics_dim=0, modality="audio").eval()
    mu, logvar = module.audio_posterior(torch.randn(3, 16, 32))
    assert mu.shape == logvar.shape == (3, 5 + 2 * 32 // hop) and module.t_steps == 32 // hop
    assert module.decode(mu)["x_hat"].shape == (3, 16, 32)


def test_the_temporal_block_is_left_out_of_every_part_but_all():
    inputs = mel_inputs()
    model = small("conv", temporal_dim=2, temporal_hop=4)
    before = model.latent_blocks()
    model.fit(inputs)
    found = model.latent_blocks()
    assert found == before
    assert [(b.name, b.start, b.stop, b.track_level) for b in found] == [
        ("audio", 0, 3, True), ("crop", 3, 4, False), ("temporal", 4, 6, False), ("lyrics", 6, 8, True)]
    Z = model.encode(inputs)
    assert Z.shape == (len(inputs), 8) and model.kl_per_dim_.shape == (8,) and np.isfinite(Z).all()
    assert blocks.column_names(found, "balanced") == ["audio_0", "audio_1", "audio_2", "lyrics_0", "lyrics_1"]
    assert blocks.column_names(found, "audio") == ["audio_0", "audio_1", "audio_2"]
    assert "temporal_0" in blocks.column_names(found, "all")
    assert model.reconstruct(inputs).mel.shape == model.excerpt(inputs)[0].shape


def test_a_checkpoint_written_before_the_setting_loads_as_it_was_whatever_the_default(tmp_path, monkeypatch):
    from core.models.configs import ConvVAEConfig
    assert create("ae", inputs="mel").config.temporal_dim == 0
    # were the temporal design the default, a file without the field would still be the design it was
    monkeypatch.setattr(ConvVAEConfig, "__init__", _with_default(ConvVAEConfig.__init__, temporal_dim=4))
    assert create("conv").config.temporal_dim == 4
    inputs = mel_inputs()
    model = small("conv", temporal_dim=0).fit(inputs)
    path = checkpoint.save(model, tmp_path / "before.pt")
    # the file as written before the setting existed: no temporal fields in its model config
    payload = torch.load(path, weights_only=True)
    for key in ("temporal_dim", "temporal_hop"):
        del payload["model_config"][key]
    payload.pop("checksum")
    payload["checksum"] = content_checksum(payload)
    torch.save(payload, path)
    loaded = checkpoint.load(path)
    assert loaded.config.temporal_dim == 0 and [b.name for b in loaded.latent_blocks()] == ["audio", "crop", "lyrics"]
    np.testing.assert_allclose(loaded.encode(inputs), model.encode(inputs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.reconstruct(inputs).mel, model.reconstruct(inputs).mel, rtol=1e-5, atol=1e-4)


def _with_default(init, **defaults):
    def wrapped(self, *args, **kw):
        init(self, *args, **{**defaults, **kw})
    return wrapped


def _rhythmic(n: int = 16, F: int = 16, seed: int = 0) -> ModelInputs:
    """Clips (dB) whose timbre is their track's and whose attacks fall every 5 to 9 frames at a random phase:
    a crop's rhythm is not a property of its track."""
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(n):
        length = int(rng.integers(80, 120))
        C = rng.normal(-70.0, 1.0, (F, length)) + rng.normal(0.0, 6.0, (F, 1))
        period, phase = int(rng.integers(5, 10)), int(rng.integers(0, 5))
        for t in range(phase, length, period):
            C[:, t] += 30.0
            C[:, t + 1:t + 3] += 12.0  # a short decay
        clips.append(C.astype(np.float32))
    return ModelInputs([f"r{i}" for i in range(n)], clips=clip_store(clips, f"rhythm-{n}-{F}-{seed}"))


def _fit_onset_r(inputs: ModelInputs, **extra) -> float:
    model = create("conv", modality="audio", width=16, latent_dim=4, crop_latent_dim=2, crops_per_track=2,
                   crop_frames=32, epochs=4, steps_per_epoch=40, batch_size=16, warmup_steps=20, lr_warmup_steps=10,
                   random_state=0, **extra).fit(inputs)
    return onset_envelope_correlation(original=model.excerpt(inputs)[0], reconstruction=model.reconstruct(inputs).mel)


def test_a_tiny_fit_follows_a_rhythm_that_the_static_design_smears():
    inputs = _rhythmic()
    static = _fit_onset_r(inputs, temporal_dim=0)
    temporal = _fit_onset_r(inputs, temporal_dim=2, temporal_hop=2)
    assert temporal > 0.5 and temporal > static + 0.3, (static, temporal)

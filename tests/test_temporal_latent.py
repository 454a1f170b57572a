"""The spectrogram VAE's temporal latent: a low-rate latent sequence per crop that carries when things happen,
so that the reconstructions keep the rhythm while the track block stays what is clustered."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from core import blocks, checkpoint
from core.errors import CheckpointError
from core.inputs import ModelInputs
from core.models import create
from core.models.conv import ConvVAEModule
from core.models.losses import VAELoss
from core.reconstruction import onset_envelope_correlation
from tests.helpers import reload_as_written_before
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
    # no temporal fields in its model config
    loaded = reload_as_written_before(model, tmp_path / "before.pt", "temporal_dim", "temporal_hop")
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
    temporal = _fit_onset_r(inputs, temporal_dim=2, temporal_hop=2, refine_epochs=0)  # trained from the first step
    assert temporal > 0.5 and temporal > static + 0.3, (static, temporal)


def _staged(**extra):
    # the mel bands scored alone: the refinement does without the cepstral score anyway
    # (tests/test_cepstral_score.py), and this tiny main stage learns its decoder faster without it
    settings = dict(modality="audio", width=16, latent_dim=4, crop_latent_dim=2, crops_per_track=2, crop_frames=32,
                    temporal_dim=2, temporal_hop=2, epochs=9, refine_epochs=3, steps_per_epoch=40, batch_size=16,
                    warmup_steps=20, lr_warmup_steps=10, random_state=0, cepstral_also=0)
    return create("conv", **{**settings, **extra})


def _onset_r(model, inputs) -> float:
    return onset_envelope_correlation(original=model.excerpt(inputs)[0], reconstruction=model.reconstruct(inputs).mel)


def test_the_refinement_puts_time_back_and_leaves_the_clustered_latents_as_the_main_stage_made_them():
    inputs = _rhythmic()
    model = _staged()
    assert (model.main_epochs, model.refine_epochs, model.epochs) == (9, 3, 12)
    saved = {}
    model.fit(inputs, save_state=lambda state: saved.update({state["epoch"]: {
        k: v.detach().clone() for k, v in state["last_weights"].items()}}))
    assert [h["epoch"] for h in model.history_] == list(range(1, 13)) and model.module_.temporal_on
    assert [h["stage"] for h in model.history_] == ["main"] * 9 + ["refine"] * 3
    main_end, final = saved[9], model.module_.state_dict()

    def changed(prefix: str, a: dict, b: dict) -> bool:
        return any(not torch.equal(a[k], b[k]) for k in a if k.startswith(prefix))

    # the main stage leaves the temporal path out: its decoder side held at zero, its encoder head untouched
    assert not main_end["audio_decoder.temporal.weight"].any() and not changed("audio_encoder.temporal.", saved[1], main_end)
    # the refinement changes only the temporal path, the decoder and the per-band sigma: the encoder that makes
    # the clustered latents is the main stage's, bit for bit
    for name in final:
        learnt = name.startswith(("audio_encoder.temporal.", "audio_decoder.", "mel_scale."))
        assert (not torch.equal(final[name], main_end[name])) == learnt or name == "audio_decoder.temporal.bias", name
    # the learning rate warms up again over the refinement, after the main stage's cosine has run out
    lr = [h["lr"] for h in model.history_]
    assert lr[8] < 0.05 * lr[0] and lr[9] > 10 * lr[8]

    refined = _onset_r(model, inputs)
    track = model.encode(inputs)[:, :4]
    model.module_.load_state_dict(main_end)
    assert _onset_r(model, inputs) + 0.3 < refined and refined > 0.5
    np.testing.assert_array_equal(model.encode(inputs)[:, :4], track)


def test_a_run_stopped_in_the_refinement_resumes_to_the_same_model(tmp_path):
    inputs = _rhythmic(n=8)
    full = _staged(epochs=3, refine_epochs=1, steps_per_epoch=6).fit(inputs)
    state = tmp_path / "state.pt"
    stop = threading.Event()

    def on_epoch(info):
        if info["epoch"] == 3:
            stop.set()
    part = checkpoint.fit(_staged(epochs=3, refine_epochs=1, steps_per_epoch=6), inputs, state, callback=on_epoch,
                          stop=stop)
    assert len(part.history_) == 3 and checkpoint.describe(state)["resumable"]
    resumed = checkpoint.resume(state, inputs)
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3, 4]
    for a, b in zip(resumed.history_, full.history_):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
    np.testing.assert_allclose(resumed.reconstruct(inputs).mel, full.reconstruct(inputs).mel, rtol=1e-4, atol=1e-3)


def test_a_network_without_a_temporal_latent_has_no_refinement():
    assert create("conv", temporal_dim=0).epochs == create("conv").main_epochs
    assert create("conv", modality="lyrics").refine_epochs == 0
    assert create("conv", epochs=6).refine_epochs == 2  # cut to a third of a short run
    from core.training import TrainConfig, train
    net = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="no refinement stage"):
        train(net, VAELoss(), {"x": torch.zeros(4, 2)}, TrainConfig(epochs=1, refine_epochs=1))
    with pytest.raises(ValueError, match="no refinement stage"):
        _module(temporal_dim=0).training_stage("refine")


def test_the_training_curves_shade_the_refinement():
    import pandas as pd
    from ui import figures
    epochs = pd.DataFrame({"epoch": [1, 2, 3, 4], "loss": [4.0, 3.0, 2.5, 1.0], "val_loss": [4.0, 3.0, 2.4, 1.1],
                           "stage": ["main", "main", "main", "refine"]})
    shaded = [(s.x0, s.x1) for s in figures.loss_curves(epochs).layout.shapes]
    assert shaded == [(3.5, 4.5)]
    assert not figures.loss_curves(epochs.drop(columns="stage")).layout.shapes


def test_a_finished_run_without_the_temporal_latent_gains_it_and_keeps_its_latents(tmp_path):
    inputs = _rhythmic()
    static = _staged(temporal_dim=0, refine_epochs=0)
    checkpoint.fit(static, inputs, tmp_path / "static.pt")
    out = tmp_path / "refined.pt"
    refined = checkpoint.refine(tmp_path / "static.pt", inputs, out)
    # the model's own temporal latent (4 channels), three refinement epochs (a third of the nine it trained)
    assert refined.config.temporal_dim == 4 and (refined.main_epochs, refined.refine_epochs) == (9, 3)
    assert [h.get("stage") for h in refined.history_] == ["main"] * 9 + ["refine"] * 3
    np.testing.assert_array_equal(refined.encode(inputs)[:, :6], static.encode(inputs))  # track 4 + crop 2
    assert _onset_r(refined, inputs) > _onset_r(static, inputs) + 0.3
    loaded = checkpoint.load(out)
    np.testing.assert_array_equal(loaded.encode(inputs), refined.encode(inputs))
    info = checkpoint.describe(out)
    assert info["train_config"]["refine_epochs"] == 10 and info["history"]["refine_epochs"] == 3  # cut to a third

    with pytest.raises(CheckpointError, match="already had its refinement"):
        checkpoint.refine(out, inputs, tmp_path / "again.pt")
    with pytest.raises(CheckpointError, match="other data"):
        checkpoint.refine(tmp_path / "static.pt", _rhythmic(seed=1), tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="nothing to refine"):
        checkpoint.refine(tmp_path / "static.pt", inputs, tmp_path / "none.pt", refine_epochs=0)
    assert not (tmp_path / "again.pt").exists() and not (tmp_path / "other.pt").exists()


def test_only_a_spectrogram_model_with_audio_can_be_refined(tmp_path):
    from tests.test_models import feature_inputs
    checkpoint.fit(create("basic", epochs=2), feature_inputs(n=40), tmp_path / "basic.pt")
    with pytest.raises(CheckpointError, match="no temporal latent to refine") as err:
        checkpoint.refine(tmp_path / "basic.pt", feature_inputs(n=40), tmp_path / "out.pt")
    assert "basic.pt" in str(err.value)


def test_the_training_monitor_sees_the_embedding_not_the_sequence():
    """The monitor clusters the latents of every epoch's evaluation: with the temporal latent on, its 2 x 16 values
    per crop would outweigh the track's 3; it gets one value per channel, as the embedding has."""
    inputs = _rhythmic(n=8)
    seen = []

    class Monitor:
        def on_validation(self, *, epoch, latents):
            seen.append(latents.shape)
            return {}

    model = _staged(epochs=3, refine_epochs=1, steps_per_epoch=4).fit(inputs, callback=Monitor())
    assert seen == [(8, model.latent_dim)] * 4 and model.latent_dim == 4 + 2 + 2
    module = model.module_
    mu = torch.randn(5, module.d_a_seq)
    summary = module.embedding_means(mu)
    torch.testing.assert_close(summary[:, :6], mu[:, :6])
    torch.testing.assert_close(summary[:, 6:], mu[:, 6:].reshape(5, 2, 16).std(-1, unbiased=False))


def test_the_temporal_summary_is_not_offered_to_traverse():
    model = small("conv", temporal_dim=2, temporal_hop=4)
    found = model.latent_blocks()  # audio 0-2, crop 3, temporal 4-5, lyrics 6-7
    assert blocks.decoded_columns(found, 8) == [0, 1, 2, 3, 6, 7]
    assert blocks.decoded_columns(small("conv").latent_blocks(), 6) == list(range(6))  # nothing held still


def test_the_audio_part_leaves_out_the_crop_and_temporal_blocks_with_or_without_lyrics():
    Z = np.arange(2 * 8, dtype=float).reshape(2, 8)
    found = small("conv", temporal_dim=2, temporal_hop=4).latent_blocks()  # audio 0-2, crop 3, temporal 4-5, lyrics 6-7
    np.testing.assert_array_equal(blocks.view(Z, found, "audio"), Z[:, :3])
    audio_only = small("conv", modality="audio", temporal_dim=2, temporal_hop=4).latent_blocks()  # audio 0-2, crop 3, temporal 4-5
    assert blocks.parts(audio_only) == ["all", "audio"] and blocks.default_part(audio_only) == "all"
    np.testing.assert_array_equal(blocks.view(Z[:, :6], audio_only, "audio"), Z[:, :3])
    assert blocks.parts(small("basic").latent_blocks()) == ["all"]  # one block that describes the track: one part

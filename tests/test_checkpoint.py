"""The one checkpoint format: round trips, safe loading, refusals that say why, `core info`."""

from __future__ import annotations

import dataclasses

import pathlib
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from core import checkpoint
from core.cli import main
from core.corpus import Corpus
from core.errors import CheckpointError
from core.corpus import FEATURE_NAMES
from core.inputs import ModelInputs
from core.latents import latents_for
from core.models import create
from tests.test_models import feature_inputs, mel_inputs, small


@pytest.fixture(scope="module")
def basic_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "basic.pt"
    model = small("basic").fit(feature_inputs())
    checkpoint.save(model, path)
    return path, model


@pytest.mark.parametrize("name", ["basic", "ae", "pca", "raw"])
def test_round_trip_gives_the_same_encodings(tmp_path, name):
    inputs = feature_inputs()
    model = small(name).fit(inputs)
    path = checkpoint.save(model, tmp_path / f"{name}.pt")
    loaded = checkpoint.load(path, expect_model=name)
    np.testing.assert_array_equal(loaded.encode(inputs), model.encode(inputs))
    assert loaded.fingerprint() == model.fingerprint()
    assert loaded.config == model.config and loaded.history_ == model.history_
    assert loaded.training == model.training and loaded.random_state == model.random_state
    # only tensors and plain values: the file loads with weights_only=True
    raw = torch.load(path, weights_only=True)
    assert raw["format_version"] == checkpoint.FORMAT_VERSION and raw["model"] == name
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # atomic write leaves nothing


class Evil:
    """Unpickling this would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.mark.parametrize("how", ["torch", "pickle"])
def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, how):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pt"
    payload = {"format_version": 1, "model": "basic", "config": {}, "weights": {}, "feature_params": {},
               "history": [Evil(marker)]}
    if how == "torch":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=4))
    with pytest.raises(CheckpointError, match="refused") as err:
        checkpoint.load(path)
    assert str(path) in str(err.value)
    assert not marker.exists()
    # the marker really would be created by an unsafe load: the test can fail
    pickle.loads(pickle.dumps(Evil(marker)))
    assert marker.exists()


def test_other_model_is_refused(basic_ckpt):
    path, _ = basic_ckpt
    with pytest.raises(CheckpointError, match="holds a 'basic' model, expected 'conv'") as err:
        checkpoint.load(path, expect_model="conv")
    assert str(path) in str(err.value)


def test_other_feature_size_is_refused(basic_ckpt):
    path, _ = basic_ckpt
    with pytest.raises(CheckpointError, match="n_features=57, the data has n_features=40") as err:
        checkpoint.load(path, expect={"n_features": 40})
    assert str(path) in str(err.value)
    assert checkpoint.load(path, expect={"n_features": 57}).input_spec() == {"n_features": 57}
    with pytest.raises(CheckpointError, match="has no 'mel_shape' input"):
        checkpoint.load(path, expect={"mel_shape": [128, 128]})


def test_latents_for_names_the_checkpoint_when_data_does_not_fit(tmp_path, basic_ckpt):
    path, model = basic_ckpt
    ids = [f"t{i}" for i in range(12)]
    X57 = feature_inputs(n=12).features
    ok = Corpus(pd.DataFrame({"track_id": ids}), features57=pd.DataFrame(X57, index=ids, columns=FEATURE_NAMES))
    # a model trained on 40-value vectors cannot encode the corpus' 57-value ones
    narrow = checkpoint.save(small("basic").fit(feature_inputs(f=40)), tmp_path / "narrow.pt")
    with pytest.raises(CheckpointError, match="trained on 40 features, the data has 57") as err:
        latents_for(narrow, ok)
    assert str(narrow) in str(err.value)
    # the fitting checkpoint encodes it, the same as the model in memory
    got_ids, Z = latents_for(path, ok)
    assert got_ids == ids
    np.testing.assert_allclose(Z, model.encode(ModelInputs(ids, features=X57)), rtol=1e-6)
    again = latents_for(path, ok)[1]  # second call: served from the cache, same numbers
    np.testing.assert_array_equal(again, Z)


def test_other_format_version_is_refused(tmp_path, basic_ckpt):
    path, _ = basic_ckpt
    ckpt = torch.load(path, weights_only=True)
    ckpt["format_version"] = 99
    bad = tmp_path / "v99.pt"
    torch.save(ckpt, bad)
    with pytest.raises(CheckpointError, match="format version 99") as err:
        checkpoint.load(bad)
    assert str(bad) in str(err.value)


def test_a_format_1_file_is_refused_with_how_to_retrain(tmp_path, basic_ckpt):
    """The format before the model / training / monitoring split (one "config" dict)."""
    old = {"format_version": 1, "model": "conv", "config": {"latent_dim": 8, "epochs": 40, "seed": 0},
           "weights": {"w": torch.zeros(2)}, "feature_params": {}, "history": []}
    bad = tmp_path / "conv_v1.pt"
    torch.save(old, bad)
    for call in (checkpoint.load, checkpoint.describe):
        with pytest.raises(CheckpointError, match="format version 1, an old format.*reads version 4") as err:
            call(bad)
        assert str(bad) in str(err.value)
        assert f"python -m core train --model conv --data SOURCE --out {bad}" in str(err.value)


def test_settings_are_saved_side_by_side_and_monitoring_is_not_in_the_fingerprint(tmp_path):
    model = small("basic", latent_dim=3, beta=2.0, random_state=4).fit(feature_inputs())
    a = checkpoint.save(model, tmp_path / "a.pt", monitoring={"every": 5, "n_clusters": 3})
    b = checkpoint.save(model, tmp_path / "b.pt")
    raw = torch.load(a, weights_only=True)
    assert raw["model_config"] == {"latent_dim": 3, "hidden": [32, 16]}
    assert raw["train_config"]["beta"] == 2.0 and raw["train_config"]["epochs"] == 4
    assert raw["monitor_config"] == {"every": 5, "n_clusters": 3} and raw["random_state"] == 4
    assert checkpoint.load(a).fingerprint() == checkpoint.load(b).fingerprint() == model.fingerprint()
    info = checkpoint.describe(a)
    assert info["model_config"]["latent_dim"] == 3 and info["monitor_config"]["every"] == 5


def test_truncated_file_is_refused(tmp_path, basic_ckpt):
    path, _ = basic_ckpt
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 10):
        bad = tmp_path / f"cut{cut}.pt"
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated") as err:
            checkpoint.load(bad)
        assert str(bad) in str(err.value)


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"),
    (b"hello, this is a text file\n", "not a Songscape checkpoint"),
    ("tensors", "not a Songscape checkpoint"),
    ("incomplete", "not a complete Songscape checkpoint"),
    ("unknown", "unknown model 'gan'"),
    ("wrong-weights", "do not fit a 'basic' model"),
])
def test_files_that_are_not_checkpoints_are_refused(tmp_path, basic_ckpt, content, message):
    bad = tmp_path / "bad.pt"
    good = torch.load(basic_ckpt[0], weights_only=True)
    if isinstance(content, bytes):
        bad.write_bytes(content)
    elif content == "tensors":
        torch.save({"w": torch.zeros(3)}, bad)
    elif content == "incomplete":
        torch.save({"format_version": checkpoint.FORMAT_VERSION, "model": "basic"}, bad)
    elif content == "unknown":
        torch.save(dict(good, model="gan"), bad)
    else:  # a consistent file (its checksum recomputed) whose weights do not fit the network
        crafted = dict(good, weights={k: v[..., :1] for k, v in good["weights"].items()})
        torch.save(dict(crafted, checksum=checkpoint.content_checksum(crafted)), bad)
    with pytest.raises(CheckpointError, match=message) as err:
        checkpoint.load(bad)
    assert str(bad) in str(err.value)
    with pytest.raises(CheckpointError):
        checkpoint.load(tmp_path / "missing.pt")


def test_info_prints_the_summary_and_fails_with_reason(capsys, tmp_path, basic_ckpt):
    path, model = basic_ckpt
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "basic" in out and "n_features" in out and "latent_dim" in out
    assert "model config" in out and "training config" in out and "batch_size" in out
    assert f"epochs           {len(model.history_)}" in out and "final KL per dim" in out
    info = checkpoint.describe(path)
    assert info["history"]["epochs"] == len(model.history_)
    assert len(info["history"]["final_kl_per_dim"]) == 2
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"nope")
    assert main(["info", str(bad)]) != 0
    assert "not a Songscape checkpoint" in capsys.readouterr().err


def test_a_format_2_conv_checkpoint_is_refused_as_old(tmp_path):
    """The spectrogram VAE's network changed with format 3: a version-2 file is refused, saying it is an old format."""
    old = {"format_version": 2, "model": "conv", "model_config": {"channels": [16, 32, 64, 128]},
           "train_config": {}, "monitor_config": None, "random_state": 0, "weights": {}, "feature_params": {},
           "history": []}
    bad = tmp_path / "conv_v2.pt"
    torch.save(old, bad)
    with pytest.raises(CheckpointError, match="version 2, an old format that this Songscape no longer reads"):
        checkpoint.load(bad)


def test_conv_checkpoint_refuses_other_mel_shape_and_vocabulary(tmp_path):
    model = small("conv").fit(mel_inputs())
    path = checkpoint.save(model, tmp_path / "conv.pt")
    loaded = checkpoint.load(path, expect_model="conv")
    inputs = mel_inputs()
    np.testing.assert_allclose(loaded.encode(inputs), model.encode(inputs), rtol=1e-6, atol=1e-6)
    V = model.input_spec()["lyrics_dim"]
    assert V > 0
    with pytest.raises(CheckpointError, match=r"n_mels=32, the data has n_mels=128"):
        checkpoint.load(path, expect={"n_mels": 128})
    assert checkpoint.describe(path)["modality"] == "both"
    with pytest.raises(CheckpointError, match=f"lyrics_dim={V}, the data has lyrics_dim={V + 1}"):
        checkpoint.load(path, expect={"lyrics_dim": V + 1})


# ------------------------------------------------------------------ shipped models
@pytest.mark.slow
@pytest.mark.parametrize("name", ["basic", "conv", "beta"])
def test_shipped_checkpoints_load_and_encode_the_demo_corpus(name):
    from core.config import CHECKPOINT_DIR

    path = CHECKPOINT_DIR / f"{name}.pt"
    if not path.exists():
        pytest.skip(f"{path} is not there yet (see checkpoints/README.md to create it)")
    from core.corpus import load_demo

    demo = load_demo()
    corpus = demo.subset(demo.track_ids[::7])  # 32 tracks of every genre and language: fast to extract
    model = checkpoint.load(path, expect_model=name)
    ids, Z = latents_for(path, corpus)
    assert ids == corpus.track_ids and Z.shape == (len(ids), model.latent_dim)
    assert np.isfinite(Z).all() and Z.std(0).max() > 0
    assert path.stat().st_size < 8 * 2**20
    if name != "basic":
        # the spectrogram VAEs' refinement: reconstructions that move in time with the originals (0.003 without it)
        from core.reconstruction import corpus_reconstruction_measures
        assert corpus_reconstruction_measures(model, corpus)["onset_r"] > 0.5


@pytest.mark.slow
def test_the_real_music_checkpoint_encodes_and_rebuilds_real_recordings_with_their_rhythm(shared_data):
    """The shipped real-music model: audio only, it says what it was trained on, it encodes real clips it is
    handed as a folder, and its reconstructions move in time with the originals (the demo models' do not)."""
    from core.config import CHECKPOINT_DIR
    from core.corpus.folder import load_folder
    from core.reconstruction import corpus_reconstruction_measures

    path = CHECKPOINT_DIR / "real.pt"
    if not path.exists():
        pytest.skip(f"{path} is not there (see checkpoints/README.md)")
    info = checkpoint.describe(path)
    assert info["modality"] == "audio"
    trained_on = info["training_data"]
    assert trained_on["n_tracks"] == 600 and len(trained_on["sources"]) == 3, trained_on
    corpus = load_folder(shared_data / "gtzan_clips")
    model = checkpoint.load(path)
    ids, Z = latents_for(path, corpus)
    assert len(ids) == len(corpus) == 7 and np.isfinite(Z).all() and Z.std(0).min() > 0
    rhythm = corpus_reconstruction_measures(model, corpus)
    assert rhythm["onset_r"] > 0.4, rhythm  # the shipped demo ConvVAE: about 0.01 on real clips
    assert path.stat().st_size < 8 * 2**20


def effective_training(model) -> dict:
    from core.models.configs import config_to_dict
    return config_to_dict(dataclasses.replace(model.training, refine_epochs=model.refine_epochs))


def test_shipped_checkpoints_hold_the_settings_their_readme_command_gives_today():
    """A default changed in code but not retrained into the shipped file would show the user another model
    than the README's command makes (a shipped conv.pt once did). Settings only: the weights take minutes."""
    from core.cli import build_parser
    from core.cli.train import overrides
    from core.models import MODELS
    from core.models.configs import config_from_dict, config_to_dict
    from scripts.check_shipped import out_arg, readme_train_commands

    commands = readme_train_commands()
    outs = sorted({pathlib.Path(out_arg(c)).name for c in commands})
    assert outs == ["basic.pt", "beta.pt", "beta_0.5.pt", "beta_2.pt", "beta_8.pt", "conv.pt", "real.pt"]
    first, last = {}, {}
    for command in commands:
        args = build_parser("train").parse_args(command)
        first.setdefault(args.out.name, args)
        last[args.out.name] = (args, command)
    for args, command in last.values():  # a file made by two commands is what the last one leaves
        path = pathlib.Path(__file__).resolve().parent.parent / args.out
        if not path.exists():
            pytest.skip(f"{path} is not there (see checkpoints/README.md)")
        saved = torch.load(path, weights_only=True, map_location="cpu")
        if args.refine_from is not None:
            # a main stage, then --refine-from it: the main command's settings, with the temporal latent and the
            # refinement the model gives it (checkpoint.refinement)
            main = first[args.out.name]
            main_model = create(main.model, random_state=main.random_state, **overrides(main, MODELS[main.model]))
            defaults = create(args.model)
            asked = overrides(args, MODELS[args.model]).get("refine_epochs", defaults.training.refine_epochs)
            model = type(main_model)(dataclasses.replace(main_model.config, temporal_dim=defaults.config.temporal_dim),
                                     dataclasses.replace(main_model.training, refine_epochs=asked),
                                     random_state=main.random_state)
        else:
            model = create(args.model, random_state=args.random_state, **overrides(args, MODELS[args.model]))
        assert saved["model"] == args.model, command
        # a file written before a setting existed holds that setting's stored default (ConvVAEConfig.stored_defaults)
        stored = config_to_dict(config_from_dict(type(model.config), saved["model_config"]))
        assert stored == config_to_dict(model.config), f"{args.out}: retrain it with {command}"
        kept = type(model)(config_from_dict(type(model.config), saved["model_config"]),
                           config_from_dict(type(model.training), saved["train_config"]))
        # the refinement epochs a run takes (none without a temporal latent, whatever was asked)
        assert effective_training(kept) == effective_training(model), f"{args.out}: retrain it with {command}"
        assert saved["random_state"] == args.random_state
        # and what it was trained on: the Compare page and `core info` say "not recorded" otherwise
        record = saved.get(checkpoint.DATA_KEY)
        assert record is not None and len(record["sources"]) == len(args.data), f"{args.out}: {record}"
        assert [s for s in args.data if s == "demo"] == [s for s in record["sources"] if s == "demo"], args.out

"""The spectrogram VAE end to end on audio the test writes: the whole-clip mel store, true levels, the CLI saying what happened,
and listening to the same excerpt the model reconstructs."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from core import checkpoint, explore
from core.cli import main
from core.corpus import load_sources
from core.cache import FeatureCache
from core.features.mel import CLIP_PARAMS, MelParams, clip_log_mel, mel_to_audio
from core.inputs import build_inputs

SR = 22050


def tone(freq: float, seconds: float, *, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    return (amp * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """8 clips without lyrics in two 'genres' (low / high tones), 4 to 9 s long (some shorter than a crop)."""
    root = tmp_path_factory.mktemp("clips")
    for i in range(8):
        genre, freq = ("low", 220.0) if i % 2 else ("high", 3520.0)
        (root / genre).mkdir(exist_ok=True)
        sf.write(root / genre / f"{genre}{i}.wav", tone(freq * (1 + 0.05 * i), 4 + (i % 6), seed=i), SR)
    return root


def test_store_holds_whole_clips_in_db_re_full_scale_memory_mapped(folder):
    corpus = load_sources([f"folder:{folder}"])
    inputs, skipped = build_inputs(corpus, needs={"clips"})
    assert not skipped and len(inputs) == 8
    clips = inputs.clips
    assert isinstance(clips.frames, np.memmap)
    for i, path in enumerate(corpus.tracks.set_index("track_id").loc[inputs.track_ids, "path"]):
        y, _ = sf.read(path, dtype="float32")
        expected = clip_log_mel(y=y)
        assert clips.lengths[i] == expected.shape[1] == 1 + len(y) // 1024   # the whole clip, every frame
        np.testing.assert_allclose(clips.clip(i), expected, atol=0.07)       # float16 on disk
        assert expected.max() > -15 and expected.min() >= -100               # dB re. full scale, floor -100
    # a clip shorter than the crop is padded with the floor; crops are read where asked
    short = int(np.argmin(clips.lengths))
    crop = clips.crops([short], [0], 256)[0]
    assert np.all(crop[:, clips.lengths[short]:] == -100.0)
    # built once: a second build reopens the same file
    again, _ = build_inputs(corpus, needs={"clips"})
    assert again.clips.store_key == clips.store_key and again.content_hash() == inputs.content_hash()
    files = list((FeatureCache().root / "melstore").glob(f"{clips.store_key}*.npy"))
    assert len(files) == 2


def test_reconstructions_of_full_scale_mels_keep_their_true_level():
    loud, quiet = tone(440.0, 3.0, amp=0.5), tone(440.0, 3.0, amp=0.05)
    rms = [float(np.sqrt(np.mean(mel_to_audio(clip_log_mel(y=y), params=CLIP_PARAMS) ** 2))) for y in (loud, quiet)]
    assert rms[0] / rms[1] == pytest.approx(10.0, rel=0.2)           # 20 dB apart, as recorded
    assert 0.25 < rms[0] / float(np.sqrt(np.mean(loud ** 2))) < 2.0   # near the original level
    # a peak-relative mel has no level: it is normalised to a 0.9 peak
    peak = mel_to_audio(np.zeros((128, 64), np.float32) - 10, params=MelParams())
    assert np.max(np.abs(peak)) == pytest.approx(0.9, rel=1e-3)


def test_train_cli_says_the_lyrics_branch_is_off_and_info_reports_the_real_modality(folder, tmp_path, capsys):
    out = tmp_path / "conv.pt"
    code = main(["train", "--model", "conv", "--data", f"folder:{folder}", "--out", str(out), "--epochs", "2",
                 "--steps-per-epoch", "3", "--width", "8", "--latent-dim", "3", "--batch-size", "4",
                 "--warmup-steps", "2", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "no track of" in err and "the lyrics branch is off" in err and "modality audio" in err
    assert "active units" in err and "beta 1 (normalised 0.000916)" in err   # 1 * (3 + 8 + 4) / (128 * 128)
    info = checkpoint.describe(out)
    assert info["modality"] == "audio" and info["model_config"]["modality"] == "audio"
    # track 3 + crop 8 dimensions + 4 temporal channels; 2 epochs of 3 steps, then one of refinement
    assert info["beta_normalised"] == pytest.approx((3 + 8 + 4) / (128 * 128))
    assert info["history"]["active_units"] is not None and info["history"]["steps"] == 9
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "modality    audio" in text and "normalised beta*d/(F*T) = 0.000916" in text and "active units" in text


def test_listening_plays_the_same_excerpt_as_the_reconstruction(folder, tmp_path):
    out = tmp_path / "conv.pt"
    assert main(["train", "--model", "conv", "--data", f"folder:{folder}", "--out", str(out), "--epochs", "1",
                 "--steps-per-epoch", "2", "--width", "8", "--latent-dim", "2", "--device", "cpu"]) == 0
    model = checkpoint.load(out)
    corpus = load_sources([f"folder:{folder}"])
    lengths = {t: len(sf.read(p)[0]) for t, p in corpus.tracks[["track_id", "path"]].itertuples(index=False)}
    track = max(lengths, key=lengths.get)  # 9 s: longer than a crop, so the excerpt is the centre
    heard = explore.listen(model, corpus, track)
    inputs, _ = build_inputs(corpus.subset([track]), needs=model.needs, clip_params=model.prep_.clip_params)
    excerpt, starts = model.excerpt(inputs)
    np.testing.assert_array_equal(heard.mel, excerpt[0])
    assert starts[0] == (inputs.clips.lengths[0] - 128) // 2 > 0
    assert heard.mel_reconstruction.shape == heard.mel.shape == (128, 128)
    # the original audio is cut to the excerpt: the same length as the rendered reconstruction
    assert len(heard.audio) == len(heard.audio_reconstruction) == 127 * 1024
    y, _ = sf.read(corpus.tracks.set_index("track_id").loc[track, "path"], dtype="float32")
    np.testing.assert_allclose(heard.audio, y[starts[0] * 1024:starts[0] * 1024 + 127 * 1024], atol=1e-4)


def test_train_cli_prints_warnings_and_exits_non_zero_on_divergence(capsys):
    from core.cli.train import EXIT_DIVERGED, report_training
    from core.models import create

    model = create("basic")
    ok = [{"epoch": 1, "active_units": 2, "warnings": []},
          {"epoch": 2, "active_units": 2, "warnings": ["still falling: the validation loss fell 5.0%"]}]
    assert report_training(model, ok) == 0
    err = capsys.readouterr().err
    assert "warning: still falling" in err and "active units 2 of 2" in err
    bad = ok[:1] + [{"epoch": 2, "active_units": 0, "diverged": True,
                     "warnings": ["diverged: the loss became nan at step 40 (epoch 2)"]}]
    assert report_training(model, bad) == EXIT_DIVERGED != 0
    assert "warning: diverged: the loss became nan" in capsys.readouterr().err

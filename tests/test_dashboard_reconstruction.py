"""The spectrogram VAE on the dashboard: reconstruction quality and dB colour scales.

Figure tests build their own arrays; the page tests use the shipped checkpoints on the tiny demo
corpus (AppTest), and compare what is shown with ``core.reconstruction`` computed here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import checkpoint, shelf, workspace
from core.features.mel import CLIP_PARAMS, MelParams
from core.latents import band_levels_of, reader
from core.reconstruction import corpus_reconstruction_measures
from tests.test_app import _app, app_env, monkeypatch_module  # noqa: F401  (fixtures)
from ui import figures, state


# ------------------------------------------------------------------ colour scales (fast)
def test_peak_and_full_scale_mels_get_their_own_fixed_range_and_colour_bar_label():
    rng = np.random.default_rng(0)
    peak = figures.spectrogram(rng.uniform(-80, 0, (128, 20)), params=MelParams())
    power = figures.spectrogram(rng.uniform(-100, 5, (128, 20)), params=CLIP_PARAMS)
    p, w = peak.data[0], power.data[0]
    assert (p.zmin, p.zmax) == (-80.0, 0.0) and "loudest" in p.colorbar.title.text
    assert (w.zmin, w.zmax) == (-100.0, figures.POWER_HEADROOM_DB) and "full scale" in w.colorbar.title.text
    # the range is the parameters', not the image's: a quiet clip is drawn dark, not stretched
    quiet = figures.spectrogram(np.full((128, 20), -60.0), params=CLIP_PARAMS).data[0]
    assert (quiet.zmin, quiet.zmax) == (w.zmin, w.zmax)


def test_original_and_reconstruction_share_one_colour_scale_and_one_colour_bar():
    original = np.linspace(-90, 3, 128 * 16).reshape(128, 16)
    reconstruction = np.full((128, 16), -40.0)  # a much narrower range than the original's
    fig = figures.spectrogram_pair(original, reconstruction, params=CLIP_PARAMS)
    a, b = fig.data
    assert (a.zmin, a.zmax) == (b.zmin, b.zmax) == (-100.0, figures.POWER_HEADROOM_DB)
    assert [a.showscale, b.showscale] == [False, True] and "full scale" in b.colorbar.title.text


# ------------------------------------------------------------------ pages (AppTest)
def _spec(chart) -> dict:
    return json.loads(chart.proto.spec)


def _latent_page(checkpoint_path: str | None = None):
    at = _app()
    if checkpoint_path is not None:
        at.session_state[state.CHECKPOINT] = checkpoint_path
    at.run()
    at.switch_page("views/latent_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.slow
def test_latent_page_shows_the_core_reconstruction_measures_of_the_checkpoint(app_env):
    at = _latent_page()
    path = at.session_state[state.CHECKPOINT]
    model = checkpoint.load(path)
    assert model.name in ("conv", "beta"), path  # the app opens on the spectrogram VAE
    corpus = workspace.load_corpus(workspace.default_specs())
    # the test's small demo is not the shipped models' training corpus: the page reads it with its own band levels
    read_by = reader(model, corpus)
    assert band_levels_of(read_by) == "collection"
    q = corpus_reconstruction_measures(read_by, corpus)
    shown = {m.label: m.value for m in at.metric}
    assert shown["self-retrieval"] == f"{q['self_retrieval']:.1%}"
    assert shown["chance"] == f"{q['chance']:.1%}" and q["chance"] == pytest.approx(1 / q["n"])
    assert shown["track → reconstruction"] == f"{q['dist_recon_db']:.2f} dB"
    assert shown["track → corpus mean"] == f"{q['dist_corpus_mean_db']:.2f} dB"
    assert shown["onset-envelope correlation"] == f"{q['onset_r']:.3f}"
    assert shown["frame-to-frame change"] == f"{q['frame_change_ratio']:.2f}×"
    assert any("corpus-mean spectrogram" in c.value and f"{q['n']} tracks" in c.value for c in at.caption)
    # the decoded spectrogram of a full-scale model is labelled and scaled as such
    decoded = next(_spec(c) for c in at.get("plotly_chart") if "_mel" in c.proto.id)
    assert "full scale" in decoded["data"][0]["colorbar"]["title"]["text"]
    assert decoded["data"][0]["zmin"] == -100.0


@pytest.mark.slow
def test_latent_page_says_a_feature_model_reconstructs_no_mel(app_env):
    basic = next(str(e.path) for e in shelf.list_checkpoints() if e.name == "basic")
    at = _latent_page(basic)
    assert not [m for m in at.metric if m.label == "self-retrieval"]
    assert any("does not reconstruct a mel spectrogram" in c.value for c in at.caption), [c.value for c in at.caption]


@pytest.mark.slow
def test_data_page_shows_the_full_scale_whole_clip_and_the_peak_window(app_env):
    at = _app()
    at.run()
    at.switch_page("views/data_page.py").run()
    box = at.selectbox(key="data_track")
    box.set_value(box.options[0]).run()
    assert not at.exception, [e.value for e in at.exception]
    spec = lambda: _spec(next(c for c in at.get("plotly_chart") if "track_mel" in c.proto.id))  # noqa: E731
    power = spec()["data"][0]
    assert "full scale" in power["colorbar"]["title"]["text"] and power["zmin"] == -100.0
    at.radio(key="data_mel_reference").set_value("peak").run()
    peak = spec()["data"][0]
    assert "loudest" in peak["colorbar"]["title"]["text"] and (peak["zmin"], peak["zmax"]) == (-80.0, 0.0)

"""The sidebar's device is where the current model trains, with and without CUDA.

Where a model trains is decided once (``Model.training_device``): ``fit`` hands that device to the
training loop and the sidebar shows it. The Basic VAE keeps to the CPU even where CUDA is present
(CUDA is slower for so small a network), so a sidebar that asked torch alone said "cuda" for it.
"""

from __future__ import annotations

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core import checkpoint, config
from core.models import base

SHIPPED = sorted(config.CHECKPOINT_DIR.glob("*.pt"))


class _Reached(Exception):
    """Raised by the stand-in training loop: fit got as far as choosing its device."""


def _fit_device(model, monkeypatch) -> str:
    """The device ``fit`` hands to the training loop for a fresh model like ``model`` (its config,
    device "auto"), without data: the fitted preprocessing of ``model`` stands in for the inputs'."""
    fresh = type(model)(model.config, model.training, random_state=0)
    monkeypatch.setattr(fresh, "_check_needs", lambda inputs: None)
    monkeypatch.setattr(fresh, "_fit_preprocessing", lambda inputs: model.prep_)
    monkeypatch.setattr(fresh, "_training_data", lambda inputs: None)
    seen = {}

    def loop(module, loss, data, *, device, **kwargs):
        seen["device"] = str(device)
        raise _Reached

    monkeypatch.setattr(base, "train", loop)
    with pytest.raises(_Reached):
        fresh.fit(None)
    return seen["device"]


def _sidebar():
    from ui import state

    state.sidebar()


def _sidebar_device(path) -> str | None:
    at = AppTest.from_function(_sidebar, default_timeout=120)
    at.session_state["checkpoint"] = str(path)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    words = [c.value for c in at.sidebar.caption if "Device:" in c.value]
    return words[0].split("`")[1] if words else None


@pytest.mark.parametrize("cuda", [False, True], ids=["no-cuda", "cuda"])
def test_sidebar_device_is_where_the_current_model_trains(cuda, monkeypatch):
    monkeypatch.delenv("SONGSCAPE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert SHIPPED, "the shipped checkpoints are missing from checkpoints/"
    trains_on = {}
    for path in SHIPPED:
        model = checkpoint.load(path)
        trains_on[path.stem] = _fit_device(model, monkeypatch)
        assert _sidebar_device(path) == trains_on[path.stem], path.name
    # the case that used to disagree: with CUDA, the spectrogram VAE moves to it and the Basic VAE does not
    assert trains_on["basic"] == "cpu"
    assert trains_on["conv"] == ("cuda" if cuda else "cpu")


def test_songscape_device_moves_every_model(monkeypatch):
    monkeypatch.setenv("SONGSCAPE_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for path in SHIPPED:
        assert _fit_device(checkpoint.load(path), monkeypatch) == "cpu"
        assert _sidebar_device(path) == "cpu"

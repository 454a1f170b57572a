"""The sidebar's device is where the current model trains, with and without CUDA.

One function decides where a model trains, ``core.training.resolve_device`` (with the model's
``cuda_pays_off``, through ``Model.training_device``): ``fit`` hands that device to the training
loop, the loop resolves what it is given with the same function, and the sidebar shows it. The
Basic VAE keeps to the CPU even where CUDA is present (CUDA is slower for so small a network), so a
sidebar that asked torch alone said "cuda" for it. CUDA is faked (``torch.cuda.is_available``);
no tensor moves to it: the loop is stopped where it has resolved its device.
"""

from __future__ import annotations

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core import checkpoint, config
from core.training import loop

SHIPPED = sorted(config.CHECKPOINT_DIR.glob("*.pt"))


class _Reached(Exception):
    """Raised in the training loop once it has resolved its device, before it moves anything there."""


def _fit_device(model, monkeypatch) -> str:
    """The device the training loop resolves when ``fit`` trains a fresh model like ``model`` (its config,
    device "auto"), without data: the fitted preprocessing of ``model`` stands in for the inputs'."""
    fresh = type(model)(model.config, model.training, random_state=0)
    monkeypatch.setattr(fresh, "_check_needs", lambda inputs: None)
    monkeypatch.setattr(fresh, "_fit_preprocessing", lambda inputs: model.prep_)
    monkeypatch.setattr(fresh, "_training_data", lambda inputs: None)
    seen = {}
    decide = loop.resolve_device

    def resolved_then_stop(device=None, **kwargs):
        seen["device"] = str(decide(device, **kwargs))
        raise _Reached

    monkeypatch.setattr(loop, "resolve_device", resolved_then_stop)
    with pytest.raises(_Reached):
        fresh.fit(None)
    monkeypatch.setattr(loop, "resolve_device", decide)
    return seen["device"]


def _sidebar():
    from ui import sidebar

    sidebar.sidebar()


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
    trains_on, pays_off = {}, {}
    for path in SHIPPED:
        model = checkpoint.load(path)
        trains_on[path.stem], pays_off[path.stem] = _fit_device(model, monkeypatch), model.cuda_pays_off
        assert _sidebar_device(path) == trains_on[path.stem], path.name
    # the case that used to disagree: with CUDA, the spectrogram VAE (cuda_pays_off) moves to it and the
    # Basic VAE (not cuda_pays_off) does not
    assert not pays_off["basic"] and pays_off["conv"]
    assert trains_on["basic"] == "cpu"
    assert trains_on["conv"] == ("cuda" if cuda else "cpu")


def test_songscape_device_moves_every_model(monkeypatch):
    monkeypatch.setenv("SONGSCAPE_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for path in SHIPPED:
        assert _fit_device(checkpoint.load(path), monkeypatch) == "cpu"
        assert _sidebar_device(path) == "cpu"

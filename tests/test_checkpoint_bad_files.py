"""A checkpoint file that is not what it should be (another kind of file, a device, unreadable, a flipped bit,
loadable but malformed, a crafted resume state) is refused with a message that says what it is; a save
leaves no temporary files behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from core import checkpoint
from core.cli import main
from core.errors import CheckpointError
from core.models import create
from tests.test_models import feature_inputs


# ------------------------------------------------------------------------------------------ checkpoints
@pytest.fixture(scope="module")
def ckpt_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("ck") / "basic.pt"
    checkpoint.fit(create("basic", epochs=2), feature_inputs(n=40), path)
    return path.read_bytes()


def _write(tmp_path: Path, payload: dict, *, fix_checksum: bool = True) -> Path:
    if fix_checksum:
        payload = dict(payload, checksum=checkpoint.content_checksum(payload))
    path = tmp_path / "crafted.pt"
    torch.save(payload, path)
    return path


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_text("epoch,loss\n1,0.5\n"), "looks like a text file, not a PyTorch file"),
    (lambda p: p.write_bytes(b"ID3\x03\x00\x00\x00" + bytes(range(256)) * 8), "looks like an MP3 audio file"),
    (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt "), "looks like a WAV"),
    (lambda p: torch.save({"x": Evil()}, p), "refused: it holds Python objects that could run code"),
    (lambda p: os.mkfifo(p), "is a named pipe (FIFO), not a checkpoint file"),
])
def test_foreign_files_get_a_message_that_says_what_they_are(tmp_path, make, message):
    path = tmp_path / "x.pt"
    make(path)
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        checkpoint.read(path)
    assert str(path) in str(err.value)  # and the read returned: a FIFO opened for reading would block


def test_a_character_device_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="is a device"):
        checkpoint.read("/dev/zero")


def test_unreadable_checkpoint_says_permission_denied(tmp_path, ckpt_bytes, monkeypatch):
    path = tmp_path / "locked.pt"
    path.write_bytes(ckpt_bytes)

    def denied(p):
        raise PermissionError(13, "Permission denied", str(p))

    monkeypatch.setattr(checkpoint.format, "_head", denied)  # running as root, chmod 000 would not stop the read
    with pytest.raises(CheckpointError, match=r"cannot be read \(permission denied\)") as err:
        checkpoint.read(path)
    assert str(path) in str(err.value)


def test_a_flipped_bit_in_the_weights_fails_the_checksum(tmp_path, ckpt_bytes):
    good = tmp_path / "good.pt"
    good.write_bytes(ckpt_bytes)
    payload = torch.load(good, weights_only=True)
    name = sorted(payload["weights"])[0]
    flipped = payload["weights"][name].clone()
    flipped.view(-1).view(torch.int32)[0] ^= 1 << 30  # one exponent bit
    path = _write(tmp_path, dict(payload, weights={**payload["weights"], name: flipped}), fix_checksum=False)
    with pytest.raises(CheckpointError, match="checksum does not match"):
        checkpoint.read(path)
    assert checkpoint.load(good).is_fitted()  # the intact file still loads


@pytest.mark.parametrize("change,message", [
    (lambda c: c.update(history=[{"epoch": 1, "loss": "low", "val_loss": 1.0}]), "loss is 'low'"),
    (lambda c: c.update(history="lots"), "history must be a list"),
    (lambda c: c.update(model_config={"latent_dim": -2, "hidden": [32, 16]}), "latent_dim must be"),
    (lambda c: c.update(train_config=dict(c["train_config"], lr=float("nan"))), "lr must be"),
    (lambda c: c.update(model_config=[1, 2]), "model_config must be a dict"),
    (lambda c: c.update(random_state="seven"), "random_state must be a whole number"),
    (lambda c: c.update(weights={"a": [1, 2]}), "weights must map names to tensors"),
])
def test_loadable_but_malformed_checkpoints_are_refused(tmp_path, ckpt_bytes, change, message, capsys):
    (tmp_path / "g.pt").write_bytes(ckpt_bytes)
    payload = torch.load(tmp_path / "g.pt", weights_only=True)
    change(payload)
    path = _write(tmp_path, payload)
    with pytest.raises(CheckpointError, match=message) as err:
        checkpoint.load(path)
    assert "is malformed" in str(err.value) and str(path) in str(err.value)
    assert main(["info", str(path)]) == 2  # `core info` prints the message instead of crashing
    assert message.split(" ")[0] in capsys.readouterr().err


@pytest.fixture(scope="module")
def unfinished(tmp_path_factory):
    """A resumable run: 2 of 6 epochs done, and the inputs it was trained on."""
    inputs = feature_inputs(n=40)
    path = tmp_path_factory.mktemp("run") / "part.pt"
    import threading

    stop = threading.Event()
    checkpoint.fit(create("basic", epochs=6), inputs, path,
                   callback=lambda info: stop.set() if info["epoch"] >= 2 else None, stop=stop)
    return path, inputs


def _state_edits():
    def opt_shape(s):
        st = s["optimizer"]["state"]
        k = sorted(st)[0]
        st[k] = dict(st[k], exp_avg=torch.zeros(3, 3))

    return [
        ("optimizer-shape", opt_shape, "cannot be resumed"),
        ("last-weights", lambda s: s["last_weights"].pop(sorted(s["last_weights"])[0]), "last_weights"),
        ("history-length", lambda s: s["history"].pop(), "one record per epoch"),
        ("counters", lambda s: s.update(best_epoch=99), "counters do not add up"),
        ("epochs", lambda s: s.update(epochs=-3), "epochs must be"),
        ("best-val", lambda s: s.update(best_val="x"), "best_val"),
        ("optimizer-type", lambda s: s.update(optimizer=[1, 2]), "not an optimizer state"),
        ("version", lambda s: s.update(version=99), "train_state version"),
    ]


@pytest.mark.parametrize("name,edit,message", _state_edits(), ids=[e[0] for e in _state_edits()])
def test_crafted_resume_states_are_refused_before_training(tmp_path, unfinished, name, edit, message):
    path, inputs = unfinished
    payload = torch.load(path, weights_only=True)
    edit(payload["train_state"])
    crafted = _write(tmp_path, payload)
    epochs_run = []
    with pytest.raises(CheckpointError, match=message) as err:
        checkpoint.resume(crafted, inputs, callback=lambda info: epochs_run.append(info["epoch"]))
    assert str(crafted) in str(err.value)
    assert epochs_run == []  # refused before any epoch ran
    assert len(torch.load(path, weights_only=True)["history"]) == 2  # the real run is untouched


def test_stale_temporary_files_are_removed_on_save(tmp_path, ckpt_bytes):
    out = tmp_path / "run.pt"
    stale = tmp_path / ".run.pt.abc123.tmp"
    fresh = tmp_path / ".run.pt.def456.tmp"
    for p in (stale, fresh):
        p.write_bytes(b"partial")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    checkpoint.fit(create("basic", epochs=1), feature_inputs(n=20), out)
    assert not stale.exists() and fresh.exists()  # a save in progress elsewhere keeps its file
    assert checkpoint.load(out).is_fitted()

"""Resume: a run killed with SIGKILL continues from its last saved epoch; in-process resume is exact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from core import checkpoint
from core.errors import BadInputError, CheckpointError
from core.features.gtzan57 import FEATURE_NAMES
from core.models import create
from tests.test_models import feature_inputs

ROOT = Path(__file__).resolve().parent.parent


def feature_table(path: Path, n: int) -> Path:
    """A study-layout feature CSV of ``n`` synthetic tracks."""
    X = feature_inputs(n=n, f=len(FEATURE_NAMES), seed=3).features
    df = pd.DataFrame(X, columns=list(FEATURE_NAMES))
    df.insert(0, "filename", [f"track{i:05d}.wav" for i in range(n)])
    df.insert(1, "length", 661794)
    df["label"] = np.where(np.arange(n) % 2, "rock", "pop")
    df.to_csv(path, index=False)
    return path


def cli(*args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "core", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def epochs_saved(path: Path) -> int:
    try:
        return len(torch.load(path, weights_only=True)["history"])
    except Exception:  # not written yet (the write is atomic, so never half-written)
        return 0


@pytest.mark.slow
def test_resume_after_sigkill_continues_the_epochs(tmp_path):
    data = feature_table(tmp_path / "features.csv", 1000)
    out = tmp_path / "run.pt"
    epochs = 8
    args = ["train", "--model", "basic", "--data", str(data), "--out", str(out),
            "--epochs", str(epochs), "--batch-size", "4", "--seed", "1"]
    proc = cli(*args)
    deadline = time.time() + 120
    while epochs_saved(out) < 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, f"training ended before it could be killed: {proc.communicate()[1][-800:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    before = torch.load(out, weights_only=True)
    done = len(before["history"])
    assert 1 <= done < epochs and before["train_state"]["epoch"] == done
    assert checkpoint.describe(out)["resumable"]

    resumed = cli(*args, "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-2000:]
    after = torch.load(out, weights_only=True)
    assert [h["epoch"] for h in after["history"]] == list(range(1, epochs + 1))
    assert after["history"][:done] == before["history"]  # the saved epochs are kept as they were
    assert "train_state" not in after  # finished: compact, no longer resumable
    model = checkpoint.load(out, expect_model="basic")
    assert model.encode(feature_inputs(n=5, seed=3)).shape == (5, 2)


def _stop_after(epoch: int):
    stop = threading.Event()

    def on_epoch(info):
        if info["epoch"] == epoch:
            stop.set()

    return stop, on_epoch


def test_resumed_run_equals_the_uninterrupted_run(tmp_path):
    inputs = feature_inputs(n=150)
    full = create("basic", epochs=5, seed=2).fit(inputs)

    state = tmp_path / "state.pt"
    stop, on_epoch = _stop_after(2)
    part = create("basic", epochs=5, seed=2).fit(inputs, callback=on_epoch, stop=stop, state_path=state)
    assert len(part.history_) == 2 and checkpoint.describe(state)["resumable"]
    resumed = create("basic", epochs=5, seed=2).fit(inputs, state_path=state, resume=True)

    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3, 4, 5]
    for a, b in zip(resumed.history_, full.history_):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-6)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-6)
    np.testing.assert_allclose(resumed.encode(inputs), full.encode(inputs), rtol=1e-5, atol=1e-6)
    assert not checkpoint.describe(state)["resumable"]


def test_resume_refuses_what_it_cannot_continue(tmp_path):
    inputs = feature_inputs(n=60)
    finished = tmp_path / "done.pt"
    create("basic", epochs=2).fit(inputs, state_path=finished)
    with pytest.raises(CheckpointError, match="no training state to resume") as err:
        create("basic", epochs=4).fit(inputs, state_path=finished, resume=True)
    assert str(finished) in str(err.value)
    with pytest.raises(CheckpointError, match="holds a 'basic' model, expected 'ae'"):
        create("ae", epochs=4).fit(inputs, state_path=finished, resume=True)
    stop, on_epoch = _stop_after(1)
    unfinished = tmp_path / "part.pt"
    create("basic", epochs=4).fit(inputs, callback=on_epoch, stop=stop, state_path=unfinished)
    with pytest.raises(CheckpointError, match="trained on 60 tracks, the data has 59"):
        create("basic", epochs=4).fit(inputs.subset(range(59)), state_path=unfinished, resume=True)
    with pytest.raises(BadInputError, match="does not exist"):
        create("basic").fit(inputs, state_path=tmp_path / "none.pt", resume=True)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_a_resumable_checkpoint(tmp_path):
    data = feature_table(tmp_path / "features.csv", 1000)
    out = tmp_path / "run.pt"
    proc = cli("train", "--model", "basic", "--data", str(data), "--out", str(out),
               "--epochs", "500", "--batch-size", "4")
    deadline = time.time() + 120
    while epochs_saved(out) < 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-1500:]
    assert "continue with --resume" in err
    info = checkpoint.describe(out)
    assert info["resumable"] and 1 <= info["epochs_trained"] < 500


def test_train_help_documents_every_option(capsys):
    from core.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--model", "--data", "--out", "--epochs", "--beta", "--latent-dim", "--seed", "--lr",
                 "--batch-size", "--resume", "--modality", "--inputs"):
        assert flag in text, flag


def test_train_refuses_flags_that_do_not_apply(tmp_path):
    from core.cli import main

    data = feature_table(tmp_path / "features.csv", 30)
    with pytest.raises(SystemExit, match="--beta does not apply to model 'pca'"):
        main(["train", "--model", "pca", "--data", str(data), "--out", str(tmp_path / "p.pt"), "--beta", "2"])
    assert main(["train", "--model", "pca", "--data", str(data), "--out", str(tmp_path / "p.pt")]) == 0
    assert checkpoint.load(tmp_path / "p.pt", expect_model="pca").latent_dim == 2

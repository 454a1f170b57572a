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
from core.corpus import FEATURE_NAMES
from core.models import create
from core.inputs import ModelInputs
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
    assert proc.poll() is None, f"training ended before it could be killed: {proc.communicate(timeout=60)[1][-800:]}"
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
    full = create("basic", epochs=5, random_state=2).fit(inputs)

    state = tmp_path / "state.pt"
    stop, on_epoch = _stop_after(2)
    part = checkpoint.fit(create("basic", epochs=5, random_state=2), inputs, state, callback=on_epoch, stop=stop)
    assert len(part.history_) == 2 and checkpoint.describe(state)["resumable"]
    resumed = checkpoint.resume(state, inputs)
    assert resumed.random_state == 2 and resumed.training == full.training

    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3, 4, 5]
    for a, b in zip(resumed.history_, full.history_):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-6)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-6)
    np.testing.assert_allclose(resumed.encode(inputs), full.encode(inputs), rtol=1e-5, atol=1e-6)
    assert not checkpoint.describe(state)["resumable"]


def test_resume_refuses_what_it_cannot_continue(tmp_path):
    inputs = feature_inputs(n=60)
    finished = tmp_path / "done.pt"
    checkpoint.fit(create("basic", epochs=2), inputs, finished)
    with pytest.raises(CheckpointError, match="no training state to resume") as err:
        checkpoint.resume(finished, inputs, epochs=4)
    assert str(finished) in str(err.value)
    with pytest.raises(CheckpointError, match="holds a 'basic' model, expected 'ae'"):
        checkpoint.resume(finished, inputs, expect_model="ae")
    stop, on_epoch = _stop_after(1)
    unfinished = tmp_path / "part.pt"
    checkpoint.fit(create("basic", epochs=4), inputs, unfinished, callback=on_epoch, stop=stop)
    with pytest.raises(CheckpointError, match="trained on 60 tracks, the data has 59"):
        checkpoint.resume(unfinished, inputs.subset(range(59)))
    with pytest.raises(BadInputError, match="does not exist"):
        checkpoint.resume(tmp_path / "none.pt", inputs)


def test_resume_refuses_other_data_of_the_same_size(tmp_path):
    """Resuming on other data is refused, and the track count alone is not enough: the inputs' content hash is compared."""
    inputs = feature_inputs(n=60)
    unfinished = tmp_path / "part.pt"
    stop, on_epoch = _stop_after(1)
    checkpoint.fit(create("basic", epochs=4), inputs, unfinished, callback=on_epoch, stop=stop)
    edited = ModelInputs(inputs.track_ids, features=inputs.features.copy())
    edited.features[7, 3] += 1.0  # one value of one track changed
    with pytest.raises(CheckpointError, match="trained on other data") as err:
        checkpoint.resume(unfinished, edited)
    assert str(unfinished) in str(err.value)
    renamed = ModelInputs([f"other{i}" for i in range(60)], features=inputs.features)
    assert checkpoint.resume(unfinished, renamed).history_[-1]["epoch"] == 4  # same arrays: accepted


def test_train_cli_model_names_are_the_registry():
    from core.cli.train import MODEL_NAMES
    from core.models import MODELS

    assert sorted(MODEL_NAMES) == sorted(MODELS)


def test_cli_resume_refuses_edited_data(tmp_path, capsys):
    from core.cli import main
    from core.corpus import load_sources
    from core.inputs import build_inputs

    data = feature_table(tmp_path / "features.csv", 40)
    original = data.read_bytes()
    out = tmp_path / "run.pt"
    stop, on_epoch = _stop_after(1)
    inputs, _ = build_inputs(load_sources([str(data)]), needs={"features"})
    checkpoint.fit(create("basic", epochs=3), inputs, out, callback=on_epoch, stop=stop)
    df = pd.read_csv(data)
    df.iloc[0, 5] += 1.0  # same tracks, one value edited
    df.to_csv(data, index=False)
    args = ["train", "--model", "basic", "--data", str(data), "--out", str(out), "--resume"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{out}: its run was trained on other data" in err
    data.write_bytes(original)
    assert main(args) == 0
    assert len(checkpoint.load(out).history_) == 3

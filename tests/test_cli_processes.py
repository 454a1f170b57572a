"""In subprocesses: CLI arguments refused by name, one writer per checkpoint, no orphan workers,
and outputs that stay readable or recoverable when extraction or training is SIGKILLed at random points."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import soundfile as sf
from core import checkpoint
from core.corpus import FEATURE_NAMES, load_folder
from core.features import extract
from core.cache import FeatureCache
from core.io import exclusive
from tests.test_models import feature_inputs

ROOT = Path(__file__).resolve().parent.parent
SR = 22050


def cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    full = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "core", *args], cwd=ROOT, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def feature_csv(path: Path, n: int = 400) -> Path:
    X = feature_inputs(n=n, f=len(FEATURE_NAMES), seed=3).features
    df = pd.DataFrame(X, columns=list(FEATURE_NAMES))
    df.insert(0, "filename", [f"track{i:05d}.wav" for i in range(n)])
    df["label"] = np.where(np.arange(n) % 2, "rock", "pop")
    df.to_csv(path, index=False)
    return path


def audio_folder(root: Path, n: int, seconds: float = 3.0) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        t = np.arange(int(seconds * SR)) / SR
        y = 0.3 * np.sin(2 * np.pi * (150 + 37 * i) * t) + 0.05 * rng.standard_normal(t.size)
        (root / f"g{i % 2}").mkdir(parents=True, exist_ok=True)
        sf.write(root / f"g{i % 2}" / f"s{i:02d}.wav", y.astype(np.float32), SR, subtype="PCM_16")
    return root


# ----------------------------------------------------------------------------------------- arguments
BAD_ARGS = [
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--lr", "nan"], "--lr"),
    (["train", "--lr", "-1"], "--lr"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--epochs", "-3"], "--epochs"),
    (["train", "--latent-dim", "0"], "--latent-dim"),
    (["train", "--beta", "-1"], "--beta"),
    (["train", "--val-fraction", "1.5"], "--val-fraction"),
    (["train", "--patience", "0"], "--patience"),
    (["train", "--width", "0"], "--width"),
    (["train", "--free-bits", "-1"], "--free-bits"),
    (["evaluate", "--seeds", "0"], "--seeds"),
    (["evaluate", "--epochs-scale", "inf"], "--epochs-scale"),
    (["features", "x", "--jobs", "0"], "--jobs"),
    (["demo", "--tracks", "-5"], "--tracks"),
    (["demo", "--seconds", "nan"], "--seconds"),
]


def test_bad_arguments_are_refused_by_name_without_traceback(tmp_path):
    base = {"train": ["--model", "basic", "--data", "demo", "--out", str(tmp_path / "x.pt")],
            "evaluate": ["--data", "demo", "--out", str(tmp_path / "r.csv")],
            "features": ["--out", str(tmp_path / "f.csv")], "demo": ["--out", str(tmp_path / "d")]}
    for args, flag in BAD_ARGS:
        code, err = finish(cli(*args, *base[args[0]]), timeout=60)
        assert code == 2, (args, err)
        assert f"argument {flag}: must be" in err and "Traceback" not in err, (args, err)
        assert f"got '{args[-1]}'" in err
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "d").exists()  # nothing was written


def test_second_writer_of_a_checkpoint_is_refused(tmp_path):
    data = feature_csv(tmp_path / "f.csv", n=60)
    out = tmp_path / "run.pt"
    out.write_bytes(b"")  # placeholder: the test only checks that the locked file is left alone
    with exclusive(out, what="checkpoint"):  # another `core train --out run.pt` is running
        code, err = finish(cli("train", "--model", "basic", "--data", str(data), "--out", str(out),
                               "--epochs", "1"))
    assert code == 2 and "Traceback" not in err
    assert f"{out}: another process is writing this checkpoint right now" in err
    assert out.read_bytes() == b""  # the first writer's file was not touched
    code, err = finish(cli("train", "--model", "basic", "--data", str(data), "--out", str(out), "--epochs", "1"))
    assert code == 0 and checkpoint.load(out).is_fitted()  # once the lock is free it trains


# ----------------------------------------------------------------------------------------- orphans
def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _command(process: psutil.Process) -> str:
    """A process's command line, or "" for one that has just ended (a short-lived helper the pool starts can be
    a zombie for a moment before its parent reaps it, and then has no command line to read)."""
    try:
        return " ".join(process.cmdline())
    except (psutil.ZombieProcess, psutil.NoSuchProcess, psutil.AccessDenied):
        return ""


def test_killed_extraction_leaves_no_worker_behind(tmp_path):
    src = audio_folder(tmp_path / "src", 24, seconds=4.0)
    proc = cli("features", f"folder:{src}", "--out", str(tmp_path / "f.csv"), "--jobs", "2",
               env={"SONGSCAPE_CACHE": str(tmp_path / "cache")})
    deadline = time.time() + 180
    workers: list[psutil.Process] = []
    while time.time() < deadline and proc.poll() is None:
        kids = _descendants(proc.pid)
        forkservers = [k for k in kids if "forkserver" in _command(k)]
        if forkservers and _descendants(forkservers[0].pid):  # workers are computing
            workers = kids + _descendants(forkservers[0].pid)
            break
        time.sleep(0.2)
    assert workers, f"the pool never started: {proc.communicate(timeout=60)[1][-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    gone, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, [(p.pid, _command(p)[:200]) for p in alive]


# ----------------------------------------------------------------------------------- fault injection
def test_random_kills_during_training_leave_a_loadable_or_resumable_checkpoint(tmp_path):
    rng = random.Random(11)
    data = feature_csv(tmp_path / "f.csv", n=600)
    checked = 0
    for i in range(3):
        out = tmp_path / f"run{i}.pt"
        proc = cli("train", "--model", "basic", "--data", str(data), "--out", str(out), "--epochs", "400",
                   "--batch-size", "8", "--seed", "2")
        if i:  # after the first save, at a random point of a later epoch or save
            deadline = time.time() + 120
            while not out.exists() and proc.poll() is None and time.time() < deadline:
                time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)  # its pipes close once no orphan holds them: a regression fails, never hangs
        if not out.exists():
            assert i == 0  # only the first kill may land before the first epoch ended (nothing to keep)
            continue
        checked += 1
        ckpt = checkpoint.read(out)  # never half-written
        done = len(ckpt["history"])
        assert ckpt.get("train_state") is not None and done >= 1
        code, err = finish(cli("train", "--model", "basic", "--data", str(data), "--out", str(out), "--resume",
                               "--epochs", str(done + 1)))
        assert code == 0 and "Traceback" not in err, err
        assert len(checkpoint.read(out)["history"]) == done + 1
        assert checkpoint.load(out).is_fitted()
    assert checked >= 2


def test_random_kills_during_extraction_leave_a_valid_or_recomputed_cache(tmp_path):
    rng = random.Random(5)
    src = audio_folder(tmp_path / "src", 16, seconds=3.0)
    cache_dir = tmp_path / "cache"
    out = tmp_path / "f.csv"
    out.write_text("previous,file\n1,2\n")
    for _ in range(3):
        proc = cli("features", f"folder:{src}", "--out", str(out), "--jobs", "2",
                   env={"SONGSCAPE_CACHE": str(cache_dir)})
        deadline = time.time() + 120  # once the first entry is written, kill at a random later point
        while not list(cache_dir.rglob("*.npy")) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)  # its pipes close once no orphan holds them: a regression fails, never hangs
        text = out.read_text()
        assert text == "previous,file\n1,2\n" or text.startswith("filename,length,")  # old or new, never cut
    cache = FeatureCache(cache_dir / "features")
    corpus = load_folder(src)
    entries = list((cache.root / "gtzan57").rglob("*.npy")) if (cache.root / "gtzan57").exists() else []
    for path in corpus.tracks["path"]:
        hit = cache.get(path, "gtzan57")  # a valid entry, or None (missing or dropped as corrupt)
        assert hit is None or (hit.shape == (57,) and np.isfinite(hit).all())
    warm = extract(corpus, kind="gtzan57", cache=cache, n_jobs=1)
    cold = extract(corpus, kind="gtzan57", cache=False, n_jobs=1)
    assert warm.track_ids == cold.track_ids and not warm.skipped
    np.testing.assert_allclose(warm.X, cold.X, rtol=1e-6)
    assert len(entries) <= len(corpus)

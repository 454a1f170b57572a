"""Worker pools never re-run the main script (under Streamlit, __main__ is the dashboard script)."""

from __future__ import annotations

import sys
import types

import numpy as np
import pandas as pd
import soundfile as sf

from core.corpus import Corpus
from core.features.extract import extract


def test_feature_workers_do_not_run_the_main_script(tmp_path, monkeypatch):
    marker = tmp_path / "main_script_ran"
    script = tmp_path / "app_like.py"
    script.write_text(f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit('the main script ran in a worker')\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(script)  # like Streamlit's script module: a path, no import spec
    fake_main.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", fake_main)

    sr = 22050
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):  # more than extract() runs in-process, so a pool is used
        t = np.arange(int(1.5 * sr)) / sr
        y = 0.3 * np.sin(2 * np.pi * (220 + 20 * i) * t) + 0.01 * rng.normal(size=t.size)
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, y.astype(np.float32), sr)
        rows.append({"track_id": f"t{i}", "path": str(path), "genre": "g", "language": "eng"})

    fs = extract(Corpus(pd.DataFrame(rows)), kind="mel", n_jobs=2, cache=False)

    assert fs.skipped == [] and len(fs.track_ids) == 12
    assert not marker.exists()
    assert sys.modules["__main__"].__file__ == str(script)  # restored after the pool


#: A process started for a pool: it imports core.parallel only after a second (a slow forkserver start),
#: then says it survived and lingers.
SLOW_POOL_PROCESS = "import time; time.sleep(1.0); import core.parallel; print('survived', flush=True); time.sleep(60)"


def test_a_pool_process_whose_owner_died_before_it_imported_the_watch_exits(tmp_path):
    import os
    import signal
    import subprocess

    import psutil

    from core.config import ROOT
    from core.parallel import WATCH_ENV

    log = tmp_path / "child.log"
    # the owner starts the child (as multiprocessing starts its forkserver) and is SIGKILLed at once
    owner_code = ("import os, subprocess, sys, time; "
                  f"env = dict(os.environ, {WATCH_ENV}=str(os.getpid())); "
                  f"child = subprocess.Popen([sys.executable, '-c', {SLOW_POOL_PROCESS!r}], env=env, "
                  f"stdout=open({str(log)!r}, 'w'), stdin=subprocess.DEVNULL); "
                  "print(child.pid, flush=True); time.sleep(60)")
    owner = subprocess.Popen([sys.executable, "-c", owner_code], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)), stdin=subprocess.DEVNULL)
    child = psutil.Process(int(owner.stdout.readline()))
    owner.send_signal(signal.SIGKILL)
    owner.wait(timeout=30)
    try:
        child.wait(timeout=30)  # re-parented before its import: it must still see its owner gone
    except psutil.TimeoutExpired:
        child.kill()
        raise AssertionError("the orphan outlived its pool's owner") from None
    assert "survived" not in log.read_text()


def test_a_pool_process_of_a_live_owner_that_is_not_its_parent_keeps_running(tmp_path):
    import os
    import subprocess

    from core.config import ROOT
    from core.parallel import WATCH_ENV

    keeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdin=subprocess.DEVNULL)
    try:
        code = "import core.parallel; print('survived', flush=True)"
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, PYTHONPATH=str(ROOT), **{WATCH_ENV: str(keeper.pid)}))
        assert out.returncode == 0 and out.stdout.strip() == "survived", out.stderr[-500:]
    finally:
        keeper.kill()
        keeper.wait(timeout=30)

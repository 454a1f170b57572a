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

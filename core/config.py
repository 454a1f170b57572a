"""Project-wide paths and audio constants. Where a model trains is the model's to say (`Model.training_device`)."""

from __future__ import annotations

import os
from pathlib import Path

#: Repository root (the folder holding app.py) when running from a checkout or an editable install.
ROOT = Path(__file__).resolve().parent.parent
#: True in a checkout; False when `core` was installed by pip into site-packages, whose parent
#: folder is shared with every other package and must never receive Songscape's data.
IN_CHECKOUT = (ROOT / "app.py").is_file()
_USER_DATA = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "songscape"
#: Generated data: demo corpus, caches, dashboard runs. Ignored by git.
DATA_DIR = Path(os.environ.get("SONGSCAPE_DATA", ROOT / "data" if IN_CHECKOUT else _USER_DATA))
#: Default location of the demo corpus.
DEMO_DIR = DATA_DIR / "demo"
#: On-disk caches (features, latents, projections).
CACHE_DIR = Path(os.environ.get("SONGSCAPE_CACHE", DATA_DIR / "cache"))
#: Shipped, ready-made checkpoints: the checkout's folder (an installed package carries none; copy
#: them into DATA_DIR / "checkpoints" to have them listed).
CHECKPOINT_DIR = ROOT / "checkpoints" if IN_CHECKOUT else DATA_DIR / "checkpoints"
#: Checkpoints saved from the dashboard.
RUNS_DIR = DATA_DIR / "runs"

def numba_cache_dir() -> Path | None:
    """Where numba should keep the kernels it compiles: ``DATA_DIR / "cache" / "numba"``, created; None when it
    cannot be created (a read-only disk: numba then keeps its own default).

    numba reads the folder from the environment (``NUMBA_CACHE_DIR``), so only a program's entry point hands it
    over (app.py, ``python -m core``; scripts/_env.sh for the scripts), before numba loads: the library never
    changes the process environment.
    """
    folder = DATA_DIR / "cache" / "numba"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder


#: Sample rate of every clip inside the pipeline (GTZAN's rate).
SAMPLE_RATE = 22050


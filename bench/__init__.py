"""Benchmarks: each file is a script run from the repository root as ``python -m bench.NAME``.

Running them as modules of this package puts the root on ``sys.path`` (so ``core`` and ``ui``
import as they do for the dashboard) without any path edits in the files.
"""

import os
from pathlib import Path

# librosa and umap compile numba kernels into an on-disk cache: keep it in the checkout's data folder
# (scripts/_env.sh does the same), set before any benchmark imports numba.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent / "data" / "cache" / "numba"))

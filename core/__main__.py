"""`python -m core ...`: the command-line entry point."""

import os
import sys

from core import config
from core.cli import main

if __name__ == "__main__":
    # numba reads its cache folder from the environment when it loads (librosa, UMAP and the neighbour graph
    # compile kernels into it): the entry point, not the library, points it at data/cache/numba so compiled
    # kernels outlive the process, unless the caller chose a folder.
    if "NUMBA_CACHE_DIR" not in os.environ and (folder := config.numba_cache_dir()) is not None:
        os.environ["NUMBA_CACHE_DIR"] = str(folder)
    sys.exit(main())

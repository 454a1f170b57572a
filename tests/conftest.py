"""Shared fixtures: the real shared data, and a tiny demo corpus built once per session."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SONGSCAPE_SHARED", ROOT.parent / "shared" / "data"))

# Each test worker keeps its own compiled numba kernels. Two workers that compile the same librosa kernel
# into one folder at the same moment can leave an index that points at the other's machine code; every
# later load of it then crashes the process (seen in a fresh clone: a segmentation fault in librosa's beat
# tracker, twice, until the folder was removed). numba reads the folder once, when it is first imported.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER and "numba" not in sys.modules:
    _base = os.environ.get("NUMBA_CACHE_DIR") or tempfile.gettempdir()
    os.environ["NUMBA_CACHE_DIR"] = str(Path(_base) / f"test-worker-{_WORKER}")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Every test session gets its own cache folder, so tests never read a stale cache."""
    cache = tmp_path_factory.mktemp("cache")
    os.environ["SONGSCAPE_CACHE"] = str(cache)
    os.environ["SONGSCAPE_NO_WARMUP"] = "1"  # no background numba compilation competing with the tests
    import core.config

    core.config.CACHE_DIR = cache
    yield cache


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real reference data beside the checkout. Missing: skip locally, fail under CI."""
    if not (SHARED / "README.md").exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared data not found at {SHARED}")
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED

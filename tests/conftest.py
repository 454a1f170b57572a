"""Shared fixtures: the real shared data, and a tiny demo corpus built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SONGSCAPE_SHARED", ROOT.parent / "shared" / "data"))


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

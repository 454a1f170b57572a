"""The project's one on-disk array cache (features, latents, projections).

Layout under the root (default ``core.config.CACHE_DIR / "features"``)::

    <kind>/<ab>/<content sha1>-<params hash>.npy   features of one audio file
    arrays/<ab>/<sha1 of key>.npy                   arrays stored under any string key
    paths/<ab>/<sha1 of path|size|mtime>.txt        memo: audio file -> content sha1

* Feature entries are keyed by the **content** of the audio file (sha1 of its
  bytes), so a renamed or copied file is still a hit and an edited one is a
  miss. Hashing a file is memoised by ``(path, size, mtime)``, in memory and on
  disk (:mod:`core.corpus.filehash`), so a warm run does not re-read the audio.
* Values are plain ``.npy`` files, read with ``allow_pickle=False``.
* Writes go through :func:`core.io.atomic_write`. Concurrent writers of the
  same entry are harmless (the last one wins).
* A corrupt entry (truncated, garbage, wrong header) is detected on read,
  deleted and reported as a miss, so the caller recomputes it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from core import config
from core.corpus.filehash import file_hash
from core.io import atomic_write


def params_hash(params: dict[str, Any] | None) -> str:
    """Short stable hash of a JSON-safe parameter dict (None and {} hash alike)."""
    text = json.dumps(params or {}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


class FeatureCache:
    """Arrays on disk, keyed by audio content + feature kind + params, or by any string.

    Parameters
    ----------
    root : folder of the cache; None: ``core.config.CACHE_DIR / "features"``,
        read when the cache is created (so tests and the app can redirect it).
    """

    def __init__(self, root: str | Path | None = None):
        if root is None:
            root = Path(config.CACHE_DIR) / "features"
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FeatureCache(root={str(self.root)!r})"

    # ------------------------------------------------------------ file hashes
    def file_hash(self, path: str | Path) -> str:
        """sha1 of the file's bytes, memoised by (absolute path, size, mtime) under ``root / "paths"``."""
        return file_hash(path, memo_dir=self.root / "paths")

    # --------------------------------------------------------------- features
    def feature_path(self, path: str | Path, kind: str, params: dict[str, Any] | None = None) -> Path:
        """Where the ``kind`` features of audio file ``path`` (with ``params``) are stored."""
        return self._sharded(kind, f"{self.file_hash(path)}-{params_hash(params)}", ".npy")

    def get(self, path: str | Path, kind: str, params: dict[str, Any] | None = None) -> np.ndarray | None:
        """Cached features of an audio file, or None (missing or corrupt)."""
        return self._load(self.feature_path(path, kind, params))

    def put(self, path: str | Path, kind: str, params: dict[str, Any] | None, value: np.ndarray) -> None:
        """Store the features of an audio file."""
        self._save(self.feature_path(path, kind, params), value)

    # ----------------------------------------------------------- string keys
    def array_path(self, key: str) -> Path:
        return self._sharded("arrays", hashlib.sha1(key.encode("utf-8")).hexdigest(), ".npy")

    def get_array(self, key: str) -> np.ndarray | None:
        """The array stored under ``key``, or None (missing or corrupt)."""
        return self._load(self.array_path(key))

    def put_array(self, key: str, value: np.ndarray) -> None:
        """Store ``value`` under ``key`` (any string), replacing what was there."""
        self._save(self.array_path(key), value)

    # ------------------------------------------------------------ maintenance
    def clear(self) -> None:
        """Delete every entry of this cache."""
        if self.root.exists():
            shutil.rmtree(self.root)

    # -------------------------------------------------------------- internals
    def _sharded(self, folder: str, name: str, suffix: str) -> Path:
        return self.root / folder / name[:2] / f"{name}{suffix}"

    def _load(self, file: Path) -> np.ndarray | None:
        try:
            with open(file, "rb") as fh:
                value = np.load(fh, allow_pickle=False)
                if not isinstance(value, np.ndarray) or fh.read(1):  # trailing bytes: not what we wrote
                    raise ValueError("unexpected content")
            return value
        except FileNotFoundError:
            return None
        except Exception:  # truncated, garbage, wrong header: drop it and recompute
            try:
                file.unlink()
            except OSError:
                pass
            return None

    def _save(self, file: Path, value: np.ndarray) -> None:
        value = np.asarray(value)
        if value.dtype == object:
            raise TypeError("the feature cache stores numeric arrays only, not object arrays")
        atomic_write(file, lambda fh: np.save(fh, value, allow_pickle=False))

"""The project's one on-disk array cache (features, latents, projections).

Layout under the root (default ``core.config.CACHE_DIR / "features"``)::

    <kind>/<ab>/<content sha1>-<params hash>.npy   features of one audio file
    arrays/<ab>/<sha1 of key>.npy                   arrays stored under any string key
    paths/<ab>/<sha1 of path|size|mtime>.txt        memo: audio file -> content sha1

* Feature entries are keyed by the **content** of the audio file (sha1 of its
  bytes), so a renamed or copied file is still a hit and an edited one is a
  miss. Hashing a file is memoised by ``(path, size, mtime)``, in memory and on
  disk (:mod:`core.filehash`), so a warm run does not re-read the audio.
* An entry is a sequence of ``.npy`` records (read with ``allow_pickle=False``):
  first a JSON record of the entry's **key** (which file, kind and parameters,
  or which string key, it was written for), the arrays' names and the
  **sha256** of every array's dtype, shape and bytes; then the arrays.
* Reads check both: an entry whose content does not match its checksum (a
  flipped bit, a truncated or garbage file) or that was written for another key
  (another song's array copied over it) is deleted and reported as a miss, so
  the caller recomputes it.
* Writes go through :func:`core.io.atomic_write`. Concurrent writers of the
  same entry are harmless (the last one wins); temporary files that a killed
  writer left in an entry's folder are removed once they are an hour old.
* :meth:`FeatureCache.get_or_compute` computes a missing entry once per process: threads
  asking for the same key meanwhile (two dashboard sessions, a session and the background
  warm-up) wait for it and are shown the first one's progress.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from core import config
from core.filehash import file_hash
from core.io import atomic_write, clean_stale_temps


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
    def feature_key(self, path: str | Path, kind: str, params: dict[str, Any] | None = None) -> str:
        """The key of the ``kind`` features of audio file ``path``: ``<kind>/<content sha1>-<params hash>``."""
        return f"{kind}/{self.file_hash(path)}-{params_hash(params)}"

    def feature_path(self, path: str | Path, kind: str, params: dict[str, Any] | None = None) -> Path:
        """Where the ``kind`` features of audio file ``path`` (with ``params``) are stored."""
        return self._feature_file(self.feature_key(path, kind, params))

    def get(self, path: str | Path, kind: str, params: dict[str, Any] | None = None) -> np.ndarray | None:
        """Cached features of an audio file, or None (missing, corrupt, or written for another file)."""
        key = self.feature_key(path, kind, params)
        found = self._load(self._feature_file(key), key)
        return None if found is None else found.get("value")

    def put(self, path: str | Path, kind: str, params: dict[str, Any] | None, value: np.ndarray) -> None:
        """Store the features of an audio file."""
        key = self.feature_key(path, kind, params)
        self._save(self._feature_file(key), key, {"value": value})

    # ----------------------------------------------------------- string keys
    def array_path(self, key: str) -> Path:
        return self._sharded("arrays", hashlib.sha1(key.encode("utf-8")).hexdigest(), ".npy")

    def get_array(self, key: str) -> np.ndarray | None:
        """The array stored under ``key``, or None (missing or corrupt)."""
        found = self.get_arrays(key)
        return None if found is None else found.get("value")

    def put_array(self, key: str, value: np.ndarray) -> None:
        """Store ``value`` under ``key`` (any string), replacing what was there."""
        self.put_arrays(key, {"value": value})

    def get_arrays(self, key: str) -> dict[str, np.ndarray] | None:
        """The named arrays stored together under ``key``, or None (missing or corrupt)."""
        return self._load(self.array_path(key), key)

    def put_arrays(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        """Store several named arrays under ``key`` as one entry (read back together or not at all)."""
        self._save(self.array_path(key), key, arrays)

    def get_or_compute(self, key: str, compute: Callable[[Callable[..., None]], dict[str, np.ndarray]], *,
                       valid: Callable[[dict[str, np.ndarray]], bool] | None = None,
                       progress: Callable[..., None] | None = None) -> dict[str, np.ndarray]:
        """The named arrays under ``key``; when missing, corrupt or not ``valid(arrays)``, ``compute(progress)``
        makes them and they are stored.

        Threads of one process that ask for the same key while it is being computed compute it once: the
        others wait for the entry and meanwhile pass the first one's last ``progress(done, total, message)``
        on to their own ``progress``. If the first one fails (its exception is its own), a waiter computes.
        """
        token = (str(self.root), key)

        def stored() -> dict[str, np.ndarray] | None:
            hit = self.get_arrays(key)
            return hit if hit is not None and (valid is None or valid(hit)) else None

        while True:
            if (hit := stored()) is not None:
                return hit
            with _COMPUTING_LOCK:
                running = _COMPUTING.get(token)
                if running is None:
                    running = _COMPUTING[token] = _Computing()
                    break
            while not running.finished.wait(0.25):
                if progress is not None and running.last is not None:
                    progress(*running.last)

        def report(done: int, total: int, message: str = "") -> None:
            running.last = (done, total, message)
            if progress is not None:
                progress(done, total, message)

        try:
            if (hit := stored()) is not None:  # another thread may have stored it between our miss and taking the key
                return hit
            arrays = compute(report)
            self.put_arrays(key, arrays)
        finally:
            with _COMPUTING_LOCK:
                _COMPUTING.pop(token, None)
            running.finished.set()
        return arrays

    # ------------------------------------------------------------ maintenance
    def clear(self) -> None:
        """Delete every entry of this cache."""
        if self.root.exists():
            shutil.rmtree(self.root)

    # -------------------------------------------------------------- internals
    def _feature_file(self, key: str) -> Path:
        kind, name = key.split("/", 1)
        return self._sharded(kind, name, ".npy")

    def _sharded(self, folder: str, name: str, suffix: str) -> Path:
        return self.root / folder / name[:2] / f"{name}{suffix}"

    def _load(self, file: Path, key: str) -> dict[str, np.ndarray] | None:
        try:
            with open(file, "rb") as fh:
                meta = json.loads(np.load(fh, allow_pickle=False).tobytes().decode("utf-8"))
                if not isinstance(meta, dict) or meta.get("key") != key:
                    raise ValueError("written for another key")
                arrays = {name: np.load(fh, allow_pickle=False) for name in meta["names"]}
                if fh.read(1):
                    raise ValueError("trailing bytes: not what was written")
            for name, value in arrays.items():
                if not isinstance(value, np.ndarray) or _checksum(value) != meta["sha256"][name]:
                    raise ValueError(f"checksum of {name} does not match")
            return arrays
        except FileNotFoundError:
            return None
        except Exception:  # truncated, garbage, flipped bits, another entry's content: drop it and recompute
            try:
                file.unlink()
            except OSError:
                pass
            return None

    def _save(self, file: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
        arrays = {name: np.asarray(value) for name, value in arrays.items()}
        if any(v.dtype == object for v in arrays.values()):
            raise TypeError("the feature cache stores numeric arrays only, not object arrays")
        meta = {"key": key, "names": list(arrays), "sha256": {name: _checksum(v) for name, v in arrays.items()}}
        record = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)

        def write(fh) -> None:
            np.save(fh, record, allow_pickle=False)
            for value in arrays.values():
                np.save(fh, value, allow_pickle=False)

        clean_stale_temps(file.parent)
        atomic_write(file, write)


class _Computing:
    """An entry being computed in this process: its last progress report, and whether it has ended."""

    def __init__(self) -> None:
        self.finished = threading.Event()
        self.last: tuple[int, int, str] | None = None


_COMPUTING: dict[tuple[str, str], _Computing] = {}
_COMPUTING_LOCK = threading.Lock()


def _checksum(value: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and bytes."""
    value = np.ascontiguousarray(value)
    h = hashlib.sha256(f"{value.dtype.str}{value.shape}".encode())
    h.update(value.tobytes())
    return h.hexdigest()

"""Feature extraction on a Dask cluster: the ``cluster=`` path of :func:`core.features.extract.extract`.

:func:`compute_on_cluster` runs the per-clip function ``work(path, kind, params)``
(the same one the local pool runs) on the workers of a ``--cluster``
(:mod:`core.distributed`) and yields ``(path, features or None, reason or None)``
in completion order, once per audio file, so the caller ticks its progress and
fills its results exactly as with the local pool.

The feature cache, two modes:

* default: workers only compute; the features come back to the client, which
  writes its own cache (nothing on the workers needs the cache folder);
* ``cache_root`` given (``--shared-cache``): each worker also writes the entry
  into that folder itself, so the cache is filled even if the client stops. The
  folder must be mounted at the **same path on every worker and the client**,
  and the file system must support an atomic rename within a folder (POSIX local
  disks and NFSv4 do; object stores mounted as folders, s3fs/gcsfuse, do not).
  Every worker is checked for write access before any work is sent.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from core.distributed import open_client, parse_cluster, run_keyed
from core.errors import BadInputError
from core.cache import FeatureCache

Work = Callable[[str, str, "dict | None"], "tuple[str, np.ndarray | None, str | None]"]


def compute_on_cluster(paths: list[str], *, work: Work, kind: str, params: dict | None, cluster: str,
                       cache_root: str | Path | None = None) -> Iterator[tuple[str, np.ndarray | None, str | None]]:
    """``work(path, kind, params)`` for every path on ``cluster``; yields one outcome per path.

    Parameters
    ----------
    paths : unique audio paths (as the workers see them)
    work : module-level function returning ``(path, X or None, reason or None)``, never raising
    kind, params : passed to ``work``
    cluster : ``local:N`` or ``tcp://HOST:PORT``
    cache_root : folder of a feature cache shared by every worker (they write it), or None

    Yields
    ------
    (path, X, None) or (path, None, reason); a clip whose task failed on a worker comes back
    with the worker's message as the reason
    """
    spec = parse_cluster(cluster)
    if not paths:
        return
    with open_client(spec) as client:
        kwargs: dict = {"kind": kind, "params": params}
        fn = work
        if cache_root is not None:
            _check_shared_cache(client, Path(cache_root))
            fn = work_and_store
            kwargs.update(work=work, cache_root=str(cache_root))
        items = {p: (p,) for p in paths}
        # one clip per host first: librosa's numba kernels are compiled into an on-disk cache that
        # concurrent first calls on one machine could corrupt (see extract()'s local pool)
        for path, value, message in run_keyed(client, fn, items, name=f"songscape-{kind}", warm_up=True,
                                              **kwargs):
            yield (path, None, message) if message is not None else value


def work_and_store(path: str, kind: str, params: dict | None, *, work: Work,
                   cache_root: str) -> tuple[str, np.ndarray | None, str | None]:
    """Runs on a worker: ``work(...)``, then write the features into the shared cache."""
    path, X, reason = work(path, kind, params)
    if X is not None:
        try:
            FeatureCache(cache_root).put(path, kind, params, X)
        except OSError:
            pass  # a full or read-only disk only costs the cache; the client still gets X
    return path, X, reason


def cache_writable(root: str) -> str:
    """Runs on each worker: "" when ``root`` is a folder this process can write into, else why not."""
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".songscape-probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return ""


def _check_shared_cache(client, root: Path) -> None:
    problems = {w: why for w, why in client.run(cache_writable, str(root)).items() if why}
    if problems:
        listed = "; ".join(f"{w}: {why}" for w, why in sorted(problems.items())[:3])
        raise BadInputError(root, f"--shared-cache: this feature cache folder is not writable on "
                                  f"{len(problems)} Dask worker(s) ({listed}); mount it at the same path "
                                  "on every worker, or drop --shared-cache")

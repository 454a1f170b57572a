"""Batch feature extraction for a corpus: all cores, cached, bad clips skipped and listed.

:func:`extract` turns every track of a :class:`~core.corpus.Corpus` into one row
of features:

* ``kind="gtzan57"``: the 57-value GTZAN vector (:func:`core.features.gtzan57.gtzan57`).
  A corpus that ships precomputed features (``corpus.features57``) is used as is.
* ``kind="mel"``: the ``(n_mels, n_frames)`` log-mel image (:func:`core.features.mel.log_mel`).
* ``kind="mel_clip"``: the whole clip's log-mel (:func:`core.features.mel.clip_log_mel`), of varying
  length: the arrays are only computed into the cache (``X`` stays empty, memory stays flat);
  :mod:`core.features.melstore` packs them into one memory-mapped store.

Each clip's features are looked up in the :class:`~core.cache.FeatureCache`
first, so a second run only reads the cache. Misses are computed in a process
pool (``n_jobs`` workers, default: every core; small batches run in-process to
avoid the pool's start-up cost). A clip that cannot be used is listed in
``FeatureSet.skipped`` with its path and the reason; the rest of the batch
completes. Callers align on ``FeatureSet.track_ids``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import Counter
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from core.audio import load_audio
from core.corpus import FEATURE_NAMES, Corpus
from core.errors import BadInputError, OutputError, Skipped
from core.cache import FeatureCache
from core.features.distributed import compute_on_cluster
from core.features.gtzan57 import gtzan57
from core.features.mel import CLIP_PARAMS, MelParams, clip_log_mel, log_mel
from core.parallel import process_pool
from core.progress import Progress

KINDS = ("gtzan57", "mel", "mel_clip")

#: Batches with at most this many clips to compute run in-process: starting the
#: workers costs about as much as computing this many 30 s clips on one core.
IN_PROCESS_MAX = 8


@dataclass
class FeatureSet:
    """Features of the tracks that could be used, in corpus order.

    ``X`` has shape ``(n, 57)`` (float64) for ``gtzan57`` and ``(n, n_mels, n_frames)``
    (float32, dB) for ``mel``; row ``i`` belongs to ``track_ids[i]``.
    """

    track_ids: list[str]
    X: np.ndarray
    skipped: list[Skipped] = field(default_factory=list)
    kind: str = "gtzan57"
    params: MelParams | None = None

    def __len__(self) -> int:
        return len(self.track_ids)

    def to_frame(self) -> pd.DataFrame:
        """The 57 features as a DataFrame indexed by track_id (``gtzan57`` only)."""
        if self.kind != "gtzan57":
            raise ValueError(f"to_frame() needs gtzan57 features, these are {self.kind!r}")
        return pd.DataFrame(self.X, index=pd.Index(self.track_ids, name="track_id"), columns=list(FEATURE_NAMES))


def _cache_params(kind: str, params: MelParams | None) -> dict | None:
    return params.to_dict() if kind in ("mel", "mel_clip") and params is not None else None


def compute_features(path: str, kind: str, params: dict | None = None) -> np.ndarray:
    """Load one audio file and compute its ``kind`` features (raises BadInputError)."""
    if kind == "gtzan57":
        return gtzan57(y=load_audio(path))
    if kind == "mel_clip":
        p = MelParams.from_dict(params) if params else CLIP_PARAMS
        return clip_log_mel(y=load_audio(path, sr=p.sr), params=p)
    p = MelParams.from_dict(params) if params else MelParams()
    y = load_audio(path, sr=p.sr)
    return log_mel(y=y, params=p)


def _work(path: str, kind: str, params: dict | None) -> tuple[str, np.ndarray | None, str | None]:
    """One clip, never raising: (path, features or None, reason or None)."""
    try:
        X = compute_features(path, kind, params)
    except BadInputError as exc:
        return path, None, exc.problem
    except MemoryError:
        return path, None, "not enough memory to decode this file"
    except Exception as exc:  # a library failing on odd audio must not stop the batch
        return path, None, f"feature extraction failed ({type(exc).__name__}: {exc})"[:300]
    if not np.isfinite(X).all():
        return path, None, "features are not finite (NaN or inf)"
    return path, X, None


#: Imported once by the fork server, so that workers start with them loaded (librosa loads lazily).
#: ``core.parallel`` first: it makes the fork server exit when this process dies, even while it preloads.
_PRELOAD = ["core.parallel", "core.audio", "core.features.extract", "core.features.gtzan57", "core.features.median",
            "core.features.mel", "soundfile", "soxr", "scipy.sparse", "scipy.signal", "librosa.core",
            "librosa.feature", "librosa.onset", "librosa.beat", "librosa.filters", "librosa.util"]


def _pool_context():
    """Workers never fork the caller (torch / streamlit threads make that unsafe).

    Where available they fork from a clean "forkserver" process that has already
    imported the extractors, so only the first pool of a process pays the imports;
    elsewhere (Windows) they are spawned.
    """
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return mp.get_context("spawn")


def _init_worker() -> None:
    """Each worker uses one thread: the pool already fills every core."""
    threadpool_limits(1)


def extract(corpus: Corpus, *, kind: Literal["gtzan57", "mel"], params: MelParams | None = None,
            n_jobs: int | None = None, progress: Progress | None = None,
            cache: FeatureCache | None | bool = True, cluster: str | None = None,
            shared_cache: bool = False) -> FeatureSet:
    """Features of every track of ``corpus``; bad clips are skipped and listed.

    Parameters
    ----------
    corpus : Corpus
    kind : "gtzan57" or "mel"
    params : MelParams or None
        for ``mel`` (None: the defaults); ignored for ``gtzan57``
    n_jobs : int or None
        worker processes (None: ``os.cpu_count()``); 1 runs everything in-process
    progress : callable ``progress(done, total, message)`` or None
    cache : True (the default cache), a FeatureCache, or False/None (no cache)
    cluster : ``local:N`` or ``tcp://HOST:PORT`` to compute the misses on a Dask cluster
        (:mod:`core.features.distributed`), or None for the local pool; ``n_jobs`` is then ignored
    shared_cache : with ``cluster``: every worker sees the cache folder at the same path and
        writes its entries itself (otherwise the client writes them)

    Returns
    -------
    FeatureSet
        ``X`` of shape ``(n, 57)`` or ``(n, n_mels, n_frames)`` for the ``n`` usable
        tracks, ``skipped`` for the others (``corpus.skipped``, what the loader left
        out, is not repeated)
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if shared_cache and (cluster is None or cache in (None, False)):
        raise ValueError("shared_cache needs a cluster and a cache")
    if kind == "mel":
        params = params or MelParams()
    elif kind == "mel_clip":
        params = params or CLIP_PARAMS
    else:
        params = None
    ids = corpus.track_ids

    if kind == "gtzan57" and corpus.features57 is not None:
        X = corpus.features57.loc[ids, list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
        if progress:
            progress(len(ids), len(ids), "precomputed features")
        return FeatureSet(list(ids), X, [], kind, None)

    if cache is True:
        cache = FeatureCache()
    elif cache is False:
        cache = None
    cparams = _cache_params(kind, params)
    total = len(ids)
    done = 0
    results: dict[str, np.ndarray] = {}
    reasons: dict[str, str] = {}
    todo: list[str] = []
    paths = corpus.tracks["path"].tolist()
    uses = Counter(paths)
    expected = (len(FEATURE_NAMES),) if kind == "gtzan57" else (params.n_mels, params.n_frames)
    keep = kind != "mel_clip"  # whole clips stay in the cache only (flat memory)

    def usable(hit: np.ndarray | None) -> bool:
        if hit is None or not np.isfinite(hit).all():
            return False
        return hit.shape[0] == params.n_mels and hit.ndim == 2 if kind == "mel_clip" else hit.shape == expected

    def tick(message: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total, message)

    if progress:
        progress(0, total, "")
    for path in dict.fromkeys(p for p in paths if p):  # unique, in order
        hit = None
        if cache is not None:
            try:
                hit = cache.get(path, kind, cparams)
            except OSError:
                hit = None  # unreadable file: load_audio reports why
        if usable(hit):
            results[path] = hit if keep else True
        else:
            todo.append(path)
    for _ in range(sum(1 for p in paths if p in results)):
        tick("cached")
    for p in paths:
        if not p:
            tick("no audio")

    def finish(path: str, X: np.ndarray | None, reason: str | None, *, store: bool = True) -> None:
        if X is None:
            reasons[path] = reason or "unknown error"
        else:
            results[path] = X if keep else True
            if cache is not None and store:
                try:
                    cache.put(path, kind, cparams, X)
                except (OSError, OutputError):
                    pass  # a full or read-only disk only costs the cache
        for _ in range(uses[path]):
            tick(os.path.basename(path))

    if cluster is not None and todo:
        root = cache.root if shared_cache else None
        for path, X, reason in compute_on_cluster(todo, work=_work, kind=kind, params=cparams, cluster=cluster,
                                                  cache_root=root):
            finish(path, X, reason, store=not shared_cache)
        todo = []
    n_jobs = max(1, int(n_jobs or os.cpu_count() or 1))
    use_pool = n_jobs > 1 and len(todo) > IN_PROCESS_MAX
    if use_pool:
        # Prime numba here first: librosa's kernels are compiled and written to numba's on-disk
        # cache by this process alone, so the workers load them instead of compiling and
        # writing the same cache entries at the same time (concurrent writers can leave an
        # index that points at another signature's code, which crashes a later process).
        if progress:
            progress(done, total, "loading the audio libraries (compiled on a machine's first run)")
        while todo:
            result = _work(todo.pop(0), kind, cparams)
            finish(*result)
            if result[1] is not None:
                break
    if not use_pool:
        for path in todo:
            finish(*_work(path, kind, cparams))
    elif todo:
        with process_pool(max_workers=min(n_jobs, len(todo)), mp_context=_pool_context(),
                          initializer=_init_worker) as pool:
            futures = {pool.submit(_work, path, kind, cparams): path for path in todo}
            for fut in as_completed(futures):
                try:
                    finish(*fut.result())
                except Exception as exc:  # a worker that died (e.g. killed for memory)
                    finish(futures[fut], None, f"feature extraction failed ({type(exc).__name__}: {exc})")

    keep_ids, rows, skipped = [], [], []
    for tid, path in zip(ids, paths):
        if not path:
            skipped.append(Skipped(tid, "no audio file for this track"))
        elif path in results:
            keep_ids.append(tid)
            rows.append(results[path])
        else:
            skipped.append(Skipped(path, reasons.get(path, "unknown error")))
    if kind == "gtzan57":
        X = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURE_NAMES))
    elif kind == "mel_clip":
        X = np.zeros(0, np.float32)
    else:
        X = (np.stack(rows).astype(np.float32, copy=False) if rows
             else np.zeros((0, params.n_mels, params.n_frames), np.float32))
    return FeatureSet(keep_ids, X, skipped, kind, params)

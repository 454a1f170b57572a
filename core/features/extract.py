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
    params = _checked_params(kind, params, cache=cache, cluster=cluster, shared_cache=shared_cache)
    if kind == "gtzan57" and corpus.features57 is not None:
        return _precomputed(corpus, progress)
    run = _Extraction(corpus, kind, params, _open_cache(cache), progress)
    todo = run.read_cache()
    if cluster is not None and todo:
        run.compute_on_cluster(todo, cluster=cluster, shared_cache=shared_cache)
        todo = []
    run.compute_here(todo, n_jobs=max(1, int(n_jobs or os.cpu_count() or 1)))
    return run.feature_set()


def _checked_params(kind: str, params: MelParams | None, *, cache, cluster: str | None,
                    shared_cache: bool) -> MelParams | None:
    """The mel parameters ``kind`` uses (its defaults for None; None for gtzan57), or ValueError for
    arguments that do not go together."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if shared_cache and (cluster is None or cache in (None, False)):
        raise ValueError("shared_cache needs a cluster and a cache")
    if kind == "mel":
        return params or MelParams()
    if kind == "mel_clip":
        return params or CLIP_PARAMS
    return None


def _precomputed(corpus: Corpus, progress: Progress | None) -> FeatureSet:
    """The 57 features a corpus ships (``corpus.features57``), in corpus order."""
    ids = corpus.track_ids
    X = corpus.features57.loc[ids, list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
    if progress:
        progress(len(ids), len(ids), "precomputed features")
    return FeatureSet(list(ids), X, [], kind="gtzan57", params=None)


def _open_cache(cache: FeatureCache | None | bool) -> FeatureCache | None:
    """``extract``'s ``cache`` argument as a cache or None: True is the default cache, False none."""
    if cache is True:
        return FeatureCache()
    if cache is False:
        return None
    return cache


class _Extraction:
    """One run of :func:`extract` on the tracks that need audio: what is done, what failed and why.

    Progress counts tracks, not files: a file that several tracks share ticks once for each. The
    steps, in order: :meth:`read_cache`, then :meth:`compute_on_cluster` and/or :meth:`compute_here`
    for the misses (each finished clip goes through :meth:`finish`), then :meth:`feature_set`.
    """

    def __init__(self, corpus: Corpus, kind: str, params: MelParams | None, cache: FeatureCache | None,
                 progress: Progress | None):
        self.corpus, self.kind, self.params, self.cache, self.progress = corpus, kind, params, cache, progress
        self.cparams = _cache_params(kind, params)
        self.paths = corpus.tracks["path"].tolist()
        self.uses = Counter(self.paths)
        self.total, self.done = len(corpus.track_ids), 0
        self.results: dict[str, np.ndarray] = {}
        self.reasons: dict[str, str] = {}
        self.keep = kind != "mel_clip"  # whole clips stay in the cache only (flat memory)

    def tick(self, message: str) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total, message)

    def usable(self, hit: np.ndarray | None) -> bool:
        """Whether a cached array can be used as is (finite, of the shape this kind and these parameters give)."""
        if hit is None or not np.isfinite(hit).all():
            return False
        if self.kind == "mel_clip":
            return hit.shape[0] == self.params.n_mels and hit.ndim == 2
        expected = (len(FEATURE_NAMES),) if self.kind == "gtzan57" else (self.params.n_mels, self.params.n_frames)
        return hit.shape == expected

    def read_cache(self) -> list[str]:
        """Take every usable cache entry and tick its tracks and the tracks without audio; returns the
        files left to compute (unique, in corpus order)."""
        if self.progress:
            self.progress(0, self.total, "")
        todo = []
        for path in dict.fromkeys(p for p in self.paths if p):  # unique, in order
            hit = None
            if self.cache is not None:
                try:
                    hit = self.cache.get(path, self.kind, self.cparams)
                except OSError:
                    hit = None  # unreadable file: load_audio reports why
            if self.usable(hit):
                self.results[path] = hit if self.keep else True
            else:
                todo.append(path)
        for _ in range(sum(1 for p in self.paths if p in self.results)):
            self.tick("cached")
        for p in self.paths:
            if not p:
                self.tick("no audio")
        return todo

    def finish(self, path: str, X: np.ndarray | None, reason: str | None, *, store: bool = True) -> None:
        """Record one computed file (its features, or why it failed), cache it, tick its tracks."""
        if X is None:
            self.reasons[path] = reason or "unknown error"
        else:
            self.results[path] = X if self.keep else True
            if self.cache is not None and store:
                try:
                    self.cache.put(path, self.kind, self.cparams, X)
                except (OSError, OutputError):
                    pass  # a full or read-only disk only costs the cache
        for _ in range(self.uses[path]):
            self.tick(os.path.basename(path))

    def compute_on_cluster(self, todo: list[str], *, cluster: str, shared_cache: bool) -> None:
        """Compute ``todo`` on a Dask cluster; with ``shared_cache`` the workers write the cache entries."""
        root = self.cache.root if shared_cache else None
        for path, X, reason in compute_on_cluster(todo, work=_work, kind=self.kind, params=self.cparams,
                                                  cluster=cluster, cache_root=root):
            self.finish(path, X, reason, store=not shared_cache)

    def compute_here(self, todo: list[str], *, n_jobs: int) -> None:
        """Compute ``todo`` in this process, or, for more than :data:`IN_PROCESS_MAX` files and ``n_jobs``
        > 1, in a pool of workers once this process has computed one file first."""
        todo = list(todo)
        use_pool = n_jobs > 1 and len(todo) > IN_PROCESS_MAX
        if not use_pool:
            for path in todo:
                self.finish(*_work(path, self.kind, self.cparams))
            return
        # Prime numba here first: librosa's kernels are compiled and written to numba's on-disk
        # cache by this process alone, so the workers load them instead of compiling and
        # writing the same cache entries at the same time (concurrent writers can leave an
        # index that points at another signature's code, which crashes a later process).
        if self.progress:
            self.progress(self.done, self.total, "loading the audio libraries (compiled on a machine's first run)")
        while todo:
            result = _work(todo.pop(0), self.kind, self.cparams)
            self.finish(*result)
            if result[1] is not None:
                break
        if todo:
            self._compute_in_pool(todo, n_jobs=n_jobs)

    def _compute_in_pool(self, todo: list[str], *, n_jobs: int) -> None:
        with process_pool(max_workers=min(n_jobs, len(todo)), mp_context=_pool_context(),
                          initializer=_init_worker) as pool:
            futures = {pool.submit(_work, path, self.kind, self.cparams): path for path in todo}
            for fut in as_completed(futures):
                try:
                    self.finish(*fut.result())
                except Exception as exc:  # a worker that died (e.g. killed for memory)
                    self.finish(futures[fut], None, f"feature extraction failed ({type(exc).__name__}: {exc})")

    def feature_set(self) -> FeatureSet:
        """The usable tracks' features in corpus order, and the others listed with their reason."""
        keep_ids, rows, skipped = [], [], []
        for tid, path in zip(self.corpus.track_ids, self.paths):
            if not path:
                skipped.append(Skipped(tid, "no audio file for this track"))
            elif path in self.results:
                keep_ids.append(tid)
                rows.append(self.results[path])
            else:
                skipped.append(Skipped(path, self.reasons.get(path, "unknown error")))
        if self.kind == "gtzan57":
            X = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURE_NAMES))
        elif self.kind == "mel_clip":
            X = np.zeros(0, np.float32)
        else:
            X = (np.stack(rows).astype(np.float32, copy=False) if rows
                 else np.zeros((0, self.params.n_mels, self.params.n_frames), np.float32))
        return FeatureSet(keep_ids, X, skipped, self.kind, self.params)

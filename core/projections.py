"""2-D and 3-D projections of latent vectors for plotting: PCA, t-SNE and UMAP, cached on disk.

``project(Z, method=..., dim=...)`` returns float32 coordinates, shape=(n, dim): 2 or 3
dimensions for the dashboard's plots; PCA and UMAP also embed into more (``core
evaluate``'s UMAP(10) baseline goes through this same function).
Results are stored in the project's one on-disk cache
(:class:`core.cache.FeatureCache`) under a key made of a hash of the
bytes of ``Z`` (which covers the checkpoint and the corpus that produced it),
the method, ``dim``, ``random_state`` and every parameter, so the dashboard never
recomputes a projection it has seen.

Speed on 2,617 points (see BENCHMARKS.md, "Clustering and projections"):

* **UMAP** — neighbours are computed exactly with scikit-learn (fast on the
  low-dimensional latents) and handed to ``umap.UMAP(precomputed_knn=...)``,
  which skips pynndescent and its numba compilation; the layout runs
  ``n_epochs=200`` (UMAP's own default for large data; it uses 500 below 10,000
  points). Part of numba's compiled code is cached in ``NUMBA_CACHE_DIR`` (the
  entry points, app.py and ``python -m core``, point it at ``data/cache/numba``
  before numba loads, :func:`core.config.numba_cache_dir`; this module leaves the
  environment alone), but UMAP's layout functions are not cacheable: a process's
  first UMAP compiles them (10-25 s here); :func:`warm_up` does it
  ahead of time, in a background thread of the dashboard for instance.
* **t-SNE** — openTSNE with exact neighbours, Barnes–Hut gradients with
  ``theta=0.8`` (at this size faster than both FFT and theta 0.5, with the same
  trustworthiness), one thread (two threads were 4x slower on the 2-core machine),
  and a shorter schedule than sklearn's 250 + 750 iterations: 125
  early-exaggeration + 375 iterations.
* **Large corpora** — above :data:`TSNE_EXACT_MAX` points t-SNE switches to what scales
  (openTSNE's own advice): approximate neighbours (``neighbors="approx"``, Annoy) instead of
  an exact O(n²) search, and, in 2-D, FFT-interpolated gradients (O(n)) instead of Barnes–Hut
  (``theta`` is then unused; openTSNE's FFT has no 3-D). 100,000 points take minutes on one
  core; progress is reported and the result cached, so that is paid once per latent matrix.
  UMAP keeps exact scikit-learn neighbours (a k-d tree: seconds at 100,000 points in 8-D).
* **PCA** — scikit-learn; a latent with fewer dimensions than ``dim`` is padded
  with zero columns. PCA always fits every point (seconds at a million).
* **A sample laid out, the rest placed** — above ``layout_sample`` points (a setting,
  :data:`core.params.SPECS`, default 20,000) t-SNE and UMAP lay out a seeded uniform sample of that many
  points (``random_state`` draws it: :func:`layout_rows`) and :func:`place` puts every other point at the
  weighted mean of the layout positions of its :data:`PLACE_NEIGHBOURS` (5) nearest sampled points in the
  latent space (same metric as the layout; weights 1 / distance², so a point on top of a sampled point lands
  on it). Fitting every point took 154-419 s (t-SNE) and 135 s (UMAP) at 100,000 points here, hours at a
  million. The fitted models' own ``transform`` (openTSNE's ``TSNEEmbedding.transform``, ``UMAP.transform``)
  was measured instead and is too slow for a million points on this machine: about 300-470 s and 350 s per
  million points after a 5,000-20,000-point fit (UMAP's also needs its pynndescent index, minutes of numba
  compilation), while the placement takes seconds (2-D latents) to a minute (8-D). Measured against
  openTSNE's transform on 20,000 placed points (BENCHMARKS.md, "The Clusters and Latent pages at a million
  tracks"): the two placements are 0.15% of the map's radius apart (median; 3% on 8-D latents) and as
  trustworthy (trustworthiness 0.9996 both; 0.982 against 0.987 on 8-D). Points placed this way sit inside
  the layout's islands, and between them where their neighbours disagree; the layout is not refined around
  them.

Progress: ``progress(done, total, message)`` is called while UMAP's epochs and
t-SNE's iterations run.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from typing import Any

import numpy as np
from openTSNE import TSNE, affinity, nearest_neighbors
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from core.cache import FeatureCache
from core.params import SPECS, Spec
from core.progress import Progress

__all__ = ["METHODS", "PROJECTION_PARAMS", "TSNE_EXACT_MAX", "PLACE_NEIGHBOURS", "project", "cache_key", "warm_up",
           "layout_rows", "place"]

#: Bump when the algorithms or their defaults change, so old cache entries are not reused.
_VERSION = 2
#: Above this many points t-SNE uses approximate neighbours and (2-D) FFT gradients (see above).
TSNE_EXACT_MAX = 10_000
#: How many nearest sampled points :func:`place` averages (5 was as close to openTSNE's transform as 10, and
#: closer than 1: BENCHMARKS.md).
PLACE_NEIGHBOURS = 5
#: Share of a sampled projection's progress bar that the layout takes (the placement takes the rest).
_LAYOUT_SHARE = 0.7

#: Exposed parameters of each method: their specs (type, range, default and help: :data:`core.params.SPECS`).
PROJECTION_PARAMS: dict[str, dict[str, Spec]] = {
    method: {name: SPECS[name] for name in names}
    for method, names in {"pca": (),
                          "tsne": ("perplexity", "n_iter", "early_exaggeration_iter", "exaggeration", "theta",
                                   "layout_sample"),
                          "umap": ("n_neighbors", "min_dist", "n_epochs", "metric", "layout_sample")}.items()
}
METHODS = tuple(PROJECTION_PARAMS)


def cache_key(Z: np.ndarray, *, method: str, dim: int, random_state: int, params: dict[str, Any]) -> str:
    """The cache key of a projection: hash of Z's dtype, shape and bytes + method, dim, seed, params."""
    Z = np.ascontiguousarray(Z)
    h = hashlib.sha256()
    h.update(f"{Z.dtype.str}{Z.shape}".encode())
    h.update(Z.tobytes())
    spec = json.dumps({"v": _VERSION, "m": method, "d": dim, "rs": random_state, "p": params}, sort_keys=True)
    h.update(spec.encode())
    return f"projection-{method}{dim}d-{h.hexdigest()[:32]}"


def project(
    Z: np.ndarray,
    *,
    method: str,
    dim: int = 2,
    random_state: int = 0,
    progress: Progress | None = None,
    cache: bool = True,
    **params: Any,
) -> np.ndarray:
    """Project the rows of ``Z`` to ``dim`` dimensions with ``method`` (pca, tsne, umap).

    dim : 2 or 3 (t-SNE takes only these); PCA and UMAP take any dim >= 2.

    Z : np.ndarray, shape=(n, d), finite.
    params : any of ``PROJECTION_PARAMS[method]``; missing ones take their defaults.
    cache : read and write the on-disk cache.

    Returns np.ndarray, shape=(n, dim), float32.
    """
    if method not in PROJECTION_PARAMS:
        raise ValueError(f"unknown projection {method!r}; choose one of {list(METHODS)}")
    if dim not in (2, 3) and (method == "tsne" or not isinstance(dim, int) or dim < 2):
        raise ValueError(f"dim must be 2 or 3 (PCA and UMAP: any whole number >= 2), got {dim} for {method}")
    spec = PROJECTION_PARAMS[method]
    unknown = set(params) - set(spec)
    if unknown:
        raise ValueError(f"{method} has no parameter(s) {sorted(unknown)}; it takes {sorted(spec)}")
    values = {k: p.check(params.get(k, p.default), parameter=True) for k, p in spec.items()}
    Z = np.asarray(Z)
    if Z.ndim != 2:
        raise ValueError(f"latent matrix must be 2-D (n, d), got shape {Z.shape}")
    if not np.isfinite(Z).all():
        raise ValueError(f"latent matrix has {int((~np.isfinite(Z)).sum())} non-finite values")
    minimum = {"pca": 2, "tsne": 5, "umap": 5}[method]
    if len(Z) < minimum:
        raise ValueError(f"{method} needs at least {minimum} points, got {len(Z)}")

    report = progress or (lambda done, total, message="": None)
    computed = []
    sample = values.pop("layout_sample", None)
    sampled = sample is not None and len(Z) > sample
    name = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}[method]

    def compute(report) -> dict[str, np.ndarray]:
        computed.append(True)
        if method == "pca":
            out = _pca(Z.astype(np.float64), dim=dim, random_state=random_state)
        elif not sampled:
            out = _layout(method, Z.astype(np.float64), dim=dim, random_state=random_state, progress=report,
                          values=values)
        else:  # lay out a seeded sample, then place every other point beside its nearest sampled points
            rows = layout_rows(len(Z), sample, random_state=random_state)
            steps = 1000
            layout = _layout(method, Z[rows].astype(np.float64), dim=dim, random_state=random_state, values=values,
                             progress=lambda d, t, m="": report(int(steps * _LAYOUT_SHARE * d / max(t, 1)), steps,
                                                                f"{name} of a {sample:,}-point sample: {m}".rstrip(": ")))
            share = steps * _LAYOUT_SHARE
            out = place(Z, rows, layout, metric=values.get("metric", "euclidean"),
                        progress=lambda d, t, m="": report(min(steps - 1, int(share + (steps - share) * d / max(t, 1))),
                                                           steps, m))
        return {"value": np.ascontiguousarray(out, dtype=np.float32)}

    if cache:  # computed once per process: a second session asking meanwhile waits, shown the progress
        # The sample size enters the key only where it changes the result (more points than it), so the
        # projections of smaller latents cached before it existed are still found.
        key = cache_key(Z, method=method, dim=dim, random_state=random_state,
                        params=values | ({"layout_sample": sample} if sampled else {}))

        def fits(hit: dict) -> bool:
            return getattr(hit.get("value"), "shape", None) == (len(Z), dim)

        out = FeatureCache().get_or_compute(key, compute, progress=report, valid=fits)["value"]
    else:
        out = compute(report)["value"]
    report(1, 1, f"{method} done" if computed else f"{method} (cached)")
    return out.astype(np.float32, copy=False)


def layout_rows(n: int, size: int, *, random_state: int = 0) -> np.ndarray:
    """The rows a sampled projection lays out: ``size`` of ``n`` drawn uniformly without replacement with
    ``random_state``, sorted (all of them when ``n <= size``). Returns np.ndarray, shape=(min(n, size),), int64."""
    if n <= size:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(random_state).choice(n, size=int(size), replace=False)).astype(np.int64)


def place(Z: np.ndarray, rows: np.ndarray, layout: np.ndarray, *, neighbours: int = PLACE_NEIGHBOURS,
          metric: str = "euclidean", progress: Progress | None = None, chunk: int = 50_000) -> np.ndarray:
    """Every row of ``Z`` placed in a layout of the rows ``rows`` only.

    Z : (n, d) latents; rows : (m,) distinct rows of Z that were laid out; layout : (m, dim) their positions.

    A row of ``rows`` keeps its position. Every other row goes to the weighted mean of the positions of
    its ``neighbours`` nearest rows of ``rows`` (nearest in ``Z``'s space, with ``metric``), each weighted by
    1 / distance² (a point at distance 0 from a sampled point lands on it). The mean moves continuously with
    the point, so placed points do not pile up on the sampled ones. One neighbour search over the sample
    (scikit-learn), queried in chunks of ``chunk`` rows; ``progress(done, total, message)`` after each.

    Returns np.ndarray, shape=(n, dim), float32.
    """
    Z = np.asarray(Z)
    rows = np.asarray(rows, dtype=np.int64)
    layout = np.asarray(layout, dtype=np.float64)
    if layout.ndim != 2 or len(layout) != len(rows):
        raise ValueError(f"layout must be (len(rows), dim) = ({len(rows)}, dim), got {layout.shape}")
    if len(rows) == 0:
        raise ValueError("place needs at least one laid-out row")
    report = progress or (lambda done, total, message="": None)
    out = np.empty((len(Z), layout.shape[1]), dtype=np.float32)
    out[rows] = layout
    others = np.ones(len(Z), dtype=bool)
    others[rows] = False
    others = np.flatnonzero(others)
    k = int(min(neighbours, len(rows)))
    search = NearestNeighbors(n_neighbors=k, metric=metric).fit(Z[rows])
    total = len(others)
    for start in range(0, total, chunk):
        part = others[start:start + chunk]
        dist, idx = search.kneighbors(Z[part])
        weight = 1.0 / np.maximum(dist, 1e-12) ** 2
        out[part] = np.einsum("pk,pkj->pj", weight, layout[idx]) / weight.sum(axis=1, keepdims=True)
        report(min(start + len(part), total), total, f"placing the other {total:,} points")
    return out


def warm_up() -> None:
    """Compile UMAP's numba code now (about 10-25 s, once per process) on 100 random points.

    UMAP's layout functions are not cached by numba on disk, so a process's first
    UMAP pays the compilation. The dashboard can call this in a background thread
    at start-up so the user's first UMAP takes ~1 s. Nothing is written to the cache.
    """
    Z = np.random.default_rng(0).normal(size=(100, 4))
    for dim in (2, 3):
        project(Z, method="umap", dim=dim, cache=False, n_epochs=10)
    project(Z, method="tsne", cache=False, n_iter=50, early_exaggeration_iter=25)


# --------------------------------------------------------------------------- methods
def _layout(method: str, X: np.ndarray, *, dim: int, random_state: int, progress: Progress,
            values: dict[str, Any]) -> np.ndarray:
    """t-SNE or UMAP of every row of ``X`` (float64)."""
    run = _tsne if method == "tsne" else _umap
    return run(X, dim=dim, random_state=random_state, progress=progress, **values)


def _pca(X: np.ndarray, *, dim: int, random_state: int) -> np.ndarray:
    k = min(dim, X.shape[1], len(X))
    Y = PCA(n_components=k, random_state=random_state).fit_transform(X)
    if k < dim:
        Y = np.hstack([Y, np.zeros((len(X), dim - k))])
    return Y


def _exact_knn(X: np.ndarray, *, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices and distances of each point's k nearest points, itself first: shape=(n, k) each."""
    dist, idx = NearestNeighbors(n_neighbors=k - 1, metric=metric).fit(X).kneighbors()
    n = len(X)
    idx = np.hstack([np.arange(n)[:, None], idx])
    dist = np.hstack([np.zeros((n, 1)), dist])
    return idx.astype(np.int64), dist.astype(np.float32)


class _TqdmSink:
    """A file for umap's tqdm bar (bar_format "{n}/{total}") that forwards counts to ``progress``."""

    _pattern = re.compile(r"(\d+)/(\d+)")

    def __init__(self, progress: Progress, message: str):
        self.progress, self.message = progress, message

    def write(self, text: str) -> int:
        match = None
        for match in self._pattern.finditer(text):
            pass
        if match:
            done, total = int(match.group(1)), int(match.group(2))
            if 0 < total:
                self.progress(min(done, total - 1), total, self.message)
        return len(text)

    def flush(self) -> None:
        pass


def _umap(X, *, dim, random_state, progress, n_neighbors, min_dist, n_epochs, metric):
    progress(0, n_epochs, "UMAP: neighbours")
    k = int(min(n_neighbors, len(X) - 1))
    idx, dist = _exact_knn(X, k=k, metric=metric)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Imported on first use: importing umap compiles and loads numba code (seconds), which pages
        # that never ask for UMAP should not pay.
        import umap

        model = umap.UMAP(
            n_components=dim, n_neighbors=k, min_dist=min_dist, n_epochs=n_epochs, metric=metric,
            random_state=random_state, precomputed_knn=(idx, dist, None),
            init="spectral" if len(X) > dim + 2 else "random",
            verbose=False,
            tqdm_kwds={"disable": False, "file": _TqdmSink(progress, "UMAP: layout"),
                       "bar_format": "{n}/{total}", "mininterval": 0.1},
        )
        return model.fit_transform(X)


def _tsne(X, *, dim, random_state, progress, perplexity, n_iter, early_exaggeration_iter, exaggeration, theta):
    """openTSNE, optimised in chunks of 25 iterations so progress can be reported between them.

    The gradient-descent state (gains, update) lives in the embedding, so chunks
    continue one another exactly; openTSNE's own callbacks would also compute the
    KL divergence each time, which costs more than the iterations.

    The neighbour index is built here (the one openTSNE would choose: exact scikit-learn, or
    Annoy above ``TSNE_EXACT_MAX``) and handed over with the affinities, because openTSNE's own
    choice imports pynndescent just to see whether it is installed: about 17 s of numba
    compilation on a fresh machine (0.7 s per process after), for an index never used here.
    """
    chunk = 25
    total = int(n_iter + early_exaggeration_iter)
    perplexity = float(min(perplexity, max(1.0, (len(X) - 1) / 3)))
    progress(0, total, "t-SNE: affinities")
    large = len(X) > TSNE_EXACT_MAX
    tsne = TSNE(
        n_components=dim, perplexity=perplexity, n_iter=int(n_iter),
        early_exaggeration_iter=int(early_exaggeration_iter),
        exaggeration=None if exaggeration == 1.0 else exaggeration,
        neighbors="approx" if large else "exact",
        negative_gradient_method="fft" if large and dim == 2 else "bh", theta=theta,
        n_jobs=1, random_state=random_state, verbose=False,
    )
    k = min(len(X) - 1, int(3 * perplexity))  # openTSNE's MultiscaleMixture: 3 x the (clamped) perplexity
    index_class = nearest_neighbors.Annoy if large else nearest_neighbors.Sklearn
    knn = index_class(X, k, metric="euclidean", n_jobs=1, random_state=random_state, verbose=False)
    affinities = affinity.MultiscaleMixture(perplexities=perplexity, knn_index=knn, n_jobs=1, verbose=False)
    embedding = tsne.prepare_initial(X, affinities=affinities)
    done = 0
    for n_phase, exag, momentum in (
        (int(early_exaggeration_iter), tsne.early_exaggeration, tsne.initial_momentum),
        (int(n_iter), tsne.exaggeration, tsne.final_momentum),
    ):
        left = n_phase
        while left > 0:
            step = min(chunk, left)
            embedding.optimize(n_iter=step, exaggeration=exag, momentum=momentum, inplace=True,
                               propagate_exception=True)
            left -= step
            done += step
            progress(min(done, total - 1), total, "t-SNE")
    return np.asarray(embedding)

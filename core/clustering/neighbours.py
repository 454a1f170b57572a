"""The neighbour structure behind DBSCAN's eps slider: one cached graph, filtered for each eps.

:class:`NeighbourIndex` holds the neighbour search of one latent matrix and a
neighbour graph that every eps and min_samples move only filters, so moving a
slider never searches neighbours again. :func:`dbscan_labels` runs DBSCAN on it.
Which graph depends on the size:

* up to :data:`RADIUS_MAX` points, the **radius graph** of the largest eps asked so
  far (every pair within eps; a smaller eps filters it, :func:`filter_graph`):
  exact DBSCAN;
* above it, the **k-nearest-neighbour graph** (:data:`KNN_GRAPH` neighbours per
  point, more when ``min_samples - 1`` is larger), searched once and filtered at
  eps. At 100,000 points in 8-D the radius graph of a generous eps holds 50
  million pairs (15 s to build, 600 MB) while the kNN graph holds 3.2 million.
  Core points, border points and noise are still exact (a point's eps-neighbours
  are its nearest ones, and a core test needs only ``min_samples - 1`` of them;
  a non-core point has fewer than that within eps, so all of them are in its
  list). What can differ from exact DBSCAN: two core points within eps of each
  other, neither among the other's k nearest, are not linked directly; they
  nearly always are through the core points between them (BENCHMARKS.md reports
  the agreement with sklearn at 100,000 points).

:meth:`NeighbourIndex.sample` keeps a seeded uniform sample of the rows with its own index and, found
once, the nearest sampled row of every row (:class:`IndexSample`): the methods fitted on a sample of a
large collection (``core.clustering.FIT_MAX``, DBSCAN above 100,000 points among them) label every
other point from it with one gather, so a slider move never searches neighbours of a million points.

:meth:`NeighbourIndex.distances_among` keeps the distance matrix of one sample of
rows, so the sampled silhouette of :mod:`core.metrics` costs one matrix product
per move instead of a fresh (sample x sample) distance computation.

One index is shared by every dashboard session that looks at the same latents
(``st.cache_resource``), so the cached graph depends on what other sessions asked
before: the result of :meth:`NeighbourIndex.radius_graph` must not, and it is
guarded by a lock.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
from scipy import sparse
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

__all__ = ["DENSE_MAX", "KNN_GRAPH", "RADIUS_MAX", "NeighbourIndex", "IndexSample", "check_latents", "dbscan_labels",
           "filter_graph", "sample_rows"]

#: Largest n for which NeighbourIndex keeps the dense (n, n) distance matrix (4,000 points: 128 MB).
DENSE_MAX = 4000
#: Largest n for which DBSCAN runs on the exact radius graph; above it, on the kNN graph.
RADIUS_MAX = 20_000
#: Neighbours per point of the kNN graph (above RADIUS_MAX points): 100,000 points -> 3.2 M pairs, ~40 MB.
KNN_GRAPH = 32


def check_latents(Z: np.ndarray) -> np.ndarray:
    """``Z`` as float64 (n, d), n >= 2, finite; ValueError saying what is wrong otherwise."""
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2:
        raise ValueError(f"latent matrix must be 2-D (n, d), got shape {Z.shape}")
    if len(Z) < 2:
        raise ValueError(f"need at least 2 points to cluster, got {len(Z)}")
    if not np.isfinite(Z).all():
        raise ValueError(f"latent matrix has {int((~np.isfinite(Z)).sum())} non-finite values")
    return Z


def sample_rows(n: int, size: int, *, random_state: int = 0) -> np.ndarray:
    """The rows of a seeded uniform sample: ``size`` of ``n`` drawn without replacement with ``random_state``,
    sorted, shape=(size,) int64 (every row when ``size >= n``). The one draw of every sampled fit."""
    if size >= n:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(random_state).choice(n, size=int(size), replace=False)).astype(np.int64)


class IndexSample:
    """A seeded uniform sample of the rows of a :class:`NeighbourIndex` (:meth:`NeighbourIndex.sample`).

    ``rows`` : (m,) sorted rows of the parent; ``index`` : the NeighbourIndex of ``parent.Z[rows]`` (same metric).
    :meth:`nearest` : the nearest sampled row of every parent row, searched once.
    """

    def __init__(self, parent: "NeighbourIndex", rows: np.ndarray):
        self.rows = rows
        self.index = NeighbourIndex(parent.Z[rows], metric=parent.metric)
        self._parent = parent
        self._nearest: np.ndarray | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.rows)

    def nearest(self) -> np.ndarray:
        """For every row of the parent, the position in ``rows`` of its nearest sampled row (a sampled row is its
        own): shape=(n,), int64. One 1-neighbour search of the sample per row not in it, in chunks, done once
        (a million 8-D rows against 100,000: about a minute on this machine) and kept."""
        with self._lock:
            if self._nearest is None:
                Z, n = self._parent.Z, len(self._parent)
                out = np.empty(n, dtype=np.int64)
                out[self.rows] = np.arange(len(self.rows))
                others = np.ones(n, dtype=bool)
                others[self.rows] = False
                others = np.flatnonzero(others)
                search = self.index._nn
                for start in range(0, len(others), 100_000):  # chunks bound the query's memory
                    part = others[start:start + 100_000]
                    out[part] = search.kneighbors(Z[part], n_neighbors=1, return_distance=False)[:, 0]
                self._nearest = out
            return self._nearest

    def labels(self, sample_labels: np.ndarray) -> np.ndarray:
        """Labels of the sampled rows (shape=(m,)) spread to every parent row: each takes its nearest sampled
        row's label (noise included). Returns shape=(n,)."""
        return np.asarray(sample_labels)[self.nearest()]


class NeighbourIndex:
    """Neighbour structure of one latent matrix, reused across DBSCAN calls and k-distance plots.

    Z : np.ndarray, shape=(n, d)

    The silhouette of :mod:`core.metrics` is always euclidean, and so is
    :meth:`distance_matrix`, whatever ``metric`` DBSCAN uses.

    ``radius_graph(eps)`` returns the sparse (n, n) matrix of distances <= eps. The
    graph of the largest eps requested so far is kept; a smaller eps filters it
    (no neighbour search), a larger one searches once more. ``graph(eps, min_samples)``
    is what DBSCAN uses: that radius graph up to RADIUS_MAX points, the kNN graph
    filtered at eps above (see the module docstring).
    """

    def __init__(self, Z: np.ndarray, *, metric: str = "euclidean"):
        self.Z = check_latents(Z)
        self.metric = metric
        self._nn = NearestNeighbors(metric=metric).fit(self.Z)
        self._graph: sparse.csr_matrix | None = None
        self._graph_eps = -np.inf
        self._knn: tuple[np.ndarray, np.ndarray] | None = None  # (dist, idx), shape=(n, k) each
        self._dense: np.ndarray | None = None
        self._sample: tuple[bytes, np.ndarray] | None = None
        self._samples: dict[tuple[int, int], IndexSample] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.Z)

    def radius_graph(self, eps: float) -> sparse.csr_matrix:
        """Sparse (n, n) distances of every pair within ``eps`` (self pairs excluded), rows sorted by distance."""
        graph, graph_eps = self._radius(eps)
        return graph if eps == graph_eps else filter_graph(graph, eps)

    def _radius(self, eps: float) -> tuple[sparse.csr_matrix, float]:
        """The cached radius graph (built again when ``eps`` is larger than its own) and its eps."""
        with self._lock:
            if eps > self._graph_eps:
                graph = self._nn.radius_neighbors_graph(radius=eps, mode="distance", sort_results=True)
                self._graph, self._graph_eps = graph.tocsr(), float(eps)
            return self._graph, self._graph_eps

    def rows(self, eps: float, min_samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The cached graph as CSR arrays ``(indptr, indices, distances)``, each row sorted by distance,
        whose rows start with every neighbour within ``eps`` that DBSCAN needs (no copy, no filter).

        Up to RADIUS_MAX points, the radius graph of an eps >= ``eps``; above, the nearest
        max(KNN_GRAPH, min_samples - 1) neighbours of each point (see the module docstring).
        """
        if len(self.Z) <= RADIUS_MAX:
            graph, _ = self._radius(eps)
            return graph.indptr, graph.indices, graph.data
        dist, idx = self.kneighbours(max(KNN_GRAPH, int(min_samples) - 1))
        n, k = dist.shape
        return np.arange(0, n * k + 1, k, dtype=np.int64), idx.ravel(), dist.ravel()

    def graph(self, eps: float, min_samples: int) -> sparse.csr_matrix:
        """DBSCAN's neighbour graph at ``eps`` (:meth:`rows` filtered at eps): sparse (n, n) distances."""
        indptr, indices, data = self.rows(eps, min_samples)
        n = len(self.Z)
        return filter_graph(sparse.csr_matrix((data, indices, indptr), shape=(n, n)), eps)

    def sample(self, size: int, *, random_state: int = 0) -> IndexSample:
        """The seeded uniform sample of ``size`` rows (:func:`sample_rows`), with its own index; kept, so every
        call with the same size and seed returns the same object (and its nearest rows, once searched)."""
        key = (int(size), int(random_state))
        with self._lock:
            if key not in self._samples:
                self._samples[key] = IndexSample(self, sample_rows(len(self.Z), key[0], random_state=key[1]))
            return self._samples[key]

    def distances_among(self, rows: np.ndarray) -> np.ndarray:
        """Euclidean distances among ``Z[rows]``, shape=(m, m); the last sample's matrix is kept.

        :func:`core.metrics.internal` draws the same seeded sample on every move, so the
        sampled silhouette reuses this matrix (4,000 rows: 128 MB, ~0.2 s once).
        """
        rows = np.asarray(rows, dtype=np.int64)
        key = rows.tobytes()
        with self._lock:
            if self._sample is None or self._sample[0] != key:
                self._sample = (key, pairwise_distances(self.Z[rows], metric="euclidean"))
            return self._sample[1]

    def distance_matrix(self) -> np.ndarray | None:
        """All pairwise distances, shape=(n, n), computed once; None above DENSE_MAX points.

        :func:`core.metrics.internal` uses it for an exact silhouette in a few milliseconds.
        """
        if len(self.Z) > DENSE_MAX:
            return None
        if self._dense is None:
            self._dense = pairwise_distances(self.Z, metric="euclidean")
        return self._dense

    def nearest(self, row: int, *, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` points nearest point ``row`` (itself left out): ``(rows (k,), distances (k,))``, nearest first.

        One tree query (``sklearn.neighbors.NearestNeighbors``), not a scan of every pair.
        """
        row, n = int(row), len(self.Z)
        if not 0 <= row < n:
            raise ValueError(f"row {row} is outside 0..{n - 1}")
        k = int(min(k, n - 1))
        dist, idx = self._nn.kneighbors(self.Z[row : row + 1], n_neighbors=k + 1)
        keep = idx[0] != row
        return idx[0][keep][:k], dist[0][keep][:k]

    def kneighbour_distances(self, k: int) -> np.ndarray:
        """Distances to the 1st..k-th nearest other point, shape=(n, k), ascending per row."""
        return self.kneighbours(k)[0][:, :int(k)]

    def kneighbours(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of at least the k nearest other points, shape=(n, >= k) each.

        One search serves every smaller k (the k-distance plot, the kNN graph): at least
        min(KNN_GRAPH, n - 1) neighbours are searched, and the largest k asked so far is kept.
        """
        k = int(k)
        n = len(self.Z)
        if not 1 <= k < n:
            raise ValueError(f"k={k} must be between 1 and n-1={n - 1}")
        with self._lock:
            if self._knn is None or self._knn[0].shape[1] < k:
                dist, idx = self._nn.kneighbors(n_neighbors=max(k, min(KNN_GRAPH, n - 1)))
                self._knn = (dist, idx.astype(np.int32 if n < 2**31 else np.int64))
            return self._knn


def filter_graph(graph: sparse.csr_matrix, eps: float) -> sparse.csr_matrix:
    """Keep the entries <= eps of a row-sorted CSR graph (rows stay sorted).

    Rows may be empty anywhere, the last one included (an isolated point): the kept
    entries are counted per row with a bincount of their row numbers.
    """
    n = graph.shape[0]
    keep = graph.data <= eps
    rows = np.repeat(np.arange(n), np.diff(graph.indptr))
    counts = np.bincount(rows[keep], minlength=n)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sparse.csr_matrix((graph.data[keep], graph.indices[keep], indptr), shape=graph.shape)


def dbscan_labels(index: NeighbourIndex, *, eps: float, min_samples: int) -> np.ndarray:
    """DBSCAN on the index's neighbour graph (:meth:`NeighbourIndex.rows`): core points, their
    connected components, then border points.

    A point is core when it has at least ``min_samples`` points within ``eps``,
    itself included (sklearn's convention). Clusters are the connected components
    of core points linked within ``eps``; a non-core point within ``eps`` of a core
    point joins the cluster of its nearest such core point (sklearn instead takes
    the first cluster that reaches it, so border points may differ); the rest is
    noise (-1). One compiled pass over the cached graph (:func:`_dbscan_rows`: each
    row's neighbours within eps are a prefix of it, and the components come from a
    union-find), so a slider move neither filters nor copies the graph.

    Returns np.ndarray, shape=(n,), int64 (cluster ids, not yet renumbered).
    """
    indptr, indices, data = index.rows(eps, min_samples)
    return _dbscan_rows(indptr, indices, data, float(eps), int(min_samples))


@numba.njit(cache=True)
def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]  # path halving
        i = parent[i]
    return i


@numba.njit(cache=True)
def _dbscan_rows(indptr, indices, data, eps, min_samples):  # pragma: no cover (compiled)
    """DBSCAN labels from CSR rows sorted by distance: shape=(n,) int64, -1 = noise, else a root id."""
    n = len(indptr) - 1
    end = np.empty(n, dtype=np.int64)
    core = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        e = indptr[i]
        while e < indptr[i + 1] and data[e] <= eps:
            e += 1
        end[i] = e
        core[i] = e - indptr[i] + 1 >= min_samples
    parent = np.arange(n)
    for i in range(n):
        if core[i]:
            for p in range(indptr[i], end[i]):
                j = indices[p]
                if core[j]:
                    a, b = _find(parent, i), _find(parent, j)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
    labels = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        if core[i]:
            labels[i] = _find(parent, i)
    for i in range(n):
        if not core[i]:
            for p in range(indptr[i], end[i]):  # sorted by distance: the first core point is the nearest
                if core[indices[p]]:
                    labels[i] = labels[indices[p]]
                    break
    return labels

"""The neighbour structure behind DBSCAN's eps slider: one radius graph, filtered for smaller eps.

:class:`NeighbourIndex` holds the neighbour search of one latent matrix and the
radius graph of the largest eps asked so far; a smaller eps only filters that
graph (:func:`filter_graph`), so moving the slider does not search neighbours
again. :func:`dbscan_labels` runs DBSCAN on that graph.

One index is shared by every dashboard session that looks at the same latents
(``st.cache_resource``), so the cached graph depends on what other sessions asked
before: the result of :meth:`NeighbourIndex.radius_graph` must not, and it is
guarded by a lock.
"""

from __future__ import annotations

import threading

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

__all__ = ["DENSE_MAX", "NeighbourIndex", "check_latents", "dbscan_labels", "filter_graph"]

#: Largest n for which NeighbourIndex keeps the dense (n, n) distance matrix (4,000 points: 128 MB).
DENSE_MAX = 4000


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


class NeighbourIndex:
    """Neighbour structure of one latent matrix, reused across DBSCAN calls and k-distance plots.

    Z : np.ndarray, shape=(n, d)

    The silhouette of :mod:`core.metrics` is always euclidean, and so is
    :meth:`distance_matrix`, whatever ``metric`` DBSCAN uses.

    ``radius_graph(eps)`` returns the sparse (n, n) matrix of distances <= eps. The
    graph of the largest eps requested so far is kept; a smaller eps filters it
    (no neighbour search), a larger one searches once more.
    """

    def __init__(self, Z: np.ndarray, *, metric: str = "euclidean"):
        self.Z = check_latents(Z)
        self.metric = metric
        self._nn = NearestNeighbors(metric=metric).fit(self.Z)
        self._graph: sparse.csr_matrix | None = None
        self._graph_eps = -np.inf
        self._kdist: dict[int, np.ndarray] = {}
        self._dense: np.ndarray | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.Z)

    def radius_graph(self, eps: float) -> sparse.csr_matrix:
        """Sparse (n, n) distances of every pair within ``eps`` (self pairs excluded), rows sorted by distance."""
        with self._lock:
            if eps > self._graph_eps:
                graph = self._nn.radius_neighbors_graph(radius=eps, mode="distance", sort_results=True)
                self._graph, self._graph_eps = graph.tocsr(), float(eps)
            graph, graph_eps = self._graph, self._graph_eps
        return graph if eps == graph_eps else filter_graph(graph, eps)

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

    def kneighbor_distances(self, k: int) -> np.ndarray:
        """Distances to the 1st..k-th nearest other point, shape=(n, k), ascending per row."""
        k = int(k)
        if not 1 <= k < len(self.Z):
            raise ValueError(f"k={k} must be between 1 and n-1={len(self.Z) - 1}")
        for have, dist in list(self._kdist.items()):
            if have >= k:
                return dist[:, :k]
        dist, _ = self._nn.kneighbors(n_neighbors=k)
        self._kdist = {k: dist}
        return dist


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
    """DBSCAN on the radius graph: core points, their connected components, then border points.

    A point is core when it has at least ``min_samples`` points within ``eps``,
    itself included (sklearn's convention). Clusters are the connected components
    of core points linked within ``eps``; a non-core point within ``eps`` of a core
    point joins the cluster of its nearest such core point (sklearn instead takes
    the first cluster that reaches it, so border points may differ); the rest is
    noise (-1). Vectorised on the sparse graph, so an eps slider move costs a
    filter plus one connected-components pass.

    Returns np.ndarray, shape=(n,), int64 (component ids, not yet renumbered).
    """
    graph = index.radius_graph(eps)
    n = graph.shape[0]
    degree = np.diff(graph.indptr)
    core = degree + 1 >= min_samples
    rows = np.repeat(np.arange(n), degree)
    cols = graph.indices
    link = core[rows] & core[cols]
    adjacency = sparse.csr_matrix(
        (np.ones(int(link.sum()), dtype=np.int8), (rows[link], cols[link])), shape=(n, n)
    )
    _, component = connected_components(adjacency, directed=False)
    labels = np.full(n, -1, dtype=np.int64)
    labels[core] = component[core]
    border = ~core[rows] & core[cols]  # rows are sorted by distance: the first hit is the nearest core point
    b_rows, first = np.unique(rows[border], return_index=True)
    labels[b_rows] = component[cols[border][first]]
    return labels

"""Clustering of latent vectors: one registry for every method the dashboard offers.

``CLUSTERERS`` maps a method name to a :class:`Clusterer`: a display label, the
parameters it exposes (each a :class:`Param` with default, type and range, from
which the dashboard builds its sliders) and a builder for the estimator.

=============  ===============================================  ================
name           method                                           noise (-1)?
=============  ===============================================  ================
kmeans         sklearn.cluster.KMeans                           no
dbscan         DBSCAN on a reusable radius graph (NeighbourIndex)  yes
agglomerative  sklearn.cluster.AgglomerativeClustering          no
hdbscan        sklearn.cluster.HDBSCAN                          yes
gmm            sklearn.mixture.GaussianMixture (hard labels)    no
=============  ===============================================  ================

Noise: DBSCAN and HDBSCAN label points that belong to no cluster ``-1``. A
:class:`ClusterResult` reports ``n_clusters`` (noise not counted) and
``noise_fraction`` (share of points labelled -1); :mod:`core.metrics` states how
noise enters each metric.

The eps slider: :class:`NeighbourIndex` holds the neighbour structure of one
latent matrix, and the radius graph of the largest eps asked so far; a smaller
eps only filters that graph, so moving the slider does not search neighbours
again. Pass it as ``cluster("dbscan", Z, index=idx, eps=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from scipy import sparse

__all__ = [
    "Param", "Clusterer", "ClusterResult", "CLUSTERERS", "PARAMS", "NeighbourIndex",
    "cluster", "default_params", "k_distance", "knee", "suggest_eps",
]


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Param:
    """One exposed parameter: its default, and either a numeric range or a list of choices.

    ``kind`` is ``"int"``, ``"float"`` or ``"choice"`` (derived from the default and choices).
    """

    default: Any
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple = ()
    help: str = ""

    @property
    def kind(self) -> str:
        if self.choices:
            return "choice"
        if isinstance(self.default, bool):
            return "bool"
        return "int" if isinstance(self.default, int) else "float"

    def check(self, name: str, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type; ValueError naming ``name`` if out of range."""
        if self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"parameter {name}={value!r} is not one of {list(self.choices)}")
            return value
        if self.kind == "bool":
            return bool(value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"parameter {name}={value!r} is not a number") from None
        if not np.isfinite(number):
            raise ValueError(f"parameter {name}={value!r} is not finite")
        if self.kind == "int":
            if number != int(number):
                raise ValueError(f"parameter {name}={value!r} must be a whole number")
            number = int(number)
        if self.min is not None and number < self.min:
            raise ValueError(f"parameter {name}={value!r} is below its minimum {self.min}")
        if self.max is not None and number > self.max:
            raise ValueError(f"parameter {name}={value!r} is above its maximum {self.max}")
        return number


@dataclass(frozen=True)
class Clusterer:
    """A registry entry: display label, exposed parameters, estimator builder, and whether it marks noise.

    ``build(random_state=..., **params)`` returns an sklearn estimator; DBSCAN has none
    (it runs on a :class:`NeighbourIndex`).
    """

    label: str
    params: dict[str, Param]
    build: Callable[..., Any] | None
    has_noise: bool = False
    description: str = ""


@dataclass
class ClusterResult:
    """Hard cluster labels of ``n`` points.

    labels : np.ndarray, shape=(n,), int. Clusters are 0..n_clusters-1; ``-1`` is noise.
    """

    name: str
    labels: np.ndarray
    n_clusters: int
    noise_fraction: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def noise_mask(self) -> np.ndarray:
        return self.labels < 0

    def summary(self) -> str:
        text = f"{self.name}: {self.n_clusters} cluster(s)"
        if self.noise_fraction > 0:
            text += f", {self.noise_fraction:.1%} noise"
        return text


# --------------------------------------------------------------------------- builders
def _kmeans(*, random_state, n_clusters, n_init, max_iter, init):
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, init=init, random_state=random_state)


def _agglomerative(*, random_state, n_clusters, linkage, metric):
    from sklearn.cluster import AgglomerativeClustering

    if linkage == "ward" and metric != "euclidean":
        raise ValueError(f"ward linkage needs metric='euclidean', got metric={metric!r}")
    return AgglomerativeClustering(n_clusters=n_clusters, linkage=linkage, metric=metric)


def _hdbscan(*, random_state, min_cluster_size, min_samples, cluster_selection_epsilon, cluster_selection_method):
    from sklearn.cluster import HDBSCAN

    return HDBSCAN(
        min_cluster_size=min_cluster_size, min_samples=min_samples,
        cluster_selection_epsilon=cluster_selection_epsilon,
        cluster_selection_method=cluster_selection_method, copy=True,
    )


def _gmm(*, random_state, n_components, covariance_type, n_init, max_iter):
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(
        n_components=n_components, covariance_type=covariance_type, n_init=n_init,
        max_iter=max_iter, random_state=random_state,
    )


_K = Param(2, 1, 50, 1, help="number of clusters")

#: The one registry of clustering methods.
CLUSTERERS: dict[str, Clusterer] = {
    "kmeans": Clusterer(
        "K-Means",
        {
            "n_clusters": _K,
            "n_init": Param(10, 1, 50, 1, help="restarts; the best inertia is kept"),
            "max_iter": Param(300, 10, 2000, 10, help="iterations per restart"),
            "init": Param("k-means++", choices=("k-means++", "random"), help="initial centres"),
        },
        _kmeans,
        description="Lloyd's K-Means on the latent vectors.",
    ),
    "dbscan": Clusterer(
        "DBSCAN",
        {
            "eps": Param(0.5, 0.001, 20.0, 0.001, help="neighbourhood radius (see suggest_eps)"),
            "min_samples": Param(5, 1, 200, 1, help="points within eps (itself included) to be a core point"),
            "metric": Param("euclidean", choices=("euclidean", "manhattan", "cosine"), help="distance"),
        },
        None,  # cluster() runs it on a NeighbourIndex (see _dbscan_labels)
        has_noise=True,
        description="Density-based; points in no dense region are noise (-1).",
    ),
    "agglomerative": Clusterer(
        "Agglomerative",
        {
            "n_clusters": _K,
            "linkage": Param("ward", choices=("ward", "complete", "average", "single"), help="merge criterion"),
            "metric": Param("euclidean", choices=("euclidean", "manhattan", "cosine"),
                            help="distance (ward needs euclidean)"),
        },
        _agglomerative,
        description="Bottom-up hierarchical clustering.",
    ),
    "hdbscan": Clusterer(
        "HDBSCAN",
        {
            "min_cluster_size": Param(15, 2, 1000, 1, help="smallest group that counts as a cluster"),
            "min_samples": Param(5, 1, 200, 1, help="density smoothing; larger = more noise"),
            "cluster_selection_epsilon": Param(0.0, 0.0, 20.0, 0.01, help="merge clusters closer than this"),
            "cluster_selection_method": Param("eom", choices=("eom", "leaf"), help="excess of mass or leaves"),
        },
        _hdbscan,
        has_noise=True,
        description="Hierarchical density-based; noise (-1) allowed; no eps to tune.",
    ),
    "gmm": Clusterer(
        "Gaussian mixture",
        {
            "n_components": _K,
            "covariance_type": Param("full", choices=("full", "tied", "diag", "spherical"), help="covariance shape"),
            "n_init": Param(3, 1, 20, 1, help="restarts; the best likelihood is kept"),
            "max_iter": Param(200, 10, 2000, 10, help="EM iterations"),
        },
        _gmm,
        description="Gaussian mixture fitted by EM; each point gets its most likely component.",
    ),
}

#: Parameters of every method, ``PARAMS[name][param] -> Param`` (a view of CLUSTERERS for slider building).
PARAMS: dict[str, dict[str, Param]] = {name: c.params for name, c in CLUSTERERS.items()}


def default_params(name: str) -> dict[str, Any]:
    """The default value of every parameter of method ``name``."""
    return {k: p.default for k, p in _entry(name).params.items()}


def _entry(name: str) -> Clusterer:
    try:
        return CLUSTERERS[name]
    except KeyError:
        raise ValueError(f"unknown clustering method {name!r}; choose one of {sorted(CLUSTERERS)}") from None


def _check_Z(Z: np.ndarray) -> np.ndarray:
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2:
        raise ValueError(f"latent matrix must be 2-D (n, d), got shape {Z.shape}")
    if len(Z) < 2:
        raise ValueError(f"need at least 2 points to cluster, got {len(Z)}")
    if not np.isfinite(Z).all():
        raise ValueError(f"latent matrix has {int((~np.isfinite(Z)).sum())} non-finite values")
    return Z


# --------------------------------------------------------------------------- neighbours
#: Largest n for which NeighbourIndex keeps the dense (n, n) distance matrix (4,000 points: 128 MB).
DENSE_MAX = 4000


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
        from sklearn.neighbors import NearestNeighbors

        self.Z = _check_Z(Z)
        self.metric = metric
        self._nn = NearestNeighbors(metric=metric).fit(self.Z)
        self._graph: sparse.csr_matrix | None = None
        self._graph_eps = -np.inf
        self._kdist: dict[int, np.ndarray] = {}
        self._dense: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.Z)

    def radius_graph(self, eps: float) -> sparse.csr_matrix:
        """Sparse (n, n) distances of every pair within ``eps`` (self pairs excluded)."""
        if eps > self._graph_eps:
            graph = self._nn.radius_neighbors_graph(radius=eps, mode="distance", sort_results=True)
            self._graph, self._graph_eps = graph.tocsr(), float(eps)
            return self._graph
        if eps == self._graph_eps:
            return self._graph
        return _filter_graph(self._graph, eps)

    def distance_matrix(self) -> np.ndarray | None:
        """All pairwise distances, shape=(n, n), computed once; None above DENSE_MAX points.

        :func:`core.metrics.internal` uses it for an exact silhouette in a few milliseconds.
        """
        if len(self.Z) > DENSE_MAX:
            return None
        if self._dense is None:
            from sklearn.metrics import pairwise_distances

            self._dense = pairwise_distances(self.Z, metric="euclidean")
        return self._dense

    def kneighbor_distances(self, k: int) -> np.ndarray:
        """Distances to the 1st..k-th nearest other point, shape=(n, k), ascending per row."""
        k = int(k)
        if not 1 <= k < len(self.Z):
            raise ValueError(f"k={k} must be between 1 and n-1={len(self.Z) - 1}")
        for have, dist in self._kdist.items():
            if have >= k:
                return dist[:, :k]
        dist, _ = self._nn.kneighbors(n_neighbors=k)
        self._kdist = {k: dist}
        return dist


def _filter_graph(graph: sparse.csr_matrix, eps: float) -> sparse.csr_matrix:
    """Keep the entries <= eps of a row-sorted CSR graph (rows stay sorted)."""
    keep = graph.data <= eps
    counts = np.add.reduceat(keep, graph.indptr[:-1]) if graph.nnz else np.zeros(graph.shape[0], dtype=int)
    # reduceat misreads empty rows (it returns the next element); zero them explicitly.
    counts = np.where(np.diff(graph.indptr) == 0, 0, counts)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sparse.csr_matrix((graph.data[keep], graph.indices[keep], indptr), shape=graph.shape)


def _dbscan_labels(index: NeighbourIndex, *, eps: float, min_samples: int) -> np.ndarray:
    """DBSCAN on the radius graph: core points, their connected components, then border points.

    A point is core when it has at least ``min_samples`` points within ``eps``,
    itself included (sklearn's convention). Clusters are the connected components
    of core points linked within ``eps``; a non-core point within ``eps`` of a core
    point joins the cluster of its nearest such core point (sklearn instead takes
    the first cluster that reaches it, so border points may differ); the rest is
    noise (-1). Vectorised on the sparse graph, so an eps slider move costs a
    filter plus one connected-components pass.
    """
    from scipy.sparse.csgraph import connected_components

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


# --------------------------------------------------------------------------- cluster
def cluster(
    name: str,
    Z: np.ndarray,
    *,
    random_state: int = 0,
    index: NeighbourIndex | None = None,
    **params: Any,
) -> ClusterResult:
    """Cluster the rows of ``Z`` with method ``name`` of :data:`CLUSTERERS`.

    Z : np.ndarray, shape=(n, d)
    random_state : seed for the methods that have one (K-Means, GMM).
    index : a :class:`NeighbourIndex` of the same ``Z``, reused by DBSCAN (built if absent).
    params : any exposed parameter of the method; missing ones take their defaults.

    Returns a :class:`ClusterResult` with labels shape=(n,) (``-1`` = noise).
    """
    entry = _entry(name)
    unknown = set(params) - set(entry.params)
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {sorted(unknown)}; it takes {sorted(entry.params)}")
    values = {k: p.check(k, params.get(k, p.default)) for k, p in entry.params.items()}
    Z = _check_Z(Z) if index is None else index.Z
    n = len(Z)
    for key in ("n_clusters", "n_components"):
        if key in values and values[key] > n:
            raise ValueError(f"{name}: {key}={values[key]} is more than the {n} points")
    if name == "hdbscan" and values["min_cluster_size"] > n:
        raise ValueError(f"hdbscan: min_cluster_size={values['min_cluster_size']} is more than the {n} points")

    if name == "dbscan":
        if index is None or index.metric != values["metric"]:
            index = NeighbourIndex(Z, metric=values["metric"])
        labels = _dbscan_labels(index, eps=values["eps"], min_samples=values["min_samples"])
    else:
        estimator = entry.build(random_state=random_state, **values)
        labels = estimator.fit_predict(Z)
    labels = _relabel(np.asarray(labels))
    return ClusterResult(
        name=name,
        labels=labels,
        n_clusters=int(labels.max() + 1) if (labels >= 0).any() else 0,
        noise_fraction=float((labels < 0).mean()),
        params=values,
    )


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0..m-1 by first appearance (keeps -1 for noise, drops empty ids)."""
    out = np.full(labels.shape, -1, dtype=np.int64)
    ok = labels >= 0
    if ok.any():
        _, first, inverse = np.unique(labels[ok], return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))
        out[ok] = order[inverse]
    return out


# --------------------------------------------------------------------------- eps
def k_distance(Z: np.ndarray | NeighbourIndex, *, k: int) -> np.ndarray:
    """Sorted distance of every point to its k-th nearest other point (the DBSCAN k-distance plot).

    Z : np.ndarray, shape=(n, d), or a NeighbourIndex of it.
    k : neighbour rank, the point itself not counted (use ``k = min_samples - 1``).

    Returns np.ndarray, shape=(n,), ascending.
    """
    index = Z if isinstance(Z, NeighbourIndex) else NeighbourIndex(Z)
    return np.sort(index.kneighbor_distances(k)[:, k - 1])


def knee(y: np.ndarray) -> int:
    """Index of the knee of an ascending curve: the point farthest from its chord.

    y : np.ndarray, shape=(m,), ascending.

    Both axes are first scaled to [0, 1]; the knee is the point with the largest
    distance *below* the straight line from the first to the last point (for the
    convex k-distance curve, where it bends upward). A straight line has no knee:
    the middle index is returned.
    """
    y = np.asarray(y, dtype=np.float64)
    m = len(y)
    if m < 3:
        return max(m - 1, 0)
    span = y[-1] - y[0]
    if span <= 0:
        return m // 2
    x = np.linspace(0.0, 1.0, m)
    yn = (y - y[0]) / span
    gap = x - yn  # distance to the chord y = x, up to the constant 1/sqrt(2)
    if gap.max() <= 1e-12:
        return m // 2
    return int(np.argmax(gap))


def suggest_eps(Z: np.ndarray | NeighbourIndex, *, k: int) -> float:
    """A DBSCAN eps for ``min_samples = k + 1``: the k-distance at the curve's knee (see :func:`knee`)."""
    dist = k_distance(Z, k=k)
    return float(dist[knee(dist)])

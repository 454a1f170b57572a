"""The clusterer registry: every method the dashboard offers, its parameters, and ``cluster()``.

``CLUSTERERS`` maps a method name to a :class:`Clusterer`: a display label, the
parameters it exposes and a builder for the estimator. A parameter's type, range,
help and widget bounds are its :class:`~core.params.Spec` (declared once in
:data:`core.params.SPECS`); the registry says only which a method exposes and,
where a method's default differs from the spec's, that default.
DBSCAN has no builder: it runs on a :class:`~core.clustering.neighbours.NeighbourIndex`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans
from sklearn.mixture import GaussianMixture

from core.clustering.neighbours import IndexSample, NeighbourIndex, check_latents, dbscan_labels, sample_rows
from core.params import SPECS, Spec

__all__ = ["Clusterer", "ClusterResult", "CLUSTERERS", "FIT_MAX", "FIT_WHY", "cluster", "describe", "dbscan_sample"]

#: Methods that cannot scale to large collections are fitted on a seeded uniform sample of at most this
#: many points. The Gaussian mixture then assigns every point its most likely component; the others
#: give every other point the label of its nearest sampled point (HDBSCAN's and DBSCAN's noise included).
#: Agglomerative clustering holds all n(n-1)/2 distances (100,000 points: 40 GB; 10,000: 400 MB);
#: HDBSCAN's tree takes minutes above a few tens of thousands of points on this machine; EM on a
#: million points takes 40 s of CPU with the default 3 restarts (more with more). DBSCAN's neighbour
#: graph (32 neighbours of every point) took 16 s at 100,000 8-D points but 24 min at a million on this
#: shared machine; on a sample of 100,000 an eps move is a pass over the sample's graph and one gather
#: (BENCHMARKS.md). K-Means (11 s of CPU at a million points) uses every point.
FIT_MAX: dict[str, int] = {"agglomerative": 10_000, "hdbscan": 20_000, "gmm": 100_000, "dbscan": 100_000}
#: Why each of them is not fitted on every point (what the dashboard tells its user).
FIT_WHY: dict[str, str] = {"agglomerative": "all their pairwise distances in memory",
                           "hdbscan": "minutes to hours", "gmm": "a minute or more per change",
                           "dbscan": "many minutes to build its neighbour graph"}


@dataclass(frozen=True)
class Clusterer:
    """A registry entry: display label, exposed parameters, estimator builder, and whether it marks noise.

    ``exposes`` maps each parameter the method takes to this method's own default, or to None where the
    spec's default (:data:`core.params.SPECS`) is the method's too. ``build(random_state=..., **params)``
    returns an sklearn estimator; DBSCAN has none (it runs on a :class:`NeighbourIndex`).
    """

    label: str
    exposes: dict[str, Any]
    build: Callable[..., Any] | None
    has_noise: bool = False
    description: str = ""

    @property
    def params(self) -> dict[str, Spec]:
        """The spec of every exposed parameter, with this method's default: read from :data:`core.params.SPECS`
        each time, so the dashboard's widgets and :func:`cluster` follow the one declaration."""
        return {name: SPECS[name] if own is None else SPECS[name].with_default(own)
                for name, own in self.exposes.items()}

    def default_params(self) -> dict[str, Any]:
        """The default value of every exposed parameter."""
        return {name: spec.default for name, spec in self.params.items()}


@dataclass
class ClusterResult:
    """Hard cluster labels of ``n`` points.

    labels : np.ndarray, shape=(n,), int. Clusters are 0..n_clusters-1; ``-1`` is noise.
    fitted_on : None when the method saw every point, else the size of the seeded sample it was
        fitted on (:data:`FIT_MAX`); the other points were then assigned as ``assigned`` says.
    assigned : with ``fitted_on``, how every point got its label: ``"model"`` (the fitted model's own
        assignment: the mixture's most likely component) or ``"nearest"`` (the label of the nearest
        sampled point, noise included); "" when the method saw every point.
    """

    name: str
    labels: np.ndarray
    n_clusters: int
    noise_fraction: float
    params: dict[str, Any] = field(default_factory=dict)
    fitted_on: int | None = None
    assigned: str = ""


# --------------------------------------------------------------------------- builders
def _kmeans(*, random_state, n_clusters, n_init, max_iter, init):
    return KMeans(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, init=init, random_state=random_state)


def _agglomerative(*, random_state, n_clusters, linkage, metric):
    if linkage == "ward" and metric != "euclidean":
        raise ValueError(f"ward linkage needs metric='euclidean', got metric={metric!r}")
    return AgglomerativeClustering(n_clusters=n_clusters, linkage=linkage, metric=metric)


def _hdbscan(*, random_state, min_cluster_size, min_samples, cluster_selection_epsilon, cluster_selection_method):
    return HDBSCAN(
        min_cluster_size=min_cluster_size, min_samples=min_samples,
        cluster_selection_epsilon=cluster_selection_epsilon,
        cluster_selection_method=cluster_selection_method, copy=True,
    )


def _gmm(*, random_state, n_components, covariance_type, n_init, max_iter):
    return GaussianMixture(
        n_components=n_components, covariance_type=covariance_type, n_init=n_init,
        max_iter=max_iter, random_state=random_state,
    )


#: The one registry of clustering methods: parameter -> this method's default (None: the spec's).
CLUSTERERS: dict[str, Clusterer] = {
    "kmeans": Clusterer(
        "K-Means",
        {"n_clusters": None, "n_init": 10, "max_iter": 300, "init": None},
        _kmeans,
        description="Lloyd's K-Means on the latent vectors.",
    ),
    "dbscan": Clusterer(
        "DBSCAN",
        {"eps": None, "min_samples": None, "metric": None},
        None,  # cluster() runs it on a NeighbourIndex (see neighbours.dbscan_labels)
        has_noise=True,
        description="Density-based; points in no dense region are noise (-1).",
    ),
    "agglomerative": Clusterer(
        "Agglomerative",
        {"n_clusters": None, "linkage": None, "metric": None},
        _agglomerative,
        description="Bottom-up hierarchical clustering.",
    ),
    "hdbscan": Clusterer(
        "HDBSCAN",
        {"min_cluster_size": None, "min_samples": None, "cluster_selection_epsilon": None,
         "cluster_selection_method": None},
        _hdbscan,
        has_noise=True,
        description="Hierarchical density-based; noise (-1) allowed; no eps to tune.",
    ),
    "gmm": Clusterer(
        "Gaussian mixture",
        {"n_components": None, "covariance_type": None, "n_init": 3, "max_iter": 200},
        _gmm,
        description="Gaussian mixture fitted by EM; each point gets its most likely component.",
    ),
}


#: The parameters that define a clustering to a reader, by method (the others, restarts and iterations, only
#: refine the same clustering); the number of clusters reads as k.
_DEFINING = {"kmeans": ("n_clusters",), "agglomerative": ("n_clusters", "linkage"), "gmm": ("n_components",),
             "dbscan": ("eps", "min_samples"), "hdbscan": ("min_cluster_size", "min_samples")}


def describe(name: str, params: dict[str, Any] | None = None, result: ClusterResult | None = None) -> str:
    """A clustering in words, the one way every page names one: ``"K-Means, k = 8"``,
    ``"DBSCAN, eps = 1.08, min_samples = 5"``; with its ``result``, what it found too:
    ``"DBSCAN, eps = 1.08, min_samples = 5 → 3 clusters, 12% noise"`` (and, for a method fitted on a
    sample, ``"(fitted on a sample of 20,000 points)"``: :func:`describe_result`).

    Metrics of the same latents differ with the clustering (NMI vs language at k = 2 and at k = 8 are other
    numbers): every page that shows one names its clustering with this.
    """
    entry = CLUSTERERS.get(name)
    params = params or {}
    bits = []
    for key in _DEFINING.get(name, ()):
        if key in params:
            value = params[key]
            shown = f"{value:.3g}" if isinstance(value, float) else str(value)
            bits.append(f"{'k' if key in ('n_clusters', 'n_components') else key} = {shown}")
    text = ", ".join([entry.label if entry else name] + bits)
    return text if result is None else f"{text} → {describe_result(result)}"


def describe_result(result: ClusterResult) -> str:
    """What a clustering found, in words: ``"3 clusters, 12% noise"``, and for a method fitted on a sample
    ``"(fitted on a sample of 20,000 points)"`` after it (:func:`describe` puts it after the clustering)."""
    n = result.n_clusters
    text = f"{n} cluster{'' if n == 1 else 's'}"
    if result.noise_fraction:
        text += f", {result.noise_fraction:.0%} noise"
    if getattr(result, "fitted_on", None):
        text += f" (fitted on a sample of {result.fitted_on:,} points)"
    return text


def _entry(name: str) -> Clusterer:
    try:
        return CLUSTERERS[name]
    except KeyError:
        raise ValueError(f"unknown clustering method {name!r}; choose one of {sorted(CLUSTERERS)}") from None


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
    specs = entry.params
    unknown = set(params) - set(specs)
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {sorted(unknown)}; it takes {sorted(specs)}")
    values = {k: p.check(params.get(k, p.default), parameter=True) for k, p in specs.items()}
    Z = check_latents(Z) if index is None else index.Z
    n = len(Z)
    for key in ("n_clusters", "n_components"):
        if key in values and values[key] > n:
            raise ValueError(f"{name}: {key}={values[key]} is more than the {n} points")
    if name == "hdbscan" and values["min_cluster_size"] > n:
        raise ValueError(f"hdbscan: min_cluster_size={values['min_cluster_size']} is more than the {n} points")

    fitted_on = FIT_MAX.get(name) if n > FIT_MAX.get(name, n) else None
    assigned = ""
    metric = values.get("metric", "euclidean")
    if name == "dbscan":
        if index is None or index.metric != metric:
            index = NeighbourIndex(Z, metric=metric)
        if fitted_on is None:
            labels = dbscan_labels(index, eps=values["eps"], min_samples=values["min_samples"])
        else:
            kept = index.sample(fitted_on, random_state=random_state)
            labels = kept.labels(dbscan_labels(kept.index, eps=values["eps"], min_samples=values["min_samples"]))
            assigned = "nearest"
    else:
        estimator = entry.build(random_state=random_state, **values)
        if fitted_on is None:
            labels = estimator.fit_predict(Z)
        else:
            rows = sample_rows(n, fitted_on, random_state=random_state)
            sampled = estimator.fit_predict(Z[rows])
            assigned = "model" if hasattr(estimator, "predict") else "nearest"
            if assigned == "model":  # a model of the whole space (the mixture): its own assignment
                labels = estimator.predict(Z)
            elif index is not None and index.metric == metric:  # the index keeps each row's nearest sampled row
                labels = index.sample(fitted_on, random_state=random_state).labels(sampled)
            else:
                labels = nearest_sampled_labels(Z, Z[rows], sampled, metric=metric)
    labels = _relabel(np.asarray(labels))
    return ClusterResult(
        name=name,
        labels=labels,
        n_clusters=int(labels.max() + 1) if (labels >= 0).any() else 0,
        noise_fraction=float((labels < 0).mean()),
        params=values,
        fitted_on=fitted_on,
        assigned=assigned,
    )


def dbscan_sample(index: NeighbourIndex, *, random_state: int = 0) -> IndexSample | None:
    """The sample DBSCAN runs on for the latents of ``index``: None up to ``FIT_MAX["dbscan"]`` points (it runs on
    every point), else the index's seeded sample of that many (the one :func:`cluster` uses with the same
    ``random_state``). Its k-distances are the ones that choose eps (``k_distance(sample.index, k=...)``)."""
    size = FIT_MAX.get("dbscan")
    if size is None or len(index) <= size:
        return None
    return index.sample(size, random_state=random_state)


def nearest_sampled_labels(Z: np.ndarray, sample: np.ndarray, sample_labels: np.ndarray, *,
                           metric: str = "euclidean") -> np.ndarray:
    """The label of each row of ``Z``'s nearest row of ``sample`` (a sampled row is its own nearest).

    Z : (n, d); sample : (m, d) rows of Z; sample_labels : (m,) their labels. Returns (n,) labels.
    """
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=1, metric=metric).fit(sample)
    out = np.empty(len(Z), dtype=np.asarray(sample_labels).dtype)
    for start in range(0, len(Z), 100_000):  # chunks bound the brute-force distance blocks of high dimensions
        out[start:start + 100_000] = sample_labels[nn.kneighbors(Z[start:start + 100_000],
                                                                 return_distance=False)[:, 0]]
    return out


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0..m-1 by first appearance (keeps -1 for noise, drops empty ids).

    Cluster ids no larger than a few times the number of points (DBSCAN's roots, sampled labels) are
    renumbered by counting (each id's first row, then an order of the m ids), without sorting the points:
    0.15 s less per eps move at a million points."""
    out = np.full(labels.shape, -1, dtype=np.int64)
    ok = labels >= 0
    if not ok.any():
        return out
    values = labels[ok].astype(np.int64, copy=False)
    if values.max() <= 4 * len(values) + 1024:
        first = np.full(int(values.max()) + 1, len(values), dtype=np.int64)
        np.minimum.at(first, values, np.arange(len(values)))
        present = np.flatnonzero(first < len(values))
        code = np.empty(len(first), dtype=np.int64)
        code[present[np.argsort(first[present], kind="stable")]] = np.arange(len(present))
        out[ok] = code[values]
        return out
    _, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    out[ok] = order[inverse]
    return out

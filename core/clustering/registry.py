"""The clusterer registry: every method the dashboard offers, its parameters, and ``cluster()``.

``CLUSTERERS`` maps a method name to a :class:`Clusterer`: a display label, the
parameters it exposes (each a :class:`Param` with default, type and range, from
which the dashboard builds its sliders) and a builder for the estimator.
DBSCAN has no builder: it runs on a :class:`~core.clustering.neighbours.NeighbourIndex`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans
from sklearn.mixture import GaussianMixture

from core.clustering.neighbours import NeighbourIndex, check_latents, dbscan_labels

__all__ = ["Param", "Clusterer", "ClusterResult", "CLUSTERERS", "PARAMS", "FIT_MAX", "FIT_WHY", "cluster",
           "default_params", "describe"]

#: Methods that cannot scale to large collections are fitted on a seeded uniform sample of at most this
#: many points. The Gaussian mixture then assigns every point its most likely component; the others
#: give every other point the label of its nearest sampled point (HDBSCAN's noise included).
#: Agglomerative clustering holds all n(n-1)/2 distances (100,000 points: 40 GB; 10,000: 400 MB);
#: HDBSCAN's tree takes minutes above a few tens of thousands of points on this machine; EM on a
#: million points takes 40 s of CPU with the default 3 restarts (more with more). K-Means (11 s of
#: CPU at a million points) and DBSCAN (on its neighbour graph) use every point.
FIT_MAX: dict[str, int] = {"agglomerative": 10_000, "hdbscan": 20_000, "gmm": 100_000}
#: Why each of them is not fitted on every point (what the dashboard tells its user).
FIT_WHY: dict[str, str] = {"agglomerative": "all their pairwise distances in memory",
                           "hdbscan": "minutes to hours", "gmm": "a minute or more per change"}


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

    def clip(self, value: float) -> float:
        """A number moved into this parameter's range (a data-derived start, e.g. DBSCAN's suggested eps)."""
        lo = -np.inf if self.min is None else self.min
        hi = np.inf if self.max is None else self.max
        return float(min(max(value, lo), hi))

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
        None,  # cluster() runs it on a NeighbourIndex (see neighbours.dbscan_labels)
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


#: The parameters that define a clustering to a reader, by method (the others, restarts and iterations, only
#: refine the same clustering); the number of clusters reads as k.
_DEFINING = {"kmeans": ("n_clusters",), "agglomerative": ("n_clusters", "linkage"), "gmm": ("n_components",),
             "dbscan": ("eps", "min_samples"), "hdbscan": ("min_cluster_size", "min_samples")}


def describe(name: str, params: dict[str, Any] | None = None) -> str:
    """The clustering behind a metric in a few words: ``"K-Means, k = 8"``, ``"DBSCAN, eps = 1.08, min_samples = 5"``.

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
    return ", ".join([entry.label if entry else name] + bits)


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
    unknown = set(params) - set(entry.params)
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {sorted(unknown)}; it takes {sorted(entry.params)}")
    values = {k: p.check(k, params.get(k, p.default)) for k, p in entry.params.items()}
    Z = check_latents(Z) if index is None else index.Z
    n = len(Z)
    for key in ("n_clusters", "n_components"):
        if key in values and values[key] > n:
            raise ValueError(f"{name}: {key}={values[key]} is more than the {n} points")
    if name == "hdbscan" and values["min_cluster_size"] > n:
        raise ValueError(f"hdbscan: min_cluster_size={values['min_cluster_size']} is more than the {n} points")

    fitted_on = FIT_MAX.get(name) if n > FIT_MAX.get(name, n) else None
    assigned = ""
    if name == "dbscan":
        if index is None or index.metric != values["metric"]:
            index = NeighbourIndex(Z, metric=values["metric"])
        labels = dbscan_labels(index, eps=values["eps"], min_samples=values["min_samples"])
    else:
        estimator = entry.build(random_state=random_state, **values)
        if fitted_on is None:
            labels = estimator.fit_predict(Z)
        else:
            rows = np.sort(np.random.default_rng(random_state).choice(n, size=fitted_on, replace=False))
            sampled = estimator.fit_predict(Z[rows])
            assigned = "model" if hasattr(estimator, "predict") else "nearest"
            if assigned == "model":  # a model of the whole space (the mixture): its own assignment
                labels = estimator.predict(Z)
            else:
                labels = nearest_sampled_labels(Z, Z[rows], sampled, metric=values.get("metric", "euclidean"))
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
    """Renumber clusters 0..m-1 by first appearance (keeps -1 for noise, drops empty ids)."""
    out = np.full(labels.shape, -1, dtype=np.int64)
    ok = labels >= 0
    if ok.any():
        _, first, inverse = np.unique(labels[ok], return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))
        out[ok] = order[inverse]
    return out

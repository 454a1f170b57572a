"""Choosing DBSCAN's eps: the k-distance curve, its knee, a starting eps that finds clusters, and the eps range."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.clustering.neighbours import NeighbourIndex, dbscan_labels

__all__ = ["k_distance", "knee", "suggest_eps", "EpsChoice", "choose_eps", "eps_top", "EpsRange", "eps_range",
           "NOISE_MAX", "SCAN_QUANTILES"]

#: A starting eps may leave at most this share of the points as noise: beyond it, the "clusters" are a few
#: dense specks and most of the map is grey. Fixed by reasoning about what a reader can use, not from labels.
NOISE_MAX = 1 / 3
#: The k-distance quantiles the scan tries as eps (the knee alone gave one cluster on the demo corpus).
SCAN_QUANTILES = np.linspace(0.05, 0.99, 40)


def k_distance(Z: np.ndarray | NeighbourIndex, *, k: int) -> np.ndarray:
    """Sorted distance of every point to its k-th nearest other point (the DBSCAN k-distance plot).

    Z : np.ndarray, shape=(n, d), or a NeighbourIndex of it.
    k : neighbour rank, the point itself not counted (use ``k = min_samples - 1``).

    Returns np.ndarray, shape=(n,), ascending.
    """
    index = Z if isinstance(Z, NeighbourIndex) else NeighbourIndex(Z)
    return np.sort(index.kneighbour_distances(k)[:, k - 1])


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


def eps_top(kdist: np.ndarray) -> float:
    """The top of a useful eps range: twice the 99th percentile of the k-distances (every point is then
    core, and one cluster holds them all; larger eps change nothing)."""
    return float(np.quantile(np.asarray(kdist, dtype=np.float64), 0.99)) * 2


@dataclass(frozen=True)
class EpsChoice:
    """Where DBSCAN's eps starts (:func:`choose_eps`).

    ``eps``: the start; ``knee``: the k-distance knee; ``found``: whether some scanned eps gave at least 2
    clusters with at most :data:`NOISE_MAX` noise (else ``eps`` is the knee); ``n_clusters`` and ``noise``: what
    ``eps`` gives; ``scanned``: ``(low, high)`` eps of the scan; ``most_clusters``: the most clusters any
    scanned eps gave, whatever its noise.
    """

    eps: float
    knee: float
    found: bool
    n_clusters: int
    noise: float
    scanned: tuple[float, float]
    most_clusters: int

    def why(self) -> str:
        """The choice in words, for a slider's help or a page's note."""
        low, high = self.scanned
        if self.found:
            return (f"eps {self.eps:.3g} gives the most clusters ({self.n_clusters}) of the eps between {low:.3g} "
                    f"and {high:.3g} that leave at most {NOISE_MAX:.0%} of the points as noise "
                    f"(the k-distance knee, {self.knee:.3g}, is the classic start)")
        return (f"no eps between {low:.3g} and {high:.3g} gives 2 or more clusters with at most {NOISE_MAX:.0%} "
                f"of the points as noise (the most clusters at any eps: {self.most_clusters}, with more noise); "
                f"eps starts at the k-distance knee, {self.knee:.3g}")


def choose_eps(index: NeighbourIndex, *, min_samples: int) -> EpsChoice:
    """A starting eps for DBSCAN with ``min_samples`` on ``index``, chosen without labels.

    DBSCAN runs at each k-distance quantile of :data:`SCAN_QUANTILES` (``k = min_samples - 1``); among the eps
    that give at least 2 clusters with at most :data:`NOISE_MAX` of the points as noise, the one with the most
    clusters (ties: the least noise) is the start. The knee of the k-distance curve, the textbook start, often
    lies where one cluster already holds nearly every point; the scan looks on both sides of it. When no eps
    qualifies, ``found`` is False and the knee is returned: the latents have no density structure DBSCAN
    can find at this ``min_samples``.
    """
    kdist = k_distance(index, k=max(1, int(min_samples) - 1))
    at_knee = float(kdist[knee(kdist)])
    grid = np.unique(np.quantile(kdist, SCAN_QUANTILES))
    grid = grid[grid > 0]
    best: tuple | None = None
    most = 0
    for eps in grid:
        labels = dbscan_labels(index, eps=float(eps), min_samples=int(min_samples))
        clustered = labels[labels >= 0]
        n_clusters = len(np.unique(clustered))
        noise = 1.0 - len(clustered) / len(labels)
        most = max(most, n_clusters)
        if n_clusters >= 2 and noise <= NOISE_MAX:
            key = (n_clusters, -noise)
            if best is None or key > best[0]:
                best = (key, float(eps), n_clusters, noise)
    scanned = (float(grid[0]), float(grid[-1])) if len(grid) else (at_knee, at_knee)
    if best is None:
        labels = dbscan_labels(index, eps=at_knee, min_samples=int(min_samples)) if at_knee > 0 else None
        n = 0 if labels is None else len(np.unique(labels[labels >= 0]))
        noise = 1.0 if labels is None else float((labels < 0).mean())
        return EpsChoice(at_knee, at_knee, False, n, noise, scanned, most)
    _, eps, n_clusters, noise = best
    return EpsChoice(eps, at_knee, True, n_clusters, noise, scanned, most)


@dataclass(frozen=True)
class EpsRange:
    """The eps a slider offers on some latents (:func:`eps_range`): ``low`` to ``high`` in steps of ``step``.

    ``top``: the largest useful eps (:func:`eps_top`), within the bounds; an eps kept from other latents above it
    means nothing here. ``suggested``: the start :func:`choose_eps` chose.
    """

    low: float
    high: float
    step: float
    top: float
    suggested: float

    def start(self, current: float | None = None) -> float:
        """Where the slider starts: ``current`` (an eps chosen before; None: the suggestion), no higher than
        ``top`` and no lower than ``low``, to three decimals."""
        value = self.suggested if current is None else float(current)
        return round(max(self.low, min(value, self.top)), 3)


def eps_range(kdist: np.ndarray, choice: EpsChoice, bounds) -> EpsRange:
    """The eps range over the k-distances ``kdist`` (:func:`k_distance`), with ``choice`` (:func:`choose_eps`)
    as its suggestion.

    bounds : the eps setting's spec (:class:`core.params.Spec`): the range never leaves its widget range
        (``widget_range``, ``clip(..., widget=True)``), and its ``step`` is the finest step.

    The range runs from the lowest eps the spec offers to :func:`eps_top` of the k-distances (at least one
    step above the lowest), in 200 steps: finer steps than the data need would only make the slider jumpy.
    """
    low = float(bounds.widget_range[0])
    top = round(bounds.clip(eps_top(kdist), widget=True), 3)
    return EpsRange(low=low, high=max(top, low + bounds.step), step=round(top / 200, 4) or bounds.step, top=top,
                    suggested=float(choice.eps))

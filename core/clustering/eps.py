"""Choosing DBSCAN's eps: the k-distance curve and its knee."""

from __future__ import annotations

import numpy as np

from core.clustering.neighbours import NeighbourIndex

__all__ = ["k_distance", "knee", "suggest_eps"]


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

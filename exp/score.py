"""Scoring of track embeddings against labels, with core's K-Means settings (sklearn, here only).

K-Means as ``core.clustering`` runs it: k-means++, n_init=10, max_iter=300, random_state=seed, on the
raw (unstandardised) embeddings, as ``core.evaluate`` does. NMI is sklearn's (arithmetic mean).
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def nmi_kmeans(Z: np.ndarray, labels: np.ndarray, *, seed: int, k: int | None = None) -> tuple[float, float]:
    """(NMI, ARI) of K-Means(k = #labels) on Z against ``labels``."""
    k = k or len(set(labels))
    pred = KMeans(n_clusters=k, n_init=10, max_iter=300, init="k-means++", random_state=seed).fit_predict(
        np.asarray(Z, dtype=np.float64))
    return normalized_mutual_info_score(labels, pred), adjusted_rand_score(labels, pred)


def active_units(Z: np.ndarray, kl_dims: np.ndarray, *, thresh: float = 0.01) -> tuple[int, int]:
    """(# dims with Var_x(E[z|x]) > thresh over tracks, # dims with mean KL > thresh nats)."""
    return int((np.var(Z, axis=0) > thresh).sum()), int((kl_dims > thresh).sum())

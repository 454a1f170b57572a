"""Clustering of latent vectors: one registry for every method the dashboard offers.

=============  ====================================================  ================
name           method                                                noise (-1)?
=============  ====================================================  ================
kmeans         sklearn.cluster.KMeans                                no
dbscan         DBSCAN on a reusable neighbour graph (NeighbourIndex) yes
agglomerative  sklearn.cluster.AgglomerativeClustering               no
hdbscan        sklearn.cluster.HDBSCAN                               yes
gmm            sklearn.mixture.GaussianMixture (hard labels)         no
=============  ====================================================  ================

* :mod:`~core.clustering.registry` -- ``CLUSTERERS`` (each method's parameters: specs of :mod:`core.params`),
  ``cluster(name, Z, **params)``, ``describe`` (a clustering and what it found, in words: the one wording every
  page uses)
* :mod:`~core.clustering.neighbours` -- ``NeighbourIndex``: the graph DBSCAN's sliders filter (the radius
  graph up to ``RADIUS_MAX`` = 20,000 points, the kNN graph above)
* :mod:`~core.clustering.eps` -- the k-distance curve, its knee, the suggested eps, ``choose_eps``: a
  starting eps that gives clusters (a scan of the k-distance quantiles, without labels), and ``eps_range``:
  the eps a slider offers on some latents and where it starts

Noise: DBSCAN and HDBSCAN label points that belong to no cluster ``-1``. A
:class:`ClusterResult` reports ``n_clusters`` (noise not counted) and
``noise_fraction`` (share of points labelled -1); :mod:`core.metrics` states how
noise enters each metric.

Large collections: Agglomerative above 10,000 points, HDBSCAN above 20,000, and the Gaussian mixture and
DBSCAN above 100,000 (``FIT_MAX``) are fitted on a seeded uniform sample; the mixture then assigns every
point its most likely component, and the others give every other point the label of its nearest
sampled point; ``ClusterResult.fitted_on`` says so. K-Means uses every point. With a
:class:`NeighbourIndex`, the sample and the nearest sampled point of every point are kept by the index
(:meth:`NeighbourIndex.sample`), so a parameter move labels a million points with one gather.

The eps slider: pass one index as ``cluster("dbscan", Z, index=idx, eps=...)``;
a smaller eps than any asked before only filters the cached radius graph, and
above 20,000 points every eps and min_samples move filters the cached kNN graph (of the sample above
100,000 points: :func:`dbscan_sample`, whose k-distances choose eps).
"""

from core.clustering.eps import (NOISE_MAX, EpsChoice, EpsRange, choose_eps, eps_range, eps_top, k_distance, knee,
                                 suggest_eps)
from core.clustering.neighbours import DENSE_MAX, KNN_GRAPH, RADIUS_MAX, IndexSample, NeighbourIndex
from core.clustering.registry import (CLUSTERERS, FIT_MAX, FIT_WHY, Clusterer, ClusterResult, cluster, dbscan_sample,
                                     describe, describe_result)

__all__ = [
    "Clusterer", "ClusterResult", "CLUSTERERS", "FIT_MAX", "FIT_WHY", "NeighbourIndex", "IndexSample", "DENSE_MAX",
    "KNN_GRAPH", "RADIUS_MAX",
    "cluster", "dbscan_sample", "describe", "describe_result", "k_distance", "knee", "suggest_eps", "EpsChoice", "choose_eps", "eps_top", "EpsRange", "eps_range",
    "NOISE_MAX",
]

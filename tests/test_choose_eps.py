"""DBSCAN's starting eps: a scan of the k-distance quantiles that finds clusters where the knee finds one,
and says so when no eps finds any; metrics of one cluster are undefined, with the reason."""

from __future__ import annotations

import numpy as np

from core.clustering import NOISE_MAX, NeighbourIndex, choose_eps, cluster, describe, suggest_eps
from core.metrics import EXTERNAL, external


def _blobs_and_a_halo(seed: int = 0) -> np.ndarray:
    """Four tight blobs inside a sparse halo: the k-distance curve bends where the halo starts, at an eps
    that already joins the blobs through the halo."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [3, 0], [0, 3], [3, 3]], dtype=float)
    blobs = np.concatenate([c + rng.normal(scale=0.15, size=(40, 2)) for c in centres])
    halo = rng.uniform(-2, 5, size=(60, 2))
    return np.concatenate([blobs, halo])


def test_the_start_gives_clusters_with_bounded_noise_where_the_knee_gives_fewer():
    index = NeighbourIndex(_blobs_and_a_halo())
    choice = choose_eps(index, min_samples=5)
    at_knee = cluster("dbscan", index.Z, index=index, eps=suggest_eps(index, k=4), min_samples=5)
    started = cluster("dbscan", index.Z, index=index, eps=choice.eps, min_samples=5)
    assert choice.found and started.n_clusters == choice.n_clusters >= 2
    assert started.noise_fraction <= NOISE_MAX
    assert started.n_clusters > at_knee.n_clusters, (started.noise_fraction, at_knee.noise_fraction)
    assert f"{choice.eps:.3g}" in choice.why() and "most clusters" in choice.why()


def test_without_density_structure_the_choice_says_so():
    index = NeighbourIndex(np.random.default_rng(1).normal(size=(150, 3)))  # one Gaussian: no dense regions
    choice = choose_eps(index, min_samples=40)
    assert not choice.found
    assert choice.eps == choice.knee
    assert "no eps between" in choice.why()


def test_one_cluster_leaves_every_external_metric_undefined_with_the_reason():
    one = external(np.zeros(6, dtype=int), ["a", "b", "a", "b", "a", "a"])
    assert set(one) == set(EXTERNAL)
    assert all(not v.ok and "only one cluster" in v.reason for v in one.values())  # not completeness 1.0
    with_noise = external(np.array([0, 0, 0, -1, -1, 0]), ["a", "b", "a", "b", "a", "b"])
    assert all(not v.ok for v in with_noise.values())
    two = external(np.array([0, 0, 0, 1, 1, 1]), ["a", "a", "a", "b", "b", "b"])
    assert two["nmi"].value == 1.0


def test_a_clustering_is_named_by_what_defines_it():
    assert describe("kmeans", {"n_clusters": 8, "n_init": 10, "max_iter": 300}) == "K-Means, k = 8"
    assert describe("gmm", {"n_components": 2}) == "Gaussian mixture, k = 2"
    assert describe("dbscan", {"eps": 1.0786, "min_samples": 5, "metric": "euclidean"}) == \
        "DBSCAN, eps = 1.08, min_samples = 5"

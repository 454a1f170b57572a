"""DBSCAN's starting eps: a scan of the k-distance quantiles that finds clusters where the knee finds one,
and says so when no eps finds any; the eps range a slider offers; metrics of one cluster are undefined, with
the reason; a clustering in words."""

from __future__ import annotations

import numpy as np

from core import params
from core.clustering import (NOISE_MAX, ClusterResult, NeighbourIndex, choose_eps, cluster, describe, eps_range,
                             eps_top, k_distance, suggest_eps)
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
    found = ClusterResult("dbscan", np.array([0, 0, 1, -1]), n_clusters=2, noise_fraction=0.25)
    assert describe("dbscan", {"eps": 1.0786, "min_samples": 5}, found) == \
        "DBSCAN, eps = 1.08, min_samples = 5 → 2 clusters, 25% noise"
    one = ClusterResult("hdbscan", np.zeros(50, dtype=int), n_clusters=1, noise_fraction=0.0, fitted_on=20_000)
    assert describe("hdbscan", {}, one) == "HDBSCAN → 1 cluster (fitted on a sample of 20,000 points)"


def test_the_eps_range_spans_the_k_distances_within_the_spec_and_starts_at_the_suggestion():
    index = NeighbourIndex(_blobs_and_a_halo())
    kdist = k_distance(index, k=4)
    choice = choose_eps(index, min_samples=5)
    spec = params.SPECS["eps"]
    span = eps_range(kdist, choice, spec)
    assert span.low == spec.widget_range[0] and span.top == round(eps_top(kdist), 3) == span.high
    assert span.step == round(span.top / 200, 4) and span.suggested == choice.eps
    assert span.start() == round(choice.eps, 3)
    assert span.start(0.123456) == 0.123 and span.start(span.top * 10) == span.top  # a kept eps, within range
    assert span.start(0.0) == span.low
    tiny = eps_range(kdist * 1e-6, choice, spec)  # k-distances below the spec's lowest eps: one step of room
    assert tiny.top == tiny.low and tiny.high == tiny.low + spec.step

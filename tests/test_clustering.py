"""Clusterers on synthetic blobs, DBSCAN noise, the eps knee, and parameter checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import DBSCAN
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from core.clustering import CLUSTERERS, NeighbourIndex, cluster, k_distance, knee, suggest_eps
from core.clustering.neighbours import filter_graph


@pytest.fixture(scope="module")
def blobs():
    Z, y = make_blobs(n_samples=300, centers=[[0, 0], [8, 0], [0, 8]], cluster_std=0.6, random_state=1)
    return Z, y


def test_every_method_has_typed_defaults_within_range():
    assert set(CLUSTERERS) == {"kmeans", "dbscan", "agglomerative", "hdbscan", "gmm"}
    for name, entry in CLUSTERERS.items():
        assert entry.params, name
        for pname, p in entry.params.items():
            assert p.check(p.default) == p.default
            if p.kind in ("int", "float"):
                assert p.low <= p.default <= p.high and p.step > 0
            else:
                assert p.default in p.choices


@pytest.mark.parametrize("name,params", [
    ("kmeans", {"n_clusters": 3}),
    ("agglomerative", {"n_clusters": 3}),
    ("gmm", {"n_components": 3}),
    ("hdbscan", {"min_cluster_size": 20}),
    ("dbscan", {"eps": 1.0, "min_samples": 5}),
])
def test_methods_find_the_blobs(blobs, name, params):
    Z, y = blobs
    res = cluster(name, Z, random_state=0, **params)
    assert res.labels.shape == (len(Z),)
    assert res.n_clusters == 3
    keep = res.labels >= 0
    assert adjusted_rand_score(y[keep], res.labels[keep]) > 0.95
    assert res.params == {**CLUSTERERS[name].default_params(), **params}


def test_kmeans_is_reproducible_with_random_state(blobs):
    Z, _ = blobs
    a = cluster("kmeans", Z, random_state=3, n_clusters=5, n_init=1, init="random")
    b = cluster("kmeans", Z, random_state=3, n_clusters=5, n_init=1, init="random")
    np.testing.assert_array_equal(a.labels, b.labels)


def test_dbscan_marks_far_points_as_noise(blobs):
    Z, _ = blobs
    outliers = np.array([[30.0, 30.0], [-30.0, 30.0], [30.0, -30.0], [-25.0, -25.0]])
    Zo = np.vstack([Z, outliers])
    res = cluster("dbscan", Zo, eps=1.0, min_samples=5)
    assert res.n_clusters == 3
    assert (res.labels[-4:] == -1).all()
    assert res.noise_fraction == pytest.approx((res.labels == -1).sum() / len(Zo))
    assert res.noise_fraction >= 4 / len(Zo)


def test_dbscan_matches_sklearn_core_points_and_noise_across_eps(blobs):
    Z, _ = blobs
    index = NeighbourIndex(Z)
    for eps in (1.5, 0.4, 0.2, 0.8):  # larger first: the smaller ones filter the cached graph
        ours = cluster("dbscan", Z, index=index, eps=eps, min_samples=6)
        ref = DBSCAN(eps=eps, min_samples=6).fit(Z).labels_
        np.testing.assert_array_equal(ours.labels == -1, ref == -1)
        assert adjusted_rand_score(ref, ours.labels) > 0.98
        assert ours.n_clusters == len(set(ref) - {-1})


def test_all_noise_gives_zero_clusters(blobs):
    Z, _ = blobs
    res = cluster("dbscan", Z, eps=1e-3, min_samples=10)
    assert res.n_clusters == 0 and res.noise_fraction == 1.0


def test_bad_parameters_are_named():
    Z = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="unknown clustering method 'nope'"):
        cluster("nope", Z)
    with pytest.raises(ValueError, match="has no parameter"):
        cluster("kmeans", Z, eps=0.3)
    with pytest.raises(ValueError, match="eps=-1"):
        cluster("dbscan", Z, eps=-1)
    with pytest.raises(ValueError, match="n_clusters=30 is more than the 20 points"):
        cluster("kmeans", Z, n_clusters=30)
    with pytest.raises(ValueError, match="ward linkage"):
        cluster("agglomerative", Z, linkage="ward", metric="cosine")
    with pytest.raises(ValueError, match="non-finite"):
        cluster("kmeans", np.array([[0.0, np.nan], [1.0, 1.0], [2.0, 2.0]]))
    with pytest.raises(ValueError, match="parameter n_clusters=2.5 must be a whole number from 2 to 10000"):
        cluster("kmeans", Z, n_clusters=2.5)
    assert cluster("kmeans", Z, n_clusters=4.0, n_init=1).params["n_clusters"] == 4


def test_knee_on_a_known_curve():
    # Flat at slope 0.01 for 80 points, then slope 1: the bend is at index 79.
    x = np.arange(100, dtype=float)
    y = np.where(x < 80, 0.01 * x, 0.79 + (x - 79))
    assert knee(y) == 79
    assert knee(np.linspace(0, 1, 11)) == 5  # a straight line: no knee, the middle


def test_k_distance_is_sorted_kth_neighbour_and_eps_separates_outliers():
    grid = np.array([[i, j] for i in range(10) for j in range(10)], dtype=float)  # spacing 1
    far = np.array([[100.0, 100.0], [200.0, -50.0]])
    Z = np.vstack([grid, far])
    d = k_distance(Z, k=1)
    assert d.shape == (len(Z),)
    assert np.all(np.diff(d) >= 0)
    assert np.allclose(d[:100], 1.0)
    assert d[-1] > 50
    eps = suggest_eps(Z, k=3)
    assert 1.0 <= eps < 50
    res = cluster("dbscan", Z, eps=eps, min_samples=4)
    assert res.n_clusters == 1 and (res.labels[-2:] == -1).all()


def test_a_smaller_eps_after_a_graph_whose_last_row_is_empty():
    """DBSCAN: pressing the eps slider's left arrow once raised an IndexError in add.reduceat.

    The cached radius graph of the larger eps has an empty last row (an isolated point);
    filtering it for the smaller eps crashed. The index is shared by every dashboard session,
    so the answer must not depend on which eps anyone asked before.
    """
    line = np.c_[np.arange(10.0), np.zeros(10)]
    Z = np.vstack([line, [[100.0, 0.0]]])  # the last point has no neighbour below eps 91
    shared = NeighbourIndex(Z)
    cluster("dbscan", Z, index=shared, eps=1.5, min_samples=2)  # another session's eps: caches the graph
    moved = cluster("dbscan", Z, index=shared, eps=1.2, min_samples=2)  # one step left: filters it
    assert moved.labels.tolist() == [0] * 10 + [-1]
    fresh = cluster("dbscan", Z, index=NeighbourIndex(Z), eps=1.2, min_samples=2)
    np.testing.assert_array_equal(moved.labels, fresh.labels)


def test_filtering_the_radius_graph_equals_a_fresh_search_with_empty_rows_anywhere():
    rng = np.random.default_rng(4)
    Z = np.vstack([rng.normal(0, 1, (40, 2)), [[50.0, 50.0]], rng.normal(0, 1, (20, 2)), [[-60.0, 0.0]]])
    index = NeighbourIndex(Z)
    big = index.radius_graph(1.0)
    assert np.diff(big.indptr)[[40, -1]].tolist() == [0, 0]  # isolated points in the middle and at the end
    for eps in (0.8, 0.3, 0.05, 1e-9):
        filtered = filter_graph(big, eps)
        reference = NeighbourIndex(Z).radius_graph(eps)
        np.testing.assert_array_equal(filtered.indptr, reference.indptr)
        np.testing.assert_allclose(filtered.toarray(), reference.toarray())

"""Metrics against hand-computed small cases, noise handling and undefined metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import normalized_mutual_info_score, silhouette_score

from core.clustering import NeighbourIndex, cluster
from core.metrics import EXTERNAL, MetricValue, contingency, coverage, external, internal, purity, report

# 3 clusters + 2 noise points; classes a/b.
LABELS = np.array([0, 0, 0, 1, 1, 1, 2, 2, -1, -1])
TRUTH = np.array(["a", "a", "b", "b", "b", "b", "a", "a", "a", "b"], dtype=object)


def test_contingency_counts_and_both_normalisations():
    t = contingency(LABELS, TRUTH)
    assert list(t.index) == [0, 1, 2, "noise"]
    assert list(t.columns) == ["a", "b"]
    assert t.to_numpy().tolist() == [[2, 1], [0, 3], [2, 0], [1, 1]]
    by_cluster = contingency(LABELS, TRUTH, normalize="cluster")
    np.testing.assert_allclose(by_cluster.sum(axis=1), 1.0)
    np.testing.assert_allclose(by_cluster.loc[0].to_numpy(), [2 / 3, 1 / 3])
    by_class = contingency(LABELS, TRUTH, normalize="class")
    np.testing.assert_allclose(by_class.sum(axis=0), 1.0)
    np.testing.assert_allclose(by_class["a"].to_numpy(), [2 / 5, 0, 2 / 5, 1 / 5])
    with pytest.raises(ValueError, match="normalize"):
        contingency(LABELS, TRUTH, normalize="rows")


def test_purity_leaves_noise_and_unknown_labels_out():
    # clustered points only: majority counts 2 + 3 + 2 = 7 of the 8 clustered points
    assert purity(LABELS, TRUTH).value == pytest.approx(7 / 8)
    # an unknown label is left out: clearing a clustered 'b' (row 2) leaves 2 + 3 + 2 = 7 of 7
    truth = TRUTH.copy()
    truth[2] = ""
    assert purity(LABELS, truth).value == pytest.approx(1.0)
    assert coverage(LABELS) == pytest.approx(0.8)


def test_sending_mixed_points_to_noise_is_visible_in_coverage():
    """Moving the mixed points of every cluster to noise games purity and NMI, under the old
    rule (noise counted as one extra cluster) as well; the report shows it as lost coverage."""
    truth = np.repeat(["a", "b", "c"], 10).astype(object)
    honest = np.repeat([0, 1, 2], 10)
    mixed = np.array([8, 9, 18, 19, 28, 29])  # 2 points of each class sit in the next class's cluster
    honest[mixed] = (honest[mixed] + 1) % 3
    gamed = honest.copy()
    gamed[mixed] = -1

    def old_purity(labels):  # noise as one cluster: majority of every row, noise row included
        return contingency(labels, truth).max(axis=1).sum() / len(labels)

    assert old_purity(gamed) > old_purity(honest)  # 26/30 > 24/30: the old claim was false
    assert normalized_mutual_info_score(truth, gamed) > normalized_mutual_info_score(truth, honest)

    Z = np.random.default_rng(0).normal(size=(30, 2))
    frame = pd.DataFrame({"genre": truth})
    fair, tricked = report(Z, honest, frame), report(Z, gamed, frame)
    assert fair["coverage"] == 1.0 and tricked["coverage"] == pytest.approx(0.8)
    assert tricked["purity_genre"] == pytest.approx(1.0) and fair["purity_genre"] == pytest.approx(0.8)
    kept = gamed >= 0  # the external metrics are those of the clustered points
    assert tricked["nmi_genre"] == pytest.approx(normalized_mutual_info_score(truth[kept], gamed[kept]))


def test_external_perfect_and_permuted():
    truth = np.array(["x"] * 5 + ["y"] * 5)
    labels = np.array([1] * 5 + [0] * 5)
    out = external(labels, truth)
    assert set(out) == set(EXTERNAL)
    for name in EXTERNAL:
        assert out[name].value == pytest.approx(1.0), name
    split = external(np.arange(10), truth)  # every point its own cluster
    assert split["homogeneity"].value == pytest.approx(1.0)
    assert split["completeness"].value < 0.5
    assert split["purity"].value == pytest.approx(1.0)


def test_internal_leaves_noise_out():
    rng = np.random.default_rng(0)
    Z = np.vstack([rng.normal(0, 0.1, (20, 2)), rng.normal(5, 0.1, (20, 2)), [[50.0, -50.0]]])
    labels = np.array([0] * 20 + [1] * 20 + [-1])
    out = internal(Z, labels)
    assert out["silhouette"].value == pytest.approx(silhouette_score(Z[:40], labels[:40]))
    assert out["silhouette"].value > 0.9
    assert out["davies_bouldin"].value < 0.1
    assert out["calinski_harabasz"].value > 100


def test_sampled_silhouette_is_close_to_exact():
    rng = np.random.default_rng(1)
    Z = np.vstack([rng.normal(0, 1, (1500, 2)), rng.normal(4, 1, (1500, 2))])
    labels = np.array([0] * 1500 + [1] * 1500)
    exact = internal(Z, labels)["silhouette"].value
    sampled = internal(Z, labels, sample_size=500, random_state=0)["silhouette"].value
    assert sampled != exact
    assert sampled == pytest.approx(exact, abs=0.03)


@pytest.mark.parametrize("labels,reason", [
    (np.zeros(6, dtype=int), "only one cluster"),
    (np.full(6, -1), "every point is noise"),
    (np.array([0, 1, 2, 3, 4, 5]), "every point is its own cluster"),
])
def test_undefined_internal_metrics_have_reasons(labels, reason):
    Z = np.arange(12, dtype=float).reshape(6, 2)
    out = internal(Z, labels)
    assert not out["silhouette"].ok
    assert reason in out["silhouette"].reason
    assert np.isnan(float(out["silhouette"]))
    assert "n/a" in str(out["silhouette"])


def test_undefined_external_metrics_have_reasons():
    one_class = external(np.array([0, 1, 0, 1]), ["a", "a", "a", "a"])
    assert all(not v.ok and "only one class" in v.reason for v in one_class.values())
    unlabelled = external(np.array([0, 1, 0, 1]), ["", "", None, "a"])
    assert all("fewer than 2" in v.reason for v in unlabelled.values())
    all_noise = external(np.full(4, -1), ["a", "b", "a", "b"])
    assert all("noise" in v.reason for v in all_noise.values())
    assert MetricValue(0.5).ok and str(MetricValue(0.5)) == "0.5000"


def test_report_is_flat_with_notes():
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(len(LABELS), 2))
    truth = pd.DataFrame({"genre": TRUTH, "language": ["eng"] * 10})
    row = report(Z, LABELS, truth)
    for key in ("silhouette", "calinski_harabasz", "davies_bouldin", "coverage", "n_clusters",
                "ari_genre", "nmi_genre", "purity_genre", "homogeneity_genre", "completeness_genre",
                "ari_language", "notes"):
        assert key in row, key
    assert row["coverage"] == pytest.approx(0.8)
    assert row["n_clusters"] == 3
    assert row["purity_genre"] == pytest.approx(7 / 8)
    assert row["ari_language"] is None and "only one class" in row["notes"]
    assert all(v is None or isinstance(v, (int, float, str)) for v in row.values())
    only_genre = report(Z, LABELS, truth, label_columns=["genre"])
    assert "ari_language" not in only_genre


def test_silhouette_from_the_index_distance_matrix_matches_sklearn():
    rng = np.random.default_rng(3)
    Z = np.vstack([rng.normal(0, 0.3, (60, 3)), rng.normal(2, 0.3, (60, 3)), rng.uniform(-6, 8, (15, 3))])
    index = NeighbourIndex(Z)
    res = cluster("dbscan", Z, index=index, eps=0.5, min_samples=5)
    assert res.noise_fraction > 0 and res.n_clusters >= 2
    labels = res.labels.copy()
    labels[np.flatnonzero(labels == 0)[0]] = labels.max() + 1  # a singleton cluster scores 0
    keep = labels >= 0
    fast = internal(Z, labels, index=index)
    assert fast["silhouette"].value == pytest.approx(silhouette_score(Z[keep], labels[keep]), abs=1e-12)
    assert fast == internal(Z, labels) or fast["silhouette"].value == pytest.approx(
        internal(Z, labels)["silhouette"].value, abs=1e-12)

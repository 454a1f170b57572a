"""A million tracks, tested small: projections laid out on a sample and the rest placed, DBSCAN fitted on a sample
kept by the neighbour index, metrics computed from per-cluster sums and count tables (the same values as
scikit-learn's), search over a prepared index, and neighbours by track id. The sizes are lowered with
monkeypatch; the million-point timings are bench/bench_pages_scale.py's (no timing asserts here)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.neighbors import NearestNeighbors

import core.projections as projections
from core import explore, metrics, synthetic
from core.clustering import NeighbourIndex, cluster, dbscan_sample, k_distance, registry
from core.params import SPECS
from core.scoring import cluster_and_score


# ------------------------------------------------------------------------------------------- projections
def test_above_the_layout_sample_a_seeded_sample_is_laid_out_and_the_rest_placed(monkeypatch):
    Z, comp = synthetic.latents(600, 4, n_clusters=3, spread=10.0, random_state=3)
    rows = projections.layout_rows(600, 150, random_state=0)
    np.testing.assert_array_equal(rows, projections.layout_rows(600, 150, random_state=0))  # seeded
    assert len(np.unique(rows)) == 150 and (np.diff(rows) > 0).all()
    calls = []
    Y = project_small(Z, progress=lambda d, t, m="": calls.append((d, t, m)))
    assert Y.shape == (600, 2) and Y.dtype == np.float32 and np.isfinite(Y).all()
    # the sampled rows hold the layout of the sample alone (the same seed, the same parameters)
    alone = projections.project(Z[rows], method="tsne", cache=False, n_iter=50, early_exaggeration_iter=25)
    np.testing.assert_allclose(Y[rows], alone, rtol=1e-5, atol=1e-5)
    # the others: the 1/d²-weighted mean of their 5 nearest sampled rows' positions
    others = np.setdiff1d(np.arange(600), rows)
    dist, idx = NearestNeighbors(n_neighbors=5).fit(Z[rows]).kneighbors(Z[others])
    w = 1 / np.maximum(dist, 1e-12) ** 2
    np.testing.assert_allclose(Y[others], (alone[idx] * w[..., None]).sum(1) / w.sum(1, keepdims=True),
                               rtol=1e-4, atol=1e-4)
    # the blobs stay apart, and progress covers both stages, ending at its total
    assert skm.adjusted_rand_score(comp, _kmeans3(Y)) > 0.95
    messages = " ".join(m for _, _, m in calls)
    assert "150-point sample" in messages and "placing the other 450 points" in messages
    assert calls[-1][0] == calls[-1][1]
    assert all(d <= t for d, t, _ in calls)


def project_small(Z, **kwargs):
    return projections.project(Z, method="tsne", cache=False, n_iter=50, early_exaggeration_iter=25,
                               layout_sample=150, **kwargs)


def _kmeans3(Y):
    from sklearn.cluster import KMeans
    return KMeans(3, n_init=3, random_state=0).fit_predict(Y)


def test_umap_places_with_its_own_metric_and_pca_fits_every_point(monkeypatch):
    seen = []
    real = projections.place

    def spy(Z, rows, layout, **kwargs):
        seen.append((len(rows), kwargs["metric"]))
        return real(Z, rows, layout, **kwargs)

    monkeypatch.setattr(projections, "place", spy)
    monkeypatch.setattr(projections, "_umap", lambda X, *, dim, **kw: X[:, :dim] * 2)  # a stand-in layout
    Z = np.random.default_rng(0).normal(size=(300, 3))
    Y = projections.project(Z, method="umap", cache=False, layout_sample=100, metric="manhattan")
    assert seen == [(100, "manhattan")] and Y.shape == (300, 2)
    assert projections.project(Z, method="pca", cache=False).shape == (300, 2) and len(seen) == 1
    with pytest.raises(ValueError, match="layout_sample"):
        projections.project(Z, method="tsne", cache=False, layout_sample=10)  # below the spec's range
    assert SPECS["layout_sample"].default == projections.PROJECTION_PARAMS["tsne"]["layout_sample"].default


def test_the_sample_size_keys_the_cache_only_where_it_changes_the_result(monkeypatch):
    Z = np.random.default_rng(1).normal(size=(150, 3))
    values = {k: p.default for k, p in projections.PROJECTION_PARAMS["tsne"].items() if k != "layout_sample"}
    before = projections.cache_key(Z, method="tsne", dim=2, random_state=0, params=values)
    keys = []

    def remember(self, key, compute, **kwargs):
        keys.append(key)
        return {"value": np.zeros((len(Z), 2), dtype=np.float32)}

    monkeypatch.setattr(projections.FeatureCache, "get_or_compute", remember)
    projections.project(Z, method="tsne")
    projections.project(Z, method="tsne", layout_sample=100)
    assert keys[0] == before  # 150 points, fewer than the sample: the key of before the setting existed
    assert keys[1] != before  # 150 points above a sample of 100: another result, another key


def test_place_puts_a_point_on_a_sampled_point_it_duplicates_and_refuses_a_bad_layout():
    Z = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [0.0, 0.0], [5.0, 0.0]])
    layout = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    out = projections.place(Z, np.array([0, 1, 2]), layout, neighbours=2)
    np.testing.assert_allclose(out[:3], layout)
    np.testing.assert_allclose(out[3], [1.0, 1.0], atol=1e-9)  # a copy of row 0 lands on it
    np.testing.assert_allclose(out[4], [1.5, 1.5], atol=1e-6)  # halfway between rows 0 and 1: their mean
    with pytest.raises(ValueError, match="layout must be"):
        projections.place(Z, np.array([0, 1]), layout)


# ------------------------------------------------------------------------------------------- DBSCAN on a sample
@pytest.fixture()
def small_fit(monkeypatch):
    """DBSCAN above 400 points is fitted on a 400-point sample (above 100,000 in production)."""
    monkeypatch.setitem(registry.FIT_MAX, "dbscan", 400)


def test_dbscan_above_its_limit_runs_on_the_index_sample_and_labels_the_rest_by_nearest(small_fit):
    Z, comp = synthetic.latents(2000, 3, n_clusters=4, spread=12.0, random_state=5)
    index = NeighbourIndex(Z)
    sample = dbscan_sample(index)
    assert sample is index.sample(400) and len(sample) == 400  # kept: every call, the same object
    kdist = k_distance(sample.index, k=4)  # the k-distances that choose eps are the sample's
    assert kdist.shape == (400,)
    eps = float(np.quantile(kdist, 0.9))
    result = cluster("dbscan", Z, index=index, eps=eps, min_samples=5)
    assert result.fitted_on == 400 and result.assigned == "nearest" and result.labels.shape == (2000,)
    # the sample's own DBSCAN, spread by the nearest sampled point (brute force here)
    alone = cluster("dbscan", Z[sample.rows], eps=eps, min_samples=5).labels
    nearest = NearestNeighbors(n_neighbors=1).fit(Z[sample.rows]).kneighbors(Z, return_distance=False)[:, 0]
    assert skm.adjusted_rand_score(alone[nearest], result.labels) == 1.0
    np.testing.assert_array_equal(alone[nearest] < 0, result.labels < 0)
    assert skm.adjusted_rand_score(comp, result.labels) > 0.95
    # every point is its own nearest sampled point when it is sampled
    np.testing.assert_array_equal(sample.nearest()[sample.rows], np.arange(400))
    # without an index, the same sample and the same labels
    np.testing.assert_array_equal(cluster("dbscan", Z, eps=eps, min_samples=5).labels, result.labels)
    small = NeighbourIndex(Z[:400])
    assert dbscan_sample(small) is None and cluster("dbscan", Z[:400], index=small, eps=eps).fitted_on is None


def test_the_methods_fitted_on_a_sample_reuse_the_index_nearest_rows(monkeypatch):
    monkeypatch.setitem(registry.FIT_MAX, "hdbscan", 300)
    Z, _ = synthetic.latents(1500, 3, n_clusters=3, spread=12.0, random_state=2)
    index = NeighbourIndex(Z)
    with_index = cluster("hdbscan", Z, index=index, min_cluster_size=15)
    assert index.sample(300).nearest() is index.sample(300).nearest()  # searched once, kept
    np.testing.assert_array_equal(with_index.labels, cluster("hdbscan", Z, min_cluster_size=15).labels)


# ------------------------------------------------------------------------------------------- metrics
def _clustered(n=20_000, k=300, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) + rng.integers(0, 5, size=(n, 1))
    labels = rng.integers(-1, k, n)
    truth = rng.choice(np.array(["rock", "pop", "", "hip hop", None], dtype=object), n)
    return X, labels, truth


def test_internal_metrics_from_per_cluster_sums_equal_sklearns_with_hundreds_of_clusters():
    X, labels, _ = _clustered()
    ours = metrics.internal(X, labels, sample_size=2000)
    keep = labels >= 0
    assert ours["calinski_harabasz"].value == pytest.approx(skm.calinski_harabasz_score(X[keep], labels[keep]),
                                                            rel=1e-9)
    assert ours["davies_bouldin"].value == pytest.approx(skm.davies_bouldin_score(X[keep], labels[keep]), rel=1e-9)
    two = np.array([0, 0, 1, 1])
    same = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [2.0, 2.0]])
    assert metrics.internal(same, two)["davies_bouldin"].value == pytest.approx(skm.davies_bouldin_score(same, two))


@pytest.mark.parametrize("as_category", [False, True])
def test_external_metrics_and_the_count_table_from_codes_equal_sklearns(as_category):
    _, labels, truth = _clustered(seed=2)
    given = pd.Series(truth, dtype="category") if as_category else truth
    ours = metrics.external(labels, given)
    known = metrics.known_labels(truth) & (labels >= 0)
    t, lab = truth[known].astype(str), labels[known]
    assert ours["ari"].value == pytest.approx(skm.adjusted_rand_score(t, lab), rel=1e-9, abs=1e-12)
    assert ours["nmi"].value == pytest.approx(skm.normalized_mutual_info_score(t, lab), rel=1e-9, abs=1e-12)
    h, c, _ = skm.homogeneity_completeness_v_measure(t, lab)
    assert ours["homogeneity"].value == pytest.approx(h, rel=1e-9, abs=1e-12)
    assert ours["completeness"].value == pytest.approx(c, rel=1e-9, abs=1e-12)
    table = metrics.contingency(labels, given)
    kept = metrics.known_labels(truth)
    reference = pd.crosstab(pd.Series(labels[kept], name="cluster"), pd.Series(truth[kept].astype(str), name="class"))
    np.testing.assert_array_equal(table.drop(index="noise").to_numpy(), reference.drop(index=-1).to_numpy())
    assert list(table.columns) == list(reference.columns) and table.index[-1] == "noise"
    assert metrics.purity(labels, given).value == pytest.approx(ours["purity"].value)
    perfect = metrics.external(np.array([0, 0, 1, 1]), pd.Categorical(["a", "a", "b", "b"]))
    assert perfect["nmi"].value == 1.0 and perfect["ari"].value == 1.0


def test_an_eps_move_on_the_sample_scores_every_point_with_categorical_labels(small_fit):
    Z, comp = synthetic.latents(3000, 3, n_clusters=4, spread=12.0, random_state=6)
    index = NeighbourIndex(Z)
    truth = pd.DataFrame({"genre": pd.Categorical(np.array(["a", "b", "c", "d"])[comp])})
    eps = float(np.quantile(k_distance(dbscan_sample(index).index, k=4), 0.9))
    result, report = cluster_and_score(Z, clusterer="dbscan", params={"eps": eps, "min_samples": 5},
                                       labels=truth, index=index)
    plain, plain_report = cluster_and_score(Z, clusterer="dbscan", params={"eps": eps, "min_samples": 5},
                                            labels=truth.astype(str), index=index)
    np.testing.assert_array_equal(result.labels, plain.labels)
    assert report["nmi_genre"] == pytest.approx(plain_report["nmi_genre"]) and report["nmi_genre"] > 0.9


# ------------------------------------------------------------------------------------------- search, neighbours
def _tracks(n=400):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"track_id": [f"synth.{i:07d}" for i in range(n)],
                         "genre": pd.Categorical(rng.choice(["rock", "pop", "hip hop"], n)),
                         "language": rng.choice(["eng", "bng", ""], n),
                         "title": [f"Song {i} of {'Love' if i % 7 == 0 else 'Rain'}" for i in range(n)],
                         "x": rng.normal(size=n), "path": [f"/audio/rock/{i}.wav" for i in range(n)]})


@pytest.mark.parametrize("query", ["rock", "ROCK eng", "genre:pop", "love", "0000012", "synth.00000", "hip",
                                   "hip hop", "language:bn", "nothing-here", "", "   ", "genre:", "title:rain pop",
                                   "no-column:x", "0.1"])
def test_the_search_index_matches_what_a_scan_of_every_row_matches(query):
    tracks = _tracks()
    columns = [c for c in tracks.columns if c not in ("x", "y")]
    index = explore.TrackSearch(tracks, columns=columns)
    expected = _scan(tracks, query, columns)
    np.testing.assert_array_equal(index.match(query), expected)
    np.testing.assert_array_equal(explore.search(tracks, query, columns=columns), expected)


def _scan(tracks, query, columns):
    """The search's rule, row by row: every word occurs (case-insensitive substring) in some searched column
    of the row, or in the named column for ``column:word``."""
    words = query.split()
    where = [c for c in columns if c not in ("path", "lyrics")]
    out = np.zeros(len(tracks), dtype=bool)
    if not words:
        return out
    for i, row in tracks.iterrows():
        ok = True
        for word in words:
            column, sep, value = word.partition(":")
            if sep and value and column in tracks.columns:
                ok &= value.lower() in str(row[column]).lower()
            else:
                ok &= any(word.lower() in str(row[c]).lower() for c in where)
        out[i] = ok
    return out


def test_nearest_tracks_finds_the_row_of_a_track_id_through_an_index_of_ids():
    Z = np.random.default_rng(4).normal(size=(300, 3))
    ids = [f"t{i}" for i in range(300)]
    index = NeighbourIndex(Z)
    by_list = explore.nearest_tracks(index, ids, "t42", k=5)
    by_index = explore.nearest_tracks(index, pd.Index(ids), "t42", k=5)
    pd.testing.assert_frame_equal(by_list, by_index)
    brute = np.argsort(np.linalg.norm(Z - Z[42], axis=1))[1:6]
    np.testing.assert_array_equal(by_index["row"], brute)
    with pytest.raises(Exception, match="no latent vector"):
        explore.nearest_tracks(index, pd.Index(ids), "nope")


# ------------------------------------------------------------------------------------------- the pages
def test_a_cluster_box_lists_the_largest_clusters_and_noise_and_says_so(monkeypatch):
    from ui import scale
    labels = np.array([0] * 3 + [1] * 9 + [2] * 5 + [3] + [-1] * 2)
    assert scale.cluster_choices(labels) == ([0, 1, 2, 3, -1], "")
    monkeypatch.setattr(scale, "CLUSTER_CHOICES_MAX", 2)
    choices, note = scale.cluster_choices(labels)
    assert choices == [1, 2, -1] and "The 2 largest of the 4 clusters" in note
    assert scale.cluster_choices(np.full(4, -1)) == ([-1], "")


@pytest.fixture()
def demo_app(tmp_path, monkeypatch):
    """The dashboard on the tiny demo corpus (24 tracks)."""
    from core import config
    from tests.helpers import tiny_demo
    corpus_dir = tiny_demo(tmp_path / "demo")
    monkeypatch.setenv("SONGSCAPE_CORPUS", f"manifest:{corpus_dir / 'manifest.csv'}")
    monkeypatch.setenv("SONGSCAPE_NO_WARMUP", "1")
    monkeypatch.setattr(config, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(config, "DATA_DIR", tmp_path)

    def start(page: str):
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file("../app.py", default_timeout=240)
        at.run()
        at.switch_page(f"views/{page}_page.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at
    return start


def _array(values) -> np.ndarray:
    """A Plotly figure's array as the browser gets it: a list, or base64 bytes of a dtype."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
    return np.asarray(values)


@pytest.mark.slow
def test_dbscan_above_its_limit_is_fitted_on_a_sample_whose_k_distances_the_plot_shows(demo_app, monkeypatch):
    """The Clusters page with DBSCAN's limit lowered to 12 of the demo's 24 tracks: the k-distance plot is of
    the sample and its caption says so, the page notes the sampled fit, an eps move relabels every track, and
    the heatmap and the listening box follow."""
    from ui import scale
    monkeypatch.setitem(registry.FIT_MAX, "dbscan", 12)
    monkeypatch.setattr(scale, "CLUSTER_CHOICES_MAX", 1)
    at = demo_app("clusters")
    at.segmented_control(key="clusters_algorithm").set_value("dbscan").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any("kdist" in c.proto.id for c in at.get("plotly_chart"))  # built only when its expander opens
    at.session_state["clusters_kdist_open"] = True
    at.run()
    kdist = next(c for c in at.get("plotly_chart") if c.proto.id and "kdist" in c.proto.id)
    assert len(_array(json.loads(kdist.proto.spec)["data"][0]["x"])) == 12  # the sample's k-distances
    captions = [c.value for c in at.caption]
    assert any(c.startswith("The k-distances of the fixed uniform random sample of 12 of the 24 tracks") for c in captions)
    assert any("DBSCAN was fitted on a fixed uniform random sample of 12 of the 24" in i.value for i in at.info)
    eps = at.slider(key="dbscan_eps")
    at.slider(key="dbscan_eps").set_value(round((eps.min + eps.max) / 2, 3)).run()  # one eps move
    assert not at.exception, [e.value for e in at.exception]
    clusters = int(next(m.value for m in at.metric if m.label == "clusters"))
    listed = at.selectbox(key="listen_cluster").options
    assert len([o for o in listed if o != "noise"]) == min(1, clusters)
    if clusters > 1:
        assert any(c.startswith(f"The 1 largest of the {clusters} clusters") for c in captions + [c.value for c in at.caption])


@pytest.mark.slow
def test_the_latent_page_says_which_figures_are_of_a_sample(demo_app, monkeypatch):
    from core import information
    monkeypatch.setattr(information, "MAX_ROWS", 10)
    at = demo_app("latent")
    assert any("Estimated on a fixed uniform random sample of 10 of the 24 tracks" in c.value for c in at.caption)
    box = at.selectbox(key="trav_track")
    at.selectbox(key="interp_b").set_value(box.options[-1]).run()  # a track's row found through the id index
    assert not at.exception, [e.value for e in at.exception]


def test_a_corpus_finds_its_tracks_rows_by_an_id_index_kept_with_its_table():
    from core.corpus import Corpus
    tracks = pd.DataFrame({"track_id": [f"t{i}" for i in range(6)], "genre": list("abcabc"), "language": "eng",
                           "path": "", "lyrics": ""})
    corpus = Corpus(tracks, None, [], "six", ())
    np.testing.assert_array_equal(corpus.rows_of(["t4", "t0"]), [4, 0])
    assert corpus.subset(["t4", "t0"]).track_ids == ["t4", "t0"]
    with pytest.raises(KeyError, match="no track 'nope'"):
        corpus.subset(["t1", "nope"])
    corpus.tracks = corpus.tracks.iloc[::-1].reset_index(drop=True)  # another table: another index
    np.testing.assert_array_equal(corpus.rows_of(["t4"]), [1])

"""Large collections: DBSCAN on the kNN graph, the sampled silhouette, t-SNE's large-n settings,
Dask encoding, the generator, training that streams whole-clip stores, and pages that draw a sample of
a million points. Small data here; the 100,000-point figures are in bench/ (no timing asserts in tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score
from streamlit.testing.v1 import AppTest

from core import checkpoint, config, latents, projections, synthetic
from core.clustering import NeighbourIndex, cluster, neighbours, suggest_eps
from core.corpus.feature_table import read_feature_table
from core.inputs import build_inputs
from core.metrics import external, internal, silhouette_rows
from core.scoring import cluster_and_score
from tests.helpers import tiny_demo
from ui import scale

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def knn_mode(monkeypatch):
    """Make every index above 100 points use the kNN graph (as above 20,000 in production)."""
    monkeypatch.setattr(neighbours, "RADIUS_MAX", 100)
    monkeypatch.setattr(neighbours, "KNN_GRAPH", 12)


def test_dbscan_on_the_knn_graph_has_sklearns_noise_and_clusters(knn_mode):
    Z, _ = synthetic.latents(3000, 4, n_clusters=6, random_state=1)
    index = NeighbourIndex(Z)
    knee = suggest_eps(index, k=4)
    for eps, min_samples in [(knee * 1.3, 5), (knee, 5), (knee * 0.7, 5), (knee, 3), (knee, 12), (knee, 20)]:
        ours = cluster("dbscan", Z, index=index, eps=eps, min_samples=min_samples)
        ref = DBSCAN(eps=eps, min_samples=min_samples).fit(Z).labels_
        np.testing.assert_array_equal(ours.labels == -1, ref == -1)  # core/border/noise: exact
        assert adjusted_rand_score(ref, ours.labels) > 0.99
    assert index._knn[0].shape[1] >= 19  # min_samples 20 widened the graph (min_samples - 1 neighbours)


def test_the_knn_graph_holds_only_pairs_within_eps_sorted_by_distance(knn_mode):
    Z, _ = synthetic.latents(500, 3, random_state=2)
    index = NeighbourIndex(Z)
    g = index.graph(1.0, 5)
    assert g.shape == (500, 500) and g.nnz > 0 and (g.data <= 1.0).all()
    assert (np.diff(g.getrow(7).data) >= 0).all()
    d = np.linalg.norm(Z[7] - Z[g.getrow(7).indices], axis=1)
    np.testing.assert_allclose(d, g.getrow(7).data, rtol=1e-6)
    assert np.diff(g.indptr).max() <= index._knn[0].shape[1]


def test_sampled_silhouette_is_the_same_with_and_without_the_index_and_matches_sklearn():
    Z, _ = synthetic.latents(6000, 3, n_clusters=5, random_state=3)
    Z = Z.astype(np.float64)
    index = NeighbourIndex(Z)
    labels = cluster("dbscan", Z, index=index, eps=0.6, min_samples=5).labels
    assert (labels < 0).any()
    fast = internal(Z, labels, sample_size=1500, random_state=4, index=index)["silhouette"].value
    slow = internal(Z, labels, sample_size=1500, random_state=4)["silhouette"].value
    rows = silhouette_rows(len(Z), 1500, random_state=4)
    kept = rows[labels[rows] >= 0]
    assert fast == pytest.approx(slow, abs=1e-12)
    assert fast == pytest.approx(silhouette_score(Z[kept], labels[kept]), abs=1e-9)
    # the same sample on every move: the index keeps its distance matrix
    D = index.distances_among(rows)
    assert index.distances_among(rows) is D


def test_external_metrics_on_codes_equal_sklearn_on_strings_with_unknown_labels():
    rng = np.random.default_rng(5)
    labels = rng.integers(-1, 6, 2000)
    truth = rng.choice(["rock", "jazz", "", "pop", None], 2000).astype(object)
    out = external(labels, truth)
    keep = (labels >= 0) & np.array([t not in ("", None) for t in truth])
    t = truth[keep].astype(str)
    assert out["nmi"].value == pytest.approx(normalized_mutual_info_score(t, labels[keep]))
    assert out["ari"].value == pytest.approx(adjusted_rand_score(t, labels[keep]))
    table = pd.crosstab(labels[keep], t)
    assert out["purity"].value == pytest.approx(table.max(axis=1).sum() / keep.sum())
    assert "only one class ('x')" in external(np.array([0, 1, 1]), np.array(["x", "x", ""], dtype=object))["ari"].reason


def test_an_eps_move_scores_through_one_path_with_the_knn_index(knn_mode):
    Z, comp = synthetic.latents(2000, 4, n_clusters=4, random_state=6)
    truth = pd.DataFrame({"genre": [f"g{c}" for c in comp]})
    index = NeighbourIndex(Z)
    res, row = cluster_and_score(Z, clusterer="dbscan", params={"eps": 1.0, "min_samples": 5}, labels=truth,
                                 index=index)
    fresh = cluster_and_score(Z, clusterer="dbscan", params={"eps": 1.0, "min_samples": 5}, labels=truth)[1]
    assert row["n_clusters"] == res.n_clusters >= 2
    assert row["nmi_genre"] == pytest.approx(fresh["nmi_genre"])


def test_tsne_above_the_exact_limit_uses_the_scalable_settings(monkeypatch):
    monkeypatch.setattr(projections, "TSNE_EXACT_MAX", 100)
    Z, _ = synthetic.latents(400, 5, n_clusters=3, random_state=7)
    seen = []
    Y = projections.project(Z, method="tsne", cache=False, n_iter=50, early_exaggeration_iter=25,
                            progress=lambda d, t, m="": seen.append((d, t)))
    assert Y.shape == (400, 2) and np.isfinite(Y).all()
    assert seen[-1] == (1, 1) and any(t == 75 for _, t in seen)
    Y3 = projections.project(Z, method="tsne", dim=3, cache=False, n_iter=50, early_exaggeration_iter=25)
    assert Y3.shape == (400, 3)  # 3-D stays on Barnes-Hut (openTSNE's FFT is 2-D only)


def test_generated_feature_table_reads_as_a_corpus(tmp_path, shared_data):
    template = shared_data / "features" / "gtzan_banglabeats_30s.csv"
    path = synthetic.feature_table(tmp_path / "synth.csv", 300, template=template, random_state=1)
    corpus = read_feature_table(path)
    assert len(corpus) == 300 and corpus.features57.shape == (300, 57)
    real = set(pd.read_csv(template)["label"])
    assert set(corpus.tracks["genre"]) <= real and set(corpus.tracks["language"]) <= {"eng", "bng"}
    plain = read_feature_table(synthetic.feature_table(tmp_path / "plain.csv", 50))
    assert plain.tracks["genre"].nunique() > 1
    with pytest.raises(ValueError, match="n=0"):
        synthetic.latents(0)


def test_encoding_on_a_dask_cluster_equals_local_encoding(tmp_path, monkeypatch):
    model = checkpoint.load(ROOT / "checkpoints" / "basic.pt")
    corpus = read_feature_table(synthetic.feature_table(tmp_path / "t.csv", 700, random_state=8))
    inputs, _ = build_inputs(corpus, needs=model.needs)
    expected = model.encode(inputs)
    monkeypatch.setattr(latents, "ENCODE_TASK_TRACKS", 128)  # 6 chunks
    seen = []
    ids, Z = latents._encode_on_cluster(model, corpus, cluster="local:2",
                                        progress=lambda d, t, m="": seen.append(d))
    assert ids == inputs.track_ids
    np.testing.assert_allclose(Z, expected, rtol=1e-5, atol=1e-6)
    assert sorted(seen) == seen and seen[-1] == 700 and len(seen) == 6


def test_explore_draws_a_sample_of_a_million_points_with_a_note():
    Z, _ = synthetic.latents(1_000_000, 8, random_state=9)
    assert Z.shape == (1_000_000, 8) and Z.dtype == np.float32
    rows = scale.scatter_rows(len(Z))
    assert len(rows) == scale.SCATTER_MAX and len(np.unique(rows)) == len(rows) and rows.max() < len(Z)
    np.testing.assert_array_equal(rows, scale.scatter_rows(len(Z)))  # the same sample on every rerun
    assert "100,000 of the 1,000,000" in scale.sample_note(len(Z))
    assert scale.scatter_rows(5000) is None and scale.sample_note(5000) == ""


@pytest.mark.slow
def test_explore_page_draws_the_sample_and_says_so(tmp_path, monkeypatch):
    """The page path of the degrade, with the limit lowered to 10 points of the tiny demo corpus."""
    corpus_dir = tiny_demo(tmp_path / "demo")
    monkeypatch.setenv("SONGSCAPE_CORPUS", f"manifest:{corpus_dir / 'manifest.csv'}")
    monkeypatch.setattr(config, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(config, "DATA_DIR", tmp_path)
    monkeypatch.setattr(scale, "SCATTER_MAX", 10)
    at = AppTest.from_file("../app.py", default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("uniform random sample of 10 of the" in i.value for i in at.info)
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert sum(len(trace["customdata"]) for trace in figure["data"]) == 10  # x, y are base64 arrays


# ---------------------------------------------------------------- training streams
def _mapped_kb(path: Path) -> int | None:
    """Resident kB of this process's mappings of ``path`` (``/proc/self/smaps``), None without /proc."""
    smaps = Path("/proc/self/smaps")
    if not smaps.exists():
        return None
    total, inside = 0, False
    for line in smaps.read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:  # a mapping's first line: range perms offset dev inode [path]
            inside = len(head) >= 6 and head[-1] == str(path.resolve())
        elif inside and line.startswith("Rss:"):
            total += int(head[1])
    return total


def test_reading_a_whole_clip_store_keeps_none_of_it_in_the_process(tmp_path):
    """Crops, band statistics and whole clips are read with pread: after reading every frame of a
    13 MB store the process holds none of its pages (through the map they would all stay resident
    and a long training run's RSS would grow to the size of the store)."""
    from core.features.melstore import MelClips
    rng = np.random.default_rng(0)
    clips = [rng.uniform(-100, 0, (128, 256)).astype(np.float32) for _ in range(200)]
    store = MelClips.write(tmp_path / "store.npy", clips, params={"n_mels": 128}, key="k")
    if _mapped_kb(tmp_path / "store.npy") is None:
        pytest.skip("needs /proc/self/smaps (Linux)")
    mean, std = store.band_stats()
    full = np.concatenate([c.astype(np.float16).astype(np.float64) for c in clips], 1)
    np.testing.assert_allclose(mean, full.mean(1), rtol=1e-5)
    np.testing.assert_allclose(std, full.std(1), rtol=1e-4)
    batch = store.crops(np.arange(200), np.full(200, 100), 200)  # the last 56 frames padded with the floor
    np.testing.assert_array_equal(batch[:, :, :156], np.stack([c[:, 100:] for c in clips]).astype(np.float16))
    assert (batch[:, :, 156:] == store.floor_db).all()
    np.testing.assert_array_equal(store.subset([7]).clip(0), clips[7].astype(np.float16))
    assert _mapped_kb(tmp_path / "store.npy") < 64  # every frame read, no page kept (13,000 kB through the map)
    assert isinstance(store.frames, np.memmap)  # the map still says what the store holds


def test_spectrogram_training_data_keeps_the_lyrics_sparse():
    """The lyrics TF-IDF of the training data is one sparse row per track (dense: 200 MB at 100,000
    tracks), made dense a batch at a time, with the same values as the dense transform."""
    from scipy import sparse

    from core.inputs import ModelInputs
    from core.lyrics import LyricsTfidf
    from core.models.preprocessing import ClipPrep
    texts = [f"w{i % 97} w{(3 * i) % 89} w{i % 7}" if i % 5 else "" for i in range(3000)]
    prep = ClipPrep(None, 16, None, None, LyricsTfidf(max_features=512).fit(texts))
    data = prep.training_data(ModelInputs([f"t{i}" for i in range(3000)], lyrics=texts))
    assert sparse.issparse(data.lyr) and data.lyr.shape == (3000, prep.lyrics_dim)
    assert data.lyr.nnz <= 3 * 3000  # at most the words of each text, not 3000 x V values
    dense, mask = prep.tfidf.transform(texts)
    rows = np.array([4, 5, 2999, 10])
    batch = data.batch(rows)
    np.testing.assert_array_equal(batch["lyr"].numpy(), dense[rows])
    np.testing.assert_array_equal(batch["lmask"].numpy(), mask[rows])
    assert not mask[[5, 10]].any() and mask[[4, 2999]].all()


def test_each_epoch_evaluates_a_fixed_sample_of_at_most_eval_rows(monkeypatch):
    """Without a validation split (the spectrogram VAEs' default) an epoch's evaluation reads at most
    EVAL_ROWS tracks, the same seeded sample every epoch, not the whole corpus."""
    import torch

    from core.models.losses import VAELoss
    from core.models.vae import MLPVAE
    from core.training import TrainConfig, init_parameters, loop, train

    class Source:  # a batch source that records the rows the evaluation asks for
        def __init__(self, x):
            self.x, self.eval_rows = x, []

        def __len__(self):
            return len(self.x)

        def batch(self, idx, *, rng=None, device=None):
            if rng is None:
                self.eval_rows.append(np.asarray(idx))
            return {"x": self.x[torch.as_tensor(idx)]}

    class Monitor:
        def __init__(self):
            self.shapes = []

        def on_validation(self, *, epoch, latents):
            self.shapes.append(latents.shape)

    monkeypatch.setattr(loop, "EVAL_ROWS", 40)
    source, monitor = Source(torch.randn(300, 6, generator=torch.Generator().manual_seed(0))), Monitor()
    module = init_parameters(MLPVAE(6, (8,), 2), generator=torch.Generator().manual_seed(0))
    train(module, VAELoss(), source, TrainConfig(epochs=3, batch_size=32, val_fraction=0.0, steps_per_epoch=2),
          callback=monitor, random_state=3)
    assert monitor.shapes == [(40, 2)] * 3
    assert len(source.eval_rows) == 3 and all(np.array_equal(r, source.eval_rows[0]) for r in source.eval_rows)
    rows = source.eval_rows[0]
    assert len(np.unique(rows)) == 40 and (np.diff(rows) > 0).all() and rows.max() < 300
    np.testing.assert_array_equal(loop.evaluation_rows(np.arange(30), random_state=3), np.arange(30))  # all when few


# ---------------------------------------------------------------- a million points on every page
def test_methods_that_cannot_scale_are_fitted_on_a_sample_and_every_point_labelled(monkeypatch):
    """Above FIT_MAX points Agglomerative (all pairwise distances), HDBSCAN and the mixture are fitted on
    a seeded sample; the mixture assigns every point, the others give every other point the label of
    its nearest sampled point, noise included."""
    from core.clustering import registry
    monkeypatch.setattr(registry, "FIT_MAX", {"agglomerative": 300, "hdbscan": 300})  # the mixture added below
    Z, comp = synthetic.latents(3000, 4, n_clusters=3, spread=12.0, random_state=2)
    monkeypatch.setitem(registry.FIT_MAX, "gmm", 300)
    for name, params in (("agglomerative", {"n_clusters": 3}), ("hdbscan", {"min_cluster_size": 15}),
                         ("gmm", {"n_components": 3})):
        result = cluster(name, Z, random_state=0, **params)
        assert result.fitted_on == 300 and result.labels.shape == (3000,)
        assert result.assigned == ("model" if name == "gmm" else "nearest")
        note = scale.fit_note(result, 3000)
        assert "300 of the 3,000" in note and ("fitted model" in note) == (name == "gmm")
        clustered = result.labels >= 0
        assert clustered.mean() > 0.9 and adjusted_rand_score(comp[clustered], result.labels[clustered]) > 0.99
    far = np.vstack([Z, [[500.0, 500.0, 500.0, 500.0]]])  # one outlier: HDBSCAN's noise, and its nearest sampled
    rows = np.sort(np.random.default_rng(0).choice(len(far), size=300, replace=False))  # the same seeded sample
    far[rows[-1]] = far[-1] + 0.01  # make the last sampled point an outlier beside it
    result = cluster("hdbscan", far, random_state=0, min_cluster_size=15)
    assert result.labels[rows[-1]] == -1 and result.labels[-1] == -1  # noise stays noise for its nearest neighbour
    small = cluster("agglomerative", Z[:300], n_clusters=3)
    assert small.fitted_on is None and small.assigned == ""  # at or below the limit: every point
    assert scale.fit_note(small, 300) == ""


def test_contingency_keeps_the_largest_clusters_and_sums_the_others():
    from core.metrics import contingency
    labels = np.array([0] * 5 + [1] * 2 + [2] * 4 + [3] * 1 + [-1] * 3)
    truth = np.array(list("aabbb" + "ab" + "aaaa" + "b" + "ab") + [""], dtype=object)  # the last: unknown
    full = contingency(labels, truth)
    table = contingency(labels, truth, max_rows=2)
    assert list(table.index) == [0, 2, "other", "noise"]
    assert table.loc["other"].tolist() == [1, 2] and table.loc[0].tolist() == full.loc[0].tolist()
    assert int(table.to_numpy().sum()) == int(full.to_numpy().sum()) == 14
    np.testing.assert_allclose(contingency(labels, truth, normalize="class", max_rows=2).sum(axis=0), 1.0)
    np.testing.assert_allclose(contingency(labels, truth, normalize="cluster", max_rows=2).loc["other"], [1 / 3, 2 / 3])
    assert list(contingency(labels, truth, max_rows=4).index) == [0, 1, 2, 3, "noise"]  # nothing to merge


def test_the_k_distance_curve_is_drawn_through_at_most_2000_points():
    from ui import figures
    kdist = np.sort(np.random.default_rng(0).random(1_000_000))
    fig = figures.k_distance(kdist, k=4, suggested=0.5, eps=0.4)
    x = np.asarray(fig.data[0].x)
    assert len(x) <= 2000 and x[0] == 0 and x[-1] == len(kdist) - 1
    np.testing.assert_array_equal(np.asarray(fig.data[0].y), kdist[x])
    assert len(figures.k_distance(kdist[:500], k=4, suggested=0.5, eps=0.4).data[0].x) == 500


def test_track_boxes_list_a_sample_and_take_any_typed_id(monkeypatch):
    tracks = pd.DataFrame({"track_id": [f"t{i}" for i in range(50)], "genre": "g", "language": "eng"})
    ids = tracks["track_id"].tolist()
    choices, note = scale.track_choices(tracks, ids)
    assert len(choices) == 50 and note == ""
    monkeypatch.setattr(scale, "CHOICES_MAX", 8)
    choices, note = scale.track_choices(tracks, ids)
    assert len(choices) == 8 and "8 of the 50" in note
    assert choices == scale.track_choices(tracks, ids)[0]  # the same sample every run
    label = next(iter(choices))
    assert scale.chosen_track(label, choices, set(ids)) == choices[label]
    unlisted = next(t for t in ids if t not in choices.values())
    assert scale.chosen_track(unlisted, choices, set(ids)) == unlisted  # typed in
    assert scale.chosen_track(" nope ", choices, set(ids)) is None and scale.chosen_track(None, choices, ids) is None


@pytest.mark.slow
def test_clusters_latent_and_data_pages_sample_and_say_so(tmp_path, monkeypatch):
    """The page paths of the degrades, with the limits lowered to a few tracks of the tiny demo corpus:
    the Clusters map draws the Explore sample, Agglomerative is fitted on a sample, the Latent and Data
    track boxes list a sample and take a typed id, the Data table lists a sample; each says so."""
    from core.clustering import registry
    corpus_dir = tiny_demo(tmp_path / "demo")
    monkeypatch.setenv("SONGSCAPE_CORPUS", f"manifest:{corpus_dir / 'manifest.csv'}")
    monkeypatch.setattr(config, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(config, "DATA_DIR", tmp_path)
    monkeypatch.setattr(scale, "SCATTER_MAX", 10)
    monkeypatch.setattr(scale, "CHOICES_MAX", 5)
    monkeypatch.setattr(scale, "TABLE_MAX", 6)
    monkeypatch.setattr(registry, "FIT_MAX", {"agglomerative": 12, "hdbscan": 12})
    monkeypatch.setattr(scale, "HEATMAP_ROWS", 2)
    at = AppTest.from_file("../app.py", default_timeout=180)
    at.run()
    at.switch_page("views/clusters_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("uniform random sample of 10 of the" in i.value for i in at.info)
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert sum(len(trace["customdata"]) for trace in figure["data"]) == 10
    at.segmented_control(key="clusters_algorithm").set_value("agglomerative").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("fitted on a fixed uniform random sample of 12 of the" in i.value for i in at.info)
    assert any(c.value.startswith("The 2 largest of the") for c in at.caption)  # the heatmaps: 2 + other
    heat = json.loads(at.get("plotly_chart")[1].proto.spec)["data"][0]
    assert heat["type"] == "heatmap" and heat["y"] == [heat["y"][0], heat["y"][1], "other"]

    at.switch_page("views/latent_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("list a fixed sample of 5 of the" in i.value for i in at.info)
    box = at.selectbox(key="trav_track")
    assert len(box.options) == 5
    at.switch_page("views/data_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("fixed sample of 6 of the" in i.value for i in at.info)
    assert len(at.dataframe[0].value) == 6 and len(at.selectbox(key="data_track").options) == 6

    # A typed track id (what the browser sends; AppTest cannot type one into a box, so the session
    # starts with it): any track, listed or not, and an unknown id is said to be unknown.
    listed = {o.split(" · ")[0] for o in box.options}
    unlisted = next(t for t in pd.read_csv(corpus_dir / "manifest.csv")["track_id"].astype(str) if t not in listed)
    at = AppTest.from_file("../app.py", default_timeout=180)
    at.session_state["trav_track"] = unlisted
    at.session_state["interp_a"] = "no-such-track"
    at.session_state["data_track"] = unlisted
    at.run()
    at.switch_page("views/latent_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    first = at.selectbox(key="interp_b").options[0]
    assert [w.value for w in at.warning] == [f"No track 'no-such-track' in this corpus: showing {first}."]
    for key in ("trav_track", "interp_a"):  # AppTest cannot send back a value that is not an option
        at.selectbox(key=key).set_value(at.selectbox(key=key).options[0])
    at.switch_page("views/data_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.value.startswith(f"**{unlisted}**") for m in at.markdown)

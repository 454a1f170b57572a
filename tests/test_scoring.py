"""The one scoring path: the label table, cluster_and_score with and without a shared index,
scores per label, evaluate scoring through it, and the models scored through it (the training monitor,
the checkpoint table)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import normalized_mutual_info_score

from core import model_scores, scoring
from core.clustering import NeighbourIndex, cluster
from core.corpus import Corpus
from core.errors import BadInputError
from core.evaluate import run as evaluate_run
from core.metrics import INTERNAL


@pytest.fixture(scope="module")
def blobs():
    Z, y = make_blobs(n_samples=120, centers=[[0, 0, 0], [6, 0, 0], [0, 6, 0], [6, 6, 6]], cluster_std=0.7,
                      random_state=2)
    truth = pd.DataFrame({"genre": np.array(["rock", "jazz", "pop", "folk"])[y],
                          "language": np.where(y < 2, "eng", "bng")})
    return Z, y, truth


def _corpus(ids, genres, languages) -> Corpus:
    tracks = pd.DataFrame({"track_id": ids, "genre": genres, "language": languages, "path": "", "lyrics": ""})
    return Corpus(tracks=tracks, name="test")


def test_label_table_follows_the_order_of_the_latent_rows():
    corpus = _corpus(["a", "b", "c"], ["rock", "jazz", "pop"], ["eng", "eng", "bng"])
    table = scoring.label_table(corpus, ["genre", "language"], track_ids=["c", "a"])
    assert table.to_dict("list") == {"genre": ["pop", "rock"], "language": ["bng", "eng"]}
    assert list(table.index) == [0, 1]
    assert list(scoring.label_table(corpus)["genre"]) == ["rock", "jazz", "pop"]
    with pytest.raises(BadInputError, match="no label column.*mood"):
        scoring.label_table(corpus, ["mood"])


@pytest.mark.parametrize("name,params", [("kmeans", {"n_clusters": 4}), ("dbscan", {"eps": 1.2, "min_samples": 5})])
def test_the_pages_shared_index_and_a_fresh_call_give_the_same_numbers(blobs, name, params):
    """The Clusters page scores through a NeighbourIndex shared by all sessions, evaluate without one."""
    Z, _, truth = blobs
    index = NeighbourIndex(Z)
    index.radius_graph(5.0)  # another session asked for a larger eps first
    on_page, page_row = scoring.cluster_and_score(Z, clusterer=name, params=params, labels=truth, index=index)
    fresh_row = scoring.score(Z, clusterer=name, params=params, labels=truth)
    assert page_row.keys() == fresh_row.keys()
    for key, value in fresh_row.items():
        assert page_row[key] == (pytest.approx(value, abs=1e-12) if isinstance(value, float) else value), key
    assert on_page.labels.shape == (len(Z),)
    kept = on_page.labels >= 0
    assert fresh_row["coverage"] == pytest.approx(kept.mean())
    assert fresh_row["nmi_genre"] == pytest.approx(
        normalized_mutual_info_score(truth["genre"][kept], on_page.labels[kept]))


def test_score_by_label_uses_k_equal_to_the_number_of_classes(blobs):
    Z, y, truth = blobs
    row = scoring.score_by_label(Z, truth, random_state=0)
    assert row["nmi_genre"] == pytest.approx(1.0)  # 4 genres = the 4 blobs
    two = cluster("kmeans", Z, n_clusters=2, random_state=0).labels
    assert row["nmi_language"] == pytest.approx(normalized_mutual_info_score(truth["language"], two))
    four = scoring.score(Z, clusterer="kmeans", params={"n_clusters": 4}, labels=truth[["genre"]])
    assert row["silhouette"] == pytest.approx(four["silhouette"])  # internal metrics: the k = #genres clustering


def test_training_monitor_scores_the_validation_latents_when_due(blobs):
    Z, _, _ = blobs
    monitor = model_scores.TrainingMonitor(n_clusters=4, every=2, random_state=0)
    assert monitor.on_validation(epoch=1, latents=Z) == {}
    metrics = monitor.on_validation(epoch=2, latents=Z)
    assert set(metrics) == set(INTERNAL)
    expected = scoring.score(Z, clusterer="kmeans", params={"n_clusters": 4}, random_state=0)
    assert metrics["silhouette"] == pytest.approx(expected["silhouette"])
    assert monitor.on_validation(epoch=2, latents=Z[:3]) == {}  # fewer points than clusters
    assert model_scores.TrainingMonitor(every=0).on_validation(epoch=4, latents=Z) == {}


def test_evaluate_scores_through_the_one_path(blobs, monkeypatch):
    Z, _, truth = blobs
    calls = []
    real = scoring.score

    def spy(*args, **kwargs):
        calls.append(kwargs["clusterer"])
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate_run, "score", spy)
    rows = evaluate_run._score(Z, "dbscan", [4], truth, seed=0)
    assert calls == ["dbscan"] and len(rows) == 1
    same = real(Z, clusterer="dbscan", params={"eps": rows[0]["eps"], "min_samples": 5}, labels=truth)
    assert rows[0]["nmi_genre"] == pytest.approx(same["nmi_genre"])


def test_the_compare_pages_checkpoint_table_names_each_models_beta(tmp_path):
    """The Compare page's checkpoint table gives each checkpoint's own β, read from its training config (where
    β lives, not the model config), and names a file that does not load instead of scoring it."""
    from types import SimpleNamespace

    from core import checkpoint
    from core.corpus import FEATURE_NAMES
    from core.inputs import build_inputs
    from core.models import create
    from tests.test_models import feature_inputs

    n = 30
    ids = [f"t{i}" for i in range(n)]
    X = feature_inputs(n=n, f=len(FEATURE_NAMES), seed=4).features
    tracks = pd.DataFrame({"track_id": ids, "path": "", "genre": ["a", "b", "c"] * 10, "language": "eng",
                           "source": "features"})
    corpus = Corpus(tracks, pd.DataFrame(X, index=ids, columns=list(FEATURE_NAMES)), [], "features")
    entries = []
    for beta in (1.0, 2.5):
        model = create("basic", epochs=2, beta=beta).fit(build_inputs(corpus, needs={"features"})[0])
        checkpoint.save(model, tmp_path / f"b{beta}.pt")
        entries.append(SimpleNamespace(name=f"b{beta}", path=tmp_path / f"b{beta}.pt"))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    entries.append(SimpleNamespace(name="bad", path=tmp_path / "bad.pt"))
    table = model_scores.score_checkpoints(corpus, entries).set_index("checkpoint")
    assert table.loc["b1.0", "β"] == 1.0 and table.loc["b2.5", "β"] == 2.5
    assert table.loc["b2.5", "model"] == "basic" and table.loc["b2.5", "latent"] == model.latent_dim
    assert 0.0 <= table.loc["b2.5", "nmi_genre"] <= 1.0
    assert "bad.pt" in table.loc["bad", "note"] or "checkpoint" in table.loc["bad", "note"]

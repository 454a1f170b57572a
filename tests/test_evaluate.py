"""The evaluate pipeline: the study's PCA row on the real table, and end-to-end runs on tiny corpora."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.cli import main
from core.clustering import cluster
from core.corpus import load_demo, read_feature_table
from core.evaluate import beta_sweep, evaluate, to_markdown
from core.inputs import build_inputs
from core.metrics import internal
from core.models import create
from tests.helpers import tiny_demo

TABLE = "features/gtzan_banglabeats_30s.csv"


def _small_table(shared_data: Path, tmp_path: Path, n_per_language: int = 40) -> Path:
    """A feature-table CSV with n tracks of each language, taken from the real study table."""
    df = pd.read_csv(shared_data / TABLE)
    part = pd.concat([g.sample(n_per_language, random_state=0) for _, g in df.groupby("language")])
    path = tmp_path / "small_table.csv"
    part.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_study_pca_row_silhouette(shared_data):
    """StandardScaler -> PCA(2) -> K-Means(k=2) on the study's 2,617 tracks: silhouette 0.3666."""
    corpus = read_feature_table(shared_data / TABLE)
    assert len(corpus) == 2617
    model = create("pca", inputs="features", latent_dim=2)
    inputs, skipped = build_inputs(corpus, needs=model.needs)
    assert not skipped and len(inputs) == 2617
    Z = model.fit(inputs).encode(inputs)
    assert Z.shape == (2617, 2)
    result = cluster("kmeans", Z, n_clusters=2, random_state=0)
    sil = internal(Z, result.labels)["silhouette"]
    assert sil.ok
    assert sil.value == pytest.approx(0.3666, abs=0.005)


def test_evaluate_features_only_corpus(shared_data, tmp_path):
    corpus = read_feature_table(_small_table(shared_data, tmp_path))
    calls = []
    df = evaluate(corpus, seeds=2, tasks=("easy", "medium", "hard"), epochs_scale=0.05, ks=[2, 3],
                  label_columns=["genre", "language"], progress=lambda d, t, m="": calls.append((d, t)))
    easy = df[df["task"] == "easy"]
    assert set(easy["model"]) == {"Basic VAE", "PCA"}
    assert set(easy["clustering"]) == {"kmeans"}
    assert set(easy["params"]) == {"k=2", "k=3"}
    for col in ("silhouette", "calinski_harabasz", "davies_bouldin", "coverage", "n_clusters",
                "ari_genre", "nmi_genre", "purity_genre", "ari_language", "nmi_language", "purity_language",
                "silhouette_std", "nmi_language_std"):
        assert col in df.columns, col
    assert easy["silhouette"].between(-1, 1).all()
    assert easy["purity_language"].between(0.5, 1).all()  # 2 balanced classes: purity >= 0.5
    assert (easy["seeds"] == 2).all() and (easy["n_tracks"] == 80).all()
    vae = easy[(easy["model"] == "Basic VAE") & (easy["params"] == "k=2")].iloc[0]
    assert vae["silhouette_std"] > 0  # two seeds really trained two different models
    pca = easy[(easy["model"] == "PCA") & (easy["params"] == "k=2")].iloc[0]
    assert pca["silhouette_std"] == pytest.approx(0.0, abs=1e-9)  # PCA is deterministic
    for task in ("medium", "hard"):
        rows = df[df["task"] == task]
        assert len(rows) == 1
        assert "skipped" in rows["note"].iloc[0] and "no audio" in rows["note"].iloc[0]
        assert pd.isna(rows["silhouette"].iloc[0])
    assert calls[-1][0] == calls[-1][1]
    md = to_markdown(df)
    assert "Labels are never used in training" in md
    assert "no audio" in md and "| Basic VAE | kmeans | k=2 |" in md
    sweep = beta_sweep(corpus, epochs_scale=0.05)
    assert len(sweep) == 1 and "no audio" in sweep["note"].iloc[0]


def test_cli_evaluate_writes_csv_and_markdown(shared_data, tmp_path):
    table = _small_table(shared_data, tmp_path, n_per_language=25)
    out = tmp_path / "out" / "results.csv"
    rc = main(["evaluate", "--data", str(table), "--out", str(out), "--epochs-scale", "0.02",
               "--tasks", "easy,hard", "--k", "2", "--labels", "genre,language"])
    assert rc == 0
    df = pd.read_csv(out)
    assert set(df["task"]) == {"easy", "hard"}
    assert {"ari_language", "nmi_genre", "purity_genre"} <= set(df.columns)
    md = out.with_suffix(".md").read_text()
    assert "python -m core evaluate" in md and "β sweep" in md and "no audio" in md
    sweep = pd.read_csv(out.with_name("results_beta_sweep.csv"))
    assert "no audio" in sweep["note"].iloc[0]
    assert main(["evaluate", "--data", str(table), "--out", str(out), "--labels", "mood"]) == 2


@pytest.mark.slow
def test_evaluate_and_beta_sweep_on_tiny_demo(tmp_path):
    corpus = load_demo(tiny_demo(tmp_path / "demo"))  # the helper's defaults: feature-cache hits shared with other tests
    df = evaluate(corpus, tasks=("medium", "hard"), epochs_scale=0.034, ks=[2], label_columns=["genre", "language"])
    medium = df[df["task"] == "medium"]
    assert set(medium["model"]) == {"ConvVAE", "PCA"}
    assert set(medium["clustering"]) == {"kmeans", "agglomerative", "gmm", "dbscan", "hdbscan"}
    dbscan = medium[medium["clustering"] == "dbscan"]
    assert dbscan["coverage"].between(0, 1).all() and (dbscan["eps"] > 0).all()
    assert (medium[medium["clustering"] == "kmeans"]["coverage"] == 1.0).all()
    hard = df[df["task"] == "hard"]
    assert set(hard["model"]) == {"Beta-VAE", "PCA", "Autoencoder", "Raw spectral"}
    assert hard["nmi_language"].notna().all()
    sweep = beta_sweep(corpus, betas=(0.5, 8.0), epochs_scale=0.034, ks=[2], label_columns=["language"])
    assert list(sweep["beta"]) == [0.5, 8.0]
    assert (sweep["active_dims"] >= 0).all() and sweep["kl"].notna().all()
    assert (sweep["recon"] > 0).all()  # validation reconstruction loss of the kept weights, per β


def test_a_one_track_table_lists_every_task_with_a_note(shared_data, tmp_path):
    """`core evaluate` on a one-row table used to drop the easy task without a word."""
    one = tmp_path / "one.csv"
    lines = (shared_data / "features" / "gtzan_kaggle_30s.csv").read_text().splitlines()
    one.write_text("\n".join(lines[:2]) + "\n")
    df = evaluate(read_feature_table(one), tasks=["easy", "medium", "hard"], seeds=1)
    assert list(df["task"]) == ["easy", "medium", "hard"]
    assert df["note"].str.startswith("skipped:").all()
    assert "1 track(s)" in df.loc[df["task"] == "easy", "note"].item()


def test_epochs_scale_applies_to_a_spec_that_sets_its_own_epochs():
    """A task model with epochs in its config (the tuned Basic VAE: 120) is scaled, not a crash
    ("create() got multiple values for keyword argument 'epochs'")."""
    from core.evaluate.run import _build_model
    from core.evaluate.tasks import BEST_BASIC, ModelSpec
    spec = ModelSpec("Basic VAE (tuned)", "basic", dict(BEST_BASIC))
    assert _build_model(spec, seed=0, epochs_scale=0.25).epochs == 30
    assert _build_model(spec, seed=0, epochs_scale=1.0).epochs == 120

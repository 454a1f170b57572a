"""bench_quality's transfer protocol: which fits and scores a plan asks for, the linear probe, and a whole
run on two tiny corpora with tiny models (fit on one, encode the other without refitting)."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pandas as pd
import pytest

from core.corpus import load_sources
from core.evaluate import ModelSpec
from core.evaluate.run import fit_latents
from core.inputs import build_inputs
from core.latents import latent_part
from core.models import create
from core.scoring import label_table
from tests.helpers import tiny_demo


def _bench():
    return importlib.import_module("bench.bench_quality")


def test_a_pair_adds_the_in_corpus_run_and_leave_one_out_adds_the_others_and_all():
    bench = _bench()
    assert bench.transfer_plan(["gtzan:hybrid", "hybrid:gtzan"]) == [
        (("hybrid",), "hybrid"), (("gtzan",), "hybrid"), (("gtzan",), "gtzan"), (("hybrid",), "gtzan")]
    plan = bench.transfer_plan([], "gtzan,hybrid,demo")
    assert (("demo", "hybrid"), "gtzan") in plan and (("demo", "gtzan", "hybrid"), "gtzan") in plan
    assert (("gtzan",), "gtzan") in plan and len(plan) == 9 == len(set(plan))
    assert bench.protocol(("gtzan",), "gtzan") == "in-corpus"
    assert bench.protocol(("gtzan", "hybrid"), "gtzan") == "pooled"
    assert bench.protocol(("demo", "hybrid"), "gtzan") == "transfer"
    for bad, arg in (("gtzan", "transfer"), ("gtzan:", "transfer"), ("+demo:gtzan", "transfer"), ("gtzan", "loo")):
        with pytest.raises(SystemExit, match="TRAIN:TEST" if arg == "transfer" else "at least two corpora"):
            bench.transfer_plan([bad] if arg == "transfer" else [], bad if arg == "loo" else "")


def test_the_linear_probe_reads_what_the_embedding_holds_and_skips_rare_classes():
    bench = _bench()
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b", "c"], 20)
    Z = rng.normal(size=(60, 4))
    Z[:, 0] += np.repeat([0.0, 6.0, 12.0], 20)  # the label lies along one direction
    assert bench.linear_probe(Z, y) > 0.95
    assert bench.linear_probe(rng.normal(size=(60, 4)), y) < 0.7  # nothing to read: near chance (1/3)
    rare = np.concatenate([y, ["d", "d", ""]])  # 2 tracks of "d" (< 5 folds) and one unknown: left out
    assert bench.linear_probe(np.vstack([Z, rng.normal(size=(3, 4))]), rare) == pytest.approx(bench.linear_probe(Z, y))
    assert np.isnan(bench.linear_probe(Z, np.full(60, "a")))


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer")
    a = tiny_demo(root / "a")  # the helper's defaults: feature-cache hits shared with other tests
    b = tiny_demo(root / "b", n_tracks=16, seconds=4.0, seed=5)
    return a, b


def test_a_transfer_run_fits_on_one_corpus_and_scores_the_other_side_by_side(two_corpora):
    bench = _bench()
    a, b = two_corpora
    sources = {"a": f"demo:{a}", "b": f"manifest:{b / 'manifest.csv'}"}
    only = {"PCA (mel)", "Basic VAE", "UMAP(10)"}
    rows = pd.DataFrame(bench.run_transfer(sources, bench.transfer_plan(["a:b"]), seeds=2, epochs_scale=0.05,
                                           only=only))
    n_a, n_b = len(load_sources([sources["a"]])), len(load_sources([sources["b"]]))
    assert set(rows["representation"]) == {"PCA (mel)", "Basic VAE"}  # UMAP has no encoder for new tracks
    own, moved = rows[rows["protocol"] == "in-corpus"], rows[rows["protocol"] == "transfer"]
    assert len(own) == len(moved) == 2 * 2  # two representations x two seeds
    assert set(own["train"]) == set(own["test"]) == {"b"} and (own["n_train"] == n_b).all()
    assert set(moved["train"]) == {"a"} and set(moved["test"]) == {"b"}
    assert (moved["n_train"] == n_a).all() and (moved["n_test"] == n_b).all()
    for m in ("nmi_genre", "knn_genre", "nmi_language", "knn_language", "probe_language"):
        assert rows[m].between(0, 1).all(), m
    # the transfer row is the model fitted on a's tracks encoding b's, scored against b's labels
    corpus_a, corpus_b = (bench.audio_only(load_sources([sources[n]])) for n in ("a", "b"))
    spec = next(s for s in bench.specs_for(corpus_a) if s.label == "PCA (mel)")
    needs = set(create(spec.model, **spec.config).needs)
    (fit_on, _), (test, _) = build_inputs(corpus_a, needs=needs), build_inputs(corpus_b, needs=needs)
    _, model = fit_latents(spec, fit_on, seed=0)
    Z = latent_part(model, model.encode(test), None)
    expected = bench.score_row(np.asarray(Z, dtype=np.float64),
                               label_table(corpus_b, ["genre", "language"], track_ids=test.track_ids), seed=0)
    row = moved[(moved["representation"] == "PCA (mel)") & (moved["seed"] == 0)].iloc[0]
    assert {k: row[k] for k in expected} == pytest.approx(expected)
    table = bench.transfer_table(rows)
    assert "| b | PCA (mel) | a | transfer | 2 |" in table and "nmi_genre in-corpus | nmi_genre here" in table


def test_the_command_line_runs_the_transfer_and_writes_its_rows(two_corpora, tmp_path, monkeypatch, capsys):
    bench = _bench()
    a, b = two_corpora
    out = tmp_path / "transfer.csv"
    monkeypatch.setattr(sys, "argv", ["bench_quality", "--transfer", "demo:hybrid", "--demo", str(a), "--hybrid",
                                      str(b / "manifest.csv"), "--models", "PCA (mel)", "--seeds", "1",
                                      "--out", str(out)])
    bench.main()
    printed = capsys.readouterr().out
    assert "| hybrid | PCA (mel) | demo | transfer | 1 |" in printed
    assert set(pd.read_csv(out)["protocol"]) == {"in-corpus", "transfer"}
    monkeypatch.setattr(sys, "argv", ["bench_quality", "--leave-one-out", "demo,hybrid", "--demo", str(a),
                                      "--hybrid", str(tmp_path / "none.csv")])
    with pytest.raises(SystemExit, match="--hybrid: .*none.csv not found"):
        bench.main()


def test_a_transfer_run_also_scores_the_spectrogram_model_with_the_test_corpus_levels(two_corpora, monkeypatch):
    bench = _bench()
    a, b = two_corpora
    sources = {"a": f"demo:{a}", "b": f"manifest:{b / 'manifest.csv'}"}
    tiny = ModelSpec("ConvVAE", "conv", {"modality": "audio", "width": 8, "latent_dim": 3, "crop_latent_dim": 1,
                                         "crops_per_track": 2, "crop_frames": 16, "temporal_dim": 0, "epochs": 2,
                                         "steps_per_epoch": 5, "batch_size": 8})
    pca = ModelSpec("PCA (mel)", "pca", {"inputs": "mel", "modality": "audio"})
    monkeypatch.setattr(bench, "specs_for", lambda corpus: [tiny, pca])  # the recipe's ConvVAE takes minutes
    rows = pd.DataFrame(bench.run_transfer(sources, bench.transfer_plan(["a:b"]), seeds=1, epochs_scale=1.0,
                                           only=None, collection_levels=True))
    assert set(rows["representation"]) == {"ConvVAE", "ConvVAE (collection levels)", "PCA (mel)"}  # PCA reads no clips
    by = {(r.representation, r.protocol): r for r in rows.itertuples()}
    metrics = [m for m in bench.TRANSFER_METRICS if m in rows.columns]
    # in-corpus the test corpus's levels are the model's own: the same figures
    assert [getattr(by["ConvVAE (collection levels)", "in-corpus"], m) for m in metrics] == pytest.approx(
        [getattr(by["ConvVAE", "in-corpus"], m) for m in metrics], nan_ok=True)
    assert ("ConvVAE (collection levels)", "transfer") in by
    assert "| b | ConvVAE (collection levels) | a | transfer | 1 |" in bench.transfer_table(rows)

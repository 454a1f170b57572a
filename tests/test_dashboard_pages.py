"""What the dashboard's pages show and the figures they draw, a test (or a few) per behaviour: AppTest where it
reaches, figure/helper tests otherwise.

The Train form (colliding and vanishing runs) is tested in test_train_page.py, `prepare` and the background
warm-up in test_prepare_and_warm_up.py, and the browser-only checks (a Data row click, deep links, eps both
ways) in test_browser_pages.py.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core import clustering, config
from core.clustering import CLUSTERERS
from tests.helpers import plotly_values
from tests.test_app import _app, app_env, monkeypatch_module  # noqa: F401  (fixtures)
from ui import caches, figures, jobs as ui_jobs, listen, state, tables

pytestmark = pytest.mark.slow


def _page(name: str):
    at = _app()
    at.run()
    if name != "explore":
        at.switch_page(f"views/{name}_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _charts(at) -> list:
    """Every plotly chart element of the page (AppTest has no typed accessor for them)."""
    return list(at.get("plotly_chart"))


def _chart(at, key: str):
    for chart in _charts(at):
        if chart.proto.id.endswith(key) or f"-{key}-" in chart.proto.id or key in chart.proto.id:
            return chart
    raise AssertionError(f"no chart {key!r} among {[c.proto.id for c in _charts(at)]}")


def _charts_named(at, key: str) -> list:
    return [c for c in _charts(at) if key in c.proto.id]


def _spec(chart) -> dict:
    return json.loads(chart.proto.spec)


# ------------------------------------------------------------------ Data page: play a track
def test_data_page_plays_a_chosen_track_with_its_mel(app_env):
    at = _page("data")
    box = at.selectbox(key="data_track")
    box.set_value(box.options[0]).run()
    assert not at.exception, [e.value for e in at.exception]  # was: TypeError log_mel() ... 'sr'
    assert at.get("audio"), "no player for the chosen track"
    mel = _spec(_chart(at, "track_mel"))
    assert mel["layout"]["xaxis"]["title"]["text"] == "time (s)"


# ------------------------------------------------------------------ Latent page: a broken checkpoint
def test_latent_page_says_cleanly_that_a_checkpoint_cannot_load(app_env):
    broken = config.RUNS_DIR / "broken.pt"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_bytes(b"not a checkpoint at all")
    try:
        at = _app()
        at.session_state[state.CHECKPOINT] = str(broken)
        at.run()
        at.switch_page("views/latent_page.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("broken" in e.value for e in at.error), [e.value for e in at.error]
    finally:
        broken.unlink()


# ------------------------------------------------------------------ purity heatmaps
def test_heatmap_keeps_the_noise_row_names_clusters_and_titles_axes():
    table = pd.DataFrame([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]], index=pd.Index([0, 1, "noise"], name="cluster"),
                         columns=["eng", "bng"])
    fig = figures.heatmap(table, title="t", x_title="language")
    assert list(fig.data[0].y) == ["c0", "c1", "noise"]  # was 0, 1 and a vanished noise row
    assert fig.layout.yaxis.type == "category" and fig.layout.xaxis.type == "category"
    assert fig.layout.yaxis.title.text == "cluster" and fig.layout.xaxis.title.text == "language"
    notes = {(x, y): (t, trace.textfont.color) for trace in fig.data[1:]  # the numbers: text traces over the cells
             for x, y, t in zip(trace.x, trace.y, trace.text)}
    assert notes[("eng", "c0")] == ("0.90", "white")  # dark cell
    assert notes[("bng", "c0")][1] != "white"  # pale cell: dark text


def test_clusters_heatmap_shows_the_noise_row(app_env):
    at = _page("clusters")
    at.segmented_control(key="clusters_algorithm").set_value("dbscan").run()
    assert not _charts_named(at, "heat_counts")  # a tab not chosen is not built
    at.session_state["clusters_heat_view"] = "counts"  # the counts tab chosen
    eps = at.slider(key="dbscan_eps")
    eps.set_value(round(eps.max * 0.15, 3)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not _charts_named(at, "heat_cluster")  # ... and the one chosen before is gone
    noise = float(next(m.value for m in at.metric if m.label == "noise").rstrip("%"))
    rows = _spec(_chart(at, "heat_counts"))["data"][0]["y"]
    assert ("noise" in rows) == (noise > 0), (noise, rows)
    assert all(r == "noise" or re.fullmatch(r"c\d+", r) for r in rows), rows


# ------------------------------------------------------------------ Compare charts never add up k
def _write_results(fingerprint: str) -> None:
    results = config.DATA_DIR / "results"
    results.mkdir(parents=True, exist_ok=True)
    rows = [{"task": task, "model": model, "clustering": "kmeans", "params": f"k={k}", "silhouette": s,
             "silhouette_std": 0.0, "nmi_genre": 0.3, "nmi_language": 0.2, "n_clusters": k, "note": ""}
            for task, model in (("easy", "Basic VAE"), ("easy", "PCA")) for k, s in ((2, 0.6), (8, 0.55))]
    pd.DataFrame(rows).to_csv(results / f"{fingerprint}.csv", index=False)
    sweep = [{"beta": b, "params": f"k={k}", "recon": 1 / b, "silhouette": 0.1 * k + b / 100, "nmi_genre": 0.1,
              "nmi_language": 0.2} for b in (0.5, 1.0, 4.0, 16.0) for k in (2, 8)]
    pd.DataFrame(sweep).to_csv(results / f"{fingerprint}_beta.csv", index=False)


def test_compare_bars_and_sweep_keep_each_k_apart(app_env):
    at = _page("compare")
    _write_results(caches.corpus(state.current_specs()).fingerprint())
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    bars = _spec(_chart(at, "compare_bars"))
    for trace in bars["data"]:
        assert len(trace["x"]) == len(set(trace["x"])), f"{trace['name']}: bars stacked into one"
        assert max(plotly_values(trace["y"])) <= 1.0
    assert len(bars["data"]) == 4  # two models x two k
    sweep = _spec(_chart(at, "sweep_silhouette"))
    assert len(sweep["data"]) == 2  # one line per k
    for trace in sweep["data"]:
        x = plotly_values(trace["x"])
        assert x == sorted(x) and len(set(x)) == len(x)
    assert sweep["layout"]["xaxis"]["ticktext"] == ["0.5", "1", "4", "16"]
    # 19: the results table shows a few readable columns, all of them on demand
    shown = next(d.value for d in at.dataframe if "setting" in d.value.columns)
    assert "NMI vs genre" in shown.columns and not any("_" in c for c in shown.columns)
    at.toggle(key="compare_all_columns").set_value(True).run()
    assert any("(std)" in c for d in at.dataframe for c in d.value.columns)


# ------------------------------------------------------------------ spectrograms
def test_spectrograms_skip_the_theme_and_have_hz_seconds_and_db(app_env):
    at = _page("latent")  # the default ConvVAE decodes a log-mel
    mels = [c for c in _charts(at) if "_mel" in c.proto.id]
    assert mels, "no spectrogram on the Latent page"
    for chart in mels:
        assert chart.proto.theme == "", "Streamlit's theme recolours Magma's first stop"
        spec = _spec(chart)
        assert spec["layout"]["xaxis"]["title"]["text"] == "time (s)"
        assert "Hz" in spec["layout"]["yaxis"]["title"]["text"] and "1k" in spec["layout"]["yaxis"]["ticktext"]
        assert "dB" in spec["data"][0]["colorbar"]["title"]["text"]
    # the temporal channels' KL bars sum over a crop's sequence: the caption says so
    assert any("32 steps per crop: its KL is summed over them" in c.value for c in at.caption)
    # and the dimensions offered to traverse leave those channels out (a point decodes them held still)
    offered = at.selectbox(key="trav_dim").options
    assert len(offered) == 56 and all(o not in offered for o in ("z40", "z41", "z42", "z43")), offered


# ------------------------------------------------------------------ audio at its own level
def test_wav_bytes_keep_the_level():
    t = np.arange(22050) / 22050
    quiet = 0.05 * np.sin(2 * np.pi * 440 * t)
    y, sr = sf.read(io.BytesIO(listen.wav_bytes(quiet, 22050)))
    assert sr == 22050 and abs(np.abs(y).max() - 0.05) < 1e-3  # st.audio(array) would make it 1.0


def test_pages_serve_wav_bytes_not_arrays(app_env, monkeypatch):
    calls = []
    monkeypatch.setattr(listen.st, "audio", lambda data, **kw: calls.append((type(data), kw)))
    at = _page("clusters")
    assert not at.exception, [e.value for e in at.exception]
    assert calls and all(kind is bytes and "sample_rate" not in kw for kind, kw in calls), calls


# ------------------------------------------------------------------ stale clustering parameters
def test_eps_tuned_for_one_model_does_not_carry_over(app_env):
    at = _page("clusters")
    at.segmented_control(key="clusters_algorithm").set_value("dbscan").run()
    eps = at.slider(key="dbscan_eps")
    eps.set_value(round(eps.max * 0.01, 3)).run()
    tiny = at.slider(key="dbscan_eps").value
    box = at.selectbox(key="checkpoint")
    box.select_index(next(i for i, label in enumerate(box.options) if label.startswith("basic"))).run()
    assert not at.exception, [e.value for e in at.exception]
    after = at.slider(key="dbscan_eps")
    assert after.value != tiny and "suggested" in (after.help or "").lower()
    assert f"{after.value:.3g}" in after.help  # back at the suggested eps of the new latents
    assert any(m.value.startswith("Every number below is of **DBSCAN, eps = ") for m in at.markdown), \
        [m.value for m in at.markdown]


def test_clustering_is_described_in_words():
    class R:
        n_clusters, noise_fraction = 1, 0.25

    text = clustering.describe("dbscan", {"eps": 0.51234, "min_samples": 5}, R())
    assert text == "DBSCAN, eps = 0.512, min_samples = 5 → 1 cluster, 25% noise"
    assert "{" not in text


# ------------------------------------------------------------------ random members keep their seed
def test_random_members_change_only_on_reshuffle(app_env):
    at = _page("clusters")
    at.segmented_control(key="listen_how").set_value("random").run()

    def members():
        return [m.value for m in at.markdown if re.fullmatch(r"\*\*[^*]+\*\*", m.value)]

    first = members()
    at.run()
    at.run()
    assert members() == first and first
    seed = at.session_state["listen_seed"]
    at.button(key="listen_reshuffle").click().run()
    assert at.session_state["listen_seed"] == seed + 1


# ------------------------------------------------------------------ Compare evaluation as a job
def test_compare_evaluation_runs_in_the_background_with_stop(app_env):
    at = _page("compare")
    at.button(key="compare_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = ui_jobs.registry().get(at.session_state["job:evaluation"])
    assert job is not None and job.kind == "evaluate"
    if job.running:  # the script returned while the evaluation runs
        assert at.button(key="stop-evaluation")
        at.button(key="stop-evaluation").click().run()
    job.join(180)
    assert job.status in ("stopped", "done"), job.error


# ------------------------------------------------------------------ Latent page lookup
class _Counting(list):
    iterations = 0

    def __iter__(self):
        type(self).iterations += 1
        return super().__iter__()


def test_track_choices_reads_the_ids_once():
    ids = _Counting(f"t{i}" for i in range(500))
    tracks = pd.DataFrame({"track_id": [f"t{i}" for i in range(600)], "genre": "g", "language": "eng"})
    choices = tables.track_choices(tracks, ids)
    assert len(choices) == 500 and choices["t3 · g · eng"] == "t3"
    assert _Counting.iterations == 1  # the page's old comprehension built set(ids) once per track


# ------------------------------------------------------------------ small things
def test_readme_code_fences_are_balanced():
    text = (config.ROOT / "README.md").read_text()
    assert text.count("```") % 2 == 0
    # the command line section's commands sit inside closed code blocks (the text between fences 1-2, 3-4...)
    blocks = text.split("```")[1::2]
    assert any(line.startswith("python -m core prepare") for b in blocks for line in b.splitlines()), \
        "`python -m core prepare` is not in a closed code block"


def test_loss_curves_legend_clear_of_the_axis_and_log_scale():
    epochs = pd.DataFrame({"epoch": [1, 2, 3], "loss": [10.0, 1.0, 0.1], "val_loss": [11.0, 1.2, 0.2]})
    fig = figures.loss_curves(epochs, log_y=True)
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.legend.y > 1 and fig.layout.legend.yanchor == "bottom"  # above the plot, not on the axis


def test_k_distance_labels_sit_off_the_curve():
    kdist = np.sort(np.random.default_rng(0).random(100))
    fig = figures.k_distance(kdist, k=4, suggested=0.5, eps=0.3)
    labels = [a for a in fig.layout.annotations if "eps" in a.text]
    assert len(labels) == 2
    assert all(a.xref == "x domain" and a.x == 0 and a.xanchor == "left" and a.bgcolor for a in labels)



def test_eps_at_the_bottom_of_its_slider_clusters_without_an_error(app_env):
    at = _page("clusters")
    at.segmented_control(key="clusters_algorithm").set_value("dbscan").run()
    eps = at.slider(key="dbscan_eps")
    eps.set_value(eps.min).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.slider(key="dbscan_eps").min >= CLUSTERERS["dbscan"].params["eps"].low
    assert any(m.value.startswith("Every number below is of **DBSCAN, eps = ") for m in at.markdown), \
        [m.value for m in at.markdown]

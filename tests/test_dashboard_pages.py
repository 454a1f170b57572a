"""Dashboard regressions, one test (or a few) each: AppTest where it reaches, figure/helper tests otherwise.

The Train form (colliding and vanishing runs) is tested in test_train_page.py; the
browser-only ones (a Data row click, deep links, eps both ways) in test_browser_pages.py.
"""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core import config
from core.clustering import CLUSTERERS
from tests.test_app import _app, app_env, monkeypatch_module  # noqa: F401  (fixtures)
from ui import figures, jobs as ui_jobs, listen, state, tables

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


def _spec(chart) -> dict:
    return json.loads(chart.proto.spec)


def _values(data) -> list:
    """A plotly JSON array: a list, or plotly 6's typed array ``{"dtype", "bdata"}``."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"])).tolist()
    return list(data)


# ------------------------------------------------------------------ 2. Data page: play a track
def test_data_page_plays_a_chosen_track_with_its_mel(app_env):
    at = _page("data")
    box = at.selectbox(key="data_track")
    box.set_value(box.options[0]).run()
    assert not at.exception, [e.value for e in at.exception]  # was: TypeError log_mel() ... 'sr'
    assert at.get("audio"), "no player for the chosen track"
    mel = _spec(_chart(at, "track_mel"))
    assert mel["layout"]["xaxis"]["title"]["text"] == "time (s)"


# ------------------------------------------------------------------ 3. Latent page: a broken checkpoint
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


# ------------------------------------------------------------------ 6. purity heatmaps
def test_heatmap_keeps_the_noise_row_names_clusters_and_titles_axes():
    table = pd.DataFrame([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]], index=pd.Index([0, 1, "noise"], name="cluster"),
                         columns=["eng", "bng"])
    fig = figures.heatmap(table, title="t", x_title="language")
    assert list(fig.data[0].y) == ["c0", "c1", "noise"]  # was 0, 1 and a vanished noise row
    assert fig.layout.yaxis.type == "category" and fig.layout.xaxis.type == "category"
    assert fig.layout.yaxis.title.text == "cluster" and fig.layout.xaxis.title.text == "language"
    notes = {(a.x, a.y): a for a in fig.layout.annotations}
    assert notes[("eng", "c0")].text == "0.90" and notes[("eng", "c0")].font.color == "white"  # dark cell
    assert notes[("bng", "c0")].font.color != "white"  # pale cell: dark text


def test_clusters_heatmap_shows_the_noise_row(app_env):
    at = _page("clusters")
    at.segmented_control(key="clusters_algorithm").set_value("dbscan").run()
    eps = at.slider(key="dbscan_eps")
    eps.set_value(round(eps.max * 0.15, 3)).run()
    assert not at.exception, [e.value for e in at.exception]
    noise = float(next(m.value for m in at.metric if m.label == "noise").rstrip("%"))
    rows = _spec(_chart(at, "heat_counts"))["data"][0]["y"]
    assert ("noise" in rows) == (noise > 0), (noise, rows)
    assert all(r == "noise" or re.fullmatch(r"c\d+", r) for r in rows), rows


# ------------------------------------------------------------------ 7. Compare charts never add up k
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
    _write_results(state.corpus(state.current_specs()).fingerprint())
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    bars = _spec(_chart(at, "compare_bars"))
    for trace in bars["data"]:
        assert len(trace["x"]) == len(set(trace["x"])), f"{trace['name']}: bars stacked into one"
        assert max(_values(trace["y"])) <= 1.0
    assert len(bars["data"]) == 4  # two models x two k
    sweep = _spec(_chart(at, "sweep_silhouette"))
    assert len(sweep["data"]) == 2  # one line per k
    for trace in sweep["data"]:
        x = _values(trace["x"])
        assert x == sorted(x) and len(set(x)) == len(x)
    assert sweep["layout"]["xaxis"]["ticktext"] == ["0.5", "1", "4", "16"]
    # 19: the results table shows a few readable columns, all of them on demand
    shown = next(d.value for d in at.dataframe if "setting" in d.value.columns)
    assert "NMI vs genre" in shown.columns and not any("_" in c for c in shown.columns)
    at.toggle(key="compare_all_columns").set_value(True).run()
    assert any("(std)" in c for d in at.dataframe for c in d.value.columns)


# ------------------------------------------------------------------ 8. spectrograms
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


# ------------------------------------------------------------------ 9. audio at its own level
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


# ------------------------------------------------------------------ 11. stale clustering parameters
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
    assert after.value != tiny and "suggested" in (after.help or "")
    assert f"{after.value:.3f}" in after.help  # back at the suggested eps of the new latents
    assert any(c.value.startswith("DBSCAN (eps") for c in at.caption), [c.value for c in at.caption]


def test_clustering_is_described_in_words():
    class R:
        n_clusters, noise_fraction = 1, 0.25

    text = state.describe_clustering("dbscan", {"eps": 0.51234, "min_samples": 5}, R())
    assert text == "DBSCAN (eps 0.512, min_samples 5) → 1 cluster, 25% noise"
    assert "{" not in text


# ------------------------------------------------------------------ 13. random members keep their seed
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


# ------------------------------------------------------------------ 14. Compare evaluation as a job
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


# ------------------------------------------------------------------ 15. Latent page lookup
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


# ------------------------------------------------------------------ 19. small things
def test_readme_code_fences_are_balanced():
    text = (config.ROOT / "README.md").read_text()
    assert text.count("```") % 2 == 0
    block = text.split("python -m core prepare", 1)[1].split("\n", 2)
    assert block[1].startswith("```"), "the code block after `python -m core prepare` is not closed"


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


# ------------------------------------------------------------------ 18. prepare never goes quiet
def test_prepare_progress_opens_a_bar_per_stage(capsys):
    from core.cli.prepare import staged_progress

    update = staged_progress("prepare")
    for done in range(3):
        update(done, 2, "corpus: synthesising")
    for done in range(4):
        update(done, 3, "encode conv: mel")
    err = capsys.readouterr().err
    assert "corpus" in err and "encode conv" in err and "3/3" in err  # the second stage is still shown


def test_prepare_first_view_makes_what_explore_draws_first_and_the_warm_up_the_rest(tmp_path, monkeypatch, capsys):
    """scripts/start.sh runs `prepare --first-view`: the corpus, then only the checkpoint the dashboard
    opens with (its latents and t-SNE), the others being left to the dashboard's background warm-up
    (core.workspace.warm_up), which makes every other shipped checkpoint's latents and t-SNE."""
    import core.latents as latents
    from core import checkpoint, workspace
    from core.cli import main
    from core.latents import encode_corpus, latent_part
    from core.projections import project
    from tests.helpers import tiny_demo

    demo = tiny_demo(tmp_path / "fv", n_tracks=12, seconds=3.0, seed=11)  # a corpus no other test encodes
    spec = f"manifest:{demo / 'manifest.csv'}"
    monkeypatch.setattr(workspace, "DEFAULT_SPECS", (spec,))
    assert main(["prepare", "--data", spec, "--first-view", "--dashboard-next"]) == 0
    said = capsys.readouterr().out
    # start.sh starts the dashboard itself: the line says so, with the time each stage took
    assert "starting the dashboard" in said and "streamlit run" not in said, said
    assert "ready in " in said and "encode conv " in said, said
    corpus = workspace.load_corpus((spec,))
    shipped = workspace.shipped_checkpoints(corpus)
    assert shipped[0].name == "conv" and len(shipped) > 2  # the one Explore opens with comes first

    def cached(entry) -> bool:
        """Whether the entry's latents and the t-SNE of their default part (what Explore draws) are in the
        cache (nothing may be computed)."""
        model = checkpoint.load(entry.path)
        try:
            _, Z = encode_corpus(model, corpus)
        except RuntimeError:
            return False
        reports = []
        project(latent_part(model, Z), method="tsne", dim=2, random_state=0,
                progress=lambda d, t, m="": reports.append(m))
        return reports == ["tsne (cached)"]

    def no_work(*args, **kwargs):
        raise RuntimeError("not cached")

    monkeypatch.setattr(latents, "build_inputs", no_work)
    assert cached(shipped[0])
    assert not any(cached(e) for e in shipped[1:])
    monkeypatch.undo()
    monkeypatch.setattr(workspace, "DEFAULT_SPECS", (spec,))
    monkeypatch.setattr(workspace, "warm_up_projections", lambda: None)  # UMAP's compilation: not under test
    messages = []
    workspace.warm_up((spec,), progress=lambda d, t, m="": messages.append(m))
    assert any(m.startswith("encode basic:") for m in messages) and messages[-1] == "UMAP: ready"
    assert not any(m.startswith("encode conv:") and m != "encode conv: cached" for m in messages)
    monkeypatch.setattr(latents, "build_inputs", no_work)
    assert all(cached(e) for e in shipped)


def test_the_sidebar_shows_the_background_warm_up_while_it_runs(app_env, monkeypatch):
    """The dashboard starts the warm-up after a session's first page, once per server, and the sidebar
    shows its progress while it runs (the page never waits for it)."""
    import threading

    from core import workspace

    release, calls = threading.Event(), []

    def fake_warm_up(specs, *, progress=None):
        calls.append(specs)
        progress(3, 12, "encode basic: eng_rock_0002.wav")
        release.wait(30)

    monkeypatch.delenv("SONGSCAPE_NO_WARMUP", raising=False)
    monkeypatch.setattr(workspace, "warm_up", fake_warm_up)
    monkeypatch.setattr(state, "_WARM_UP", {})
    at = _page("explore")
    for _ in range(50):
        if calls:
            break
        threading.Event().wait(0.1)
    assert calls == [workspace.DEFAULT_SPECS]
    at.run()
    notes = [c.value for c in at.sidebar.caption]
    assert any("in the background: encode basic: eng_rock_0002.wav (3/12)" in n for n in notes), notes
    other = _page("explore")  # another session: the same warm-up, not a second one
    assert calls == [workspace.DEFAULT_SPECS]
    release.set()
    state._WARM_UP[workspace.DEFAULT_SPECS].join(10)
    other.run()
    assert not any("in the background" in c.value for c in other.sidebar.caption)


def test_a_worker_that_re_imports_the_dashboard_script_runs_nothing():
    """multiprocessing re-imports the parent's main script in each worker, as "__mp_main__", when the
    path is visible at the worker's start; under Streamlit the main script is app.py, and a rerun may
    install it while a background pool starts workers. It must then run nothing: no dashboard, no
    warm-up starting pools of its own (a worker once did, and never exited)."""
    import subprocess
    import sys

    code = ("import runpy, sys, threading; runpy.run_path('app.py', run_name='__mp_main__'); "
            "print(sorted(m for m in ('streamlit', 'ui.state', 'torch') if m in sys.modules), threading.active_count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=config.ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["[]", "1"], out.stdout + out.stderr[-500:]


def test_eps_at_the_bottom_of_its_slider_clusters_without_an_error(app_env):
    at = _page("clusters")
    at.segmented_control(key="clusters_algorithm").set_value("dbscan").run()
    eps = at.slider(key="dbscan_eps")
    eps.set_value(eps.min).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.slider(key="dbscan_eps").min >= CLUSTERERS["dbscan"].params["eps"].min
    assert any(c.value.startswith("DBSCAN (eps") for c in at.caption), [c.value for c in at.caption]

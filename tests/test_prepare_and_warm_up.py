"""`core prepare` and the dashboard's background warm-up: a progress bar per stage, `--first-view` makes what
Explore draws first and leaves the rest to the warm-up, the sidebar shows the warm-up while it runs, and a
worker process that re-imports the dashboard script runs nothing."""

from __future__ import annotations

import pytest

from core import config
from tests.test_app import app_env, monkeypatch_module  # noqa: F401  (fixtures)
from tests.test_dashboard_pages import _page
from ui import warmup_job

pytestmark = pytest.mark.slow


# ------------------------------------------------------------------ prepare never goes quiet
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
    (core.warmup.warm_up), which makes every other shipped checkpoint's latents and t-SNE."""
    import core.latents as latents
    from core import checkpoint, shelf, warmup, workspace
    from core.cli import main
    from core.latents import encode_corpus, latent_part
    from core.projections import project
    from tests.helpers import tiny_demo

    demo = tiny_demo(tmp_path / "fv", n_tracks=12, seconds=3.0, seed=11)  # a corpus no other test encodes
    spec = f"manifest:{demo / 'manifest.csv'}"
    monkeypatch.setenv("SONGSCAPE_CORPUS", spec)
    assert main(["prepare", "--data", spec, "--first-view", "--dashboard-next"]) == 0
    said = capsys.readouterr().out
    # start.sh starts the dashboard itself: the line says so, with the time each stage took
    assert "starting the dashboard" in said and "streamlit run" not in said, said
    assert "ready in " in said and "encode conv " in said, said
    corpus = workspace.load_corpus((spec,))
    shipped = shelf.shipped_checkpoints(corpus)
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
    monkeypatch.setenv("SONGSCAPE_CORPUS", spec)
    monkeypatch.setattr(warmup, "warm_up_projections", lambda: None)  # UMAP's compilation: not under test
    messages = []
    warmup.warm_up((spec,), progress=lambda d, t, m="": messages.append(m))
    assert any(m.startswith("encode basic:") for m in messages) and messages[-1] == "UMAP: ready"
    assert not any(m.startswith("encode conv:") and m != "encode conv: cached" for m in messages)
    monkeypatch.setattr(latents, "build_inputs", no_work)
    assert all(cached(e) for e in shipped)


def test_the_sidebar_shows_the_background_warm_up_while_it_runs(app_env, monkeypatch):
    """The dashboard starts the warm-up after a session's first page, once per server, and the sidebar
    shows its progress while it runs (the page never waits for it)."""
    import threading

    from core import warmup, workspace

    release, calls = threading.Event(), []

    def fake_warm_up(specs, *, progress=None):
        calls.append(specs)
        progress(3, 12, "encode basic: eng_rock_0002.wav")
        release.wait(30)

    monkeypatch.delenv("SONGSCAPE_NO_WARMUP", raising=False)
    monkeypatch.setattr(warmup, "warm_up", fake_warm_up)
    monkeypatch.setattr(warmup_job, "_WARM_UP", {})
    at = _page("explore")
    for _ in range(50):
        if calls:
            break
        threading.Event().wait(0.1)
    assert calls == [workspace.default_specs()]
    at.run()
    notes = [c.value for c in at.sidebar.caption]
    assert any("in the background: encode basic: eng_rock_0002.wav (3/12)" in n for n in notes), notes
    other = _page("explore")  # another session: the same warm-up, not a second one
    assert calls == [workspace.default_specs()]
    release.set()
    warmup_job._WARM_UP[workspace.default_specs()].join(10)
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
            "print(sorted(m for m in ('streamlit', 'ui.state', 'ui.warmup_job', 'torch') if m in sys.modules), threading.active_count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=config.ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["[]", "1"], out.stdout + out.stderr[-500:]

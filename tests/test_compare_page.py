"""The Compare page: an evaluation estimate timed on this machine, how long each checkpoint trained next to
its scores, metric columns that name their clustering, and no status of another corpus's evaluation."""

from __future__ import annotations

import pytest

from core.jobs import Job, TrainingTime, estimate_evaluation
from core.progress import duration_words
from tests.test_app import _app, _texts, app_env, monkeypatch_module  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


def _fake_measure(corpus, name, params):
    return TrainingTime(setup=1.0, step={"basic": 0.02, "ae": 0.3}.get(name, 1.5), evaluation=0.5, batches=4)


class _Idle(Job):
    """A job that runs until stopped (another corpus's evaluation, still going)."""

    kind = "evaluate"

    def work(self) -> None:
        self._stop.wait(60)


def _compare(monkeypatch):
    import ui.jobs
    monkeypatch.setattr(ui.jobs, "measure_training", _fake_measure)  # the page's timing, without training
    at = _app()
    at.run()
    at.switch_page("views/compare_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_estimate_comes_from_measured_steps(app_env, monkeypatch):
    at = _compare(monkeypatch)
    from ui import state
    expected = estimate_evaluation(state.current_corpus(), seeds=1, epochs_scale=0.25, measure=_fake_measure)
    text = _texts(at)
    assert f"trains for **about {duration_words(expected.seconds)}**" in text, text
    assert "about a minute" not in text
    at.select_slider(key="compare_scale").set_value(1.0).run()  # the longest training length
    longest = estimate_evaluation(state.current_corpus(), seeds=1, epochs_scale=1.0, measure=_fake_measure)
    assert f"trains for **about {duration_words(longest.seconds)}**" in _texts(at)


def test_each_checkpoint_says_how_long_it_trained_and_each_metric_its_clustering(app_env, monkeypatch):
    at = _compare(monkeypatch)
    table = next(d.value for d in at.dataframe if "checkpoint" in d.value.columns)
    trained = dict(zip(table["checkpoint"], table["trained for"]))
    from core import checkpoint, config
    history = checkpoint.load(config.CHECKPOINT_DIR / "conv.pt").history_
    epochs, steps = history[-1]["epoch"], history[-1]["step"]
    assert trained["conv"] == f"{epochs} epochs × {steps // epochs:,} steps"
    named = [c for c in table.columns if c.startswith("NMI vs ")]
    assert named and all("(K-Means, k = " in c for c in named), list(table.columns)
    assert list(table.columns).index("trained for") < list(table.columns).index(named[0])  # beside the scores


def test_another_corpus_evaluation_is_not_shown_as_this_ones(app_env, monkeypatch):
    from ui import jobs
    other = _Idle(name="evaluation of corpus 0123abcd")
    jobs.registry().add(other, owner="someone")
    other.start()
    try:
        at = _app()
        at.session_state["job:evaluation"] = other.id  # this session started it, on the corpus it used before
        monkeypatch.setattr(jobs, "measure_training", _fake_measure)
        at.run()
        at.switch_page("views/compare_page.py").run()
        assert not at.exception, [e.value for e in at.exception]
        bars = [p.proto.text for p in at.get("progress")]
        assert not any("0123abcd" in b for b in bars), bars
        assert not at.button(key="compare_run").disabled  # this corpus has no evaluation running
        assert "still runs in the background" in _texts(at)
    finally:
        other.stop()
        other.join(10)

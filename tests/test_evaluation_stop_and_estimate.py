"""The evaluation stops between training steps, not after the model in training, and its time is estimated
from step times measured on this machine."""

from __future__ import annotations

import threading
import time

import pytest

from core.corpus import load_demo
from core.evaluate import ModelSpec, Task, evaluate
from core.evaluate import run as run_module
from core.jobs import EvaluationJob, EvaluationTime, TrainingTime, estimate_evaluation
from core.progress import Stopped
from tests.helpers import tiny_demo


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return load_demo(tiny_demo(tmp_path_factory.mktemp("eval") / "demo"))


def test_stop_ends_the_model_in_training_after_its_current_step(corpus, monkeypatch):
    built = []
    real_build = run_module._build_model
    monkeypatch.setattr(run_module, "_build_model", lambda *a, **kw: built.append(real_build(*a, **kw)) or built[-1])
    stop = threading.Event()
    long_run = Task("long", "a long Basic VAE", (ModelSpec("Basic VAE", "basic", {"epochs": 500}),), ("kmeans",))

    def press_stop_as_it_starts(done, total, message=""):
        if message.startswith("long: Basic VAE"):
            stop.set()  # pressed while the model is about to train: its first step is the last

    with pytest.raises(Stopped):
        evaluate(corpus, tasks=[long_run], progress=press_stop_as_it_starts, stop=stop)
    assert len(built[0].history_ or []) <= 1  # ended within its first epoch, not after 500


def test_the_evaluation_job_hands_its_stop_to_the_run(corpus, tmp_path):
    seen = {}

    def run(corpus_, *, stop, **kwargs):
        seen["stop"] = stop
        raise Stopped()

    job = EvaluationJob(corpus, results_path=tmp_path / "r.csv", run_evaluate=run)
    job.start().join(30)
    assert seen["stop"] is job._stop and job.status == "stopped"


def test_the_estimate_scales_measured_steps_by_each_models_run(corpus):
    measured = []

    def measure(corpus_, name, params):
        measured.append(name)
        return TrainingTime(setup=1.0, step={"basic": 0.01, "conv": 0.5, "beta": 0.5, "ae": 0.2}[name],
                            evaluation=0.0, batches=3)

    short = estimate_evaluation(corpus, seeds=1, epochs_scale=0.25, measure=measure)
    longer = estimate_evaluation(corpus, seeds=2, epochs_scale=1.0, measure=measure)
    assert sorted(set(measured)) == ["ae", "basic", "beta", "conv"]  # each trained model timed, baselines not
    assert len(measured) == 2 * 4  # once per model and setting in each estimate, the β sweep included
    assert "PCA" in short.untimed
    assert short.seconds == pytest.approx(sum(p[3] for p in short.parts))
    sweep = next(p for p in short.parts if p[0] == "beta_sweep")
    assert sweep[2] == 5  # one run per β
    assert longer.seconds > 6 * short.seconds  # twice the seeds, four times the epochs


def test_the_evaluation_job_says_how_long_is_left_weighing_each_model_by_its_estimate(corpus, tmp_path):
    estimate = EvaluationTime(seconds=100.0, parts=(("medium", "ConvVAE", 2, 80.0), ("easy", "Basic VAE", 1, 20.0)),
                              untimed=("PCA",))
    job = EvaluationJob(corpus, results_path=tmp_path / "r.csv", estimate=estimate)
    assert job.seconds_left is None  # not running yet
    job.status = "running"

    def at(seconds):  # the job's clock: seconds since it started
        job.started_at = time.time() - seconds

    at(0)
    job.progress(0, 4, "easy: Basic VAE seed 0")
    assert job.seconds_left == pytest.approx(100, abs=1)  # the estimate alone
    at(40)
    job.progress(1, 4, "easy: Basic VAE seed 0")  # 20 s by the estimate took 40: the rest will take twice its own
    assert job.seconds_left == pytest.approx(2 * 80, abs=1)
    at(41)
    # a baseline has no training in the estimate; its second counts into the speed, as will the next ones'
    job.progress(2, 4, "easy: PCA seed 0")
    assert job.seconds_left == pytest.approx(80 * 41 / 20, abs=1)
    at(100)
    job.progress(3, 4, "medium: ConvVAE seed 0")  # 60 s of the estimate done in 100: its last 40 take 67
    assert job.seconds_left == pytest.approx(40 * 100 / 60, abs=1)
    assert job.planned_fraction == pytest.approx(60 / 100)  # by the estimate: three models of four, but 60 s of 100
    job.status = "done"
    assert job.seconds_left is None and job.planned_fraction == 1.0
    unplanned = EvaluationJob(corpus, results_path=tmp_path / "r.csv")
    assert unplanned.seconds_left is None and unplanned.planned_fraction is None  # no estimate, no figure

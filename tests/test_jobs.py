"""core.jobs: a training job hands pages a consistent snapshot of its epochs while its thread appends; the
job limits are read from the environment when a registry is made."""

from __future__ import annotations

import threading

import pandas as pd

from core.jobs import JobRegistry, TrainingJob, max_jobs, max_jobs_per_session


def test_pages_read_a_consistent_snapshot_while_epochs_are_appended():
    job = TrainingJob(model=None, inputs=None, name="race")
    stop = threading.Event()

    def train():
        epoch = 0
        while not stop.is_set() and epoch < 5_000:
            epoch += 1
            row = {"epoch": epoch, "loss": 1.0 / epoch}
            if epoch % 3 == 0:  # some epochs carry columns others lack, as validation epochs do
                row["metrics"] = {"nmi": 0.5}
            job.on_epoch(row)

    thread = threading.Thread(target=train, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            rows = job.history()
            frame = pd.DataFrame(rows)
            assert len(frame) == len(rows)
            assert list(frame["epoch"]) == list(range(1, len(rows) + 1))
    finally:
        stop.set()
        thread.join(30)
    snapshot = job.history()
    job.on_epoch({"epoch": -1, "loss": 0.0})
    assert job.history()[:-1] == snapshot and len(job.history()) == len(snapshot) + 1  # a copy, not a view
    assert job.done == len(job.history())


def test_a_training_job_counts_its_steps_and_says_what_is_left(tmp_path):
    """Every optimisation step is counted (a ConvVAE epoch is minutes long); the time left needs a step
    after the first and is gone once the run ends."""
    from core.jobs import prepare_job
    from core.corpus import load_sources
    from tests.helpers import tiny_demo

    corpus = load_sources([f"manifest:{tiny_demo(tmp_path / 'demo', n_tracks=12, seconds=3.0) / 'manifest.csv'}"])
    job, _ = prepare_job(corpus, "conv", {"epochs": 2, "steps_per_epoch": 3, "batch_size": 4, "width": 8})
    seen = []
    real = job.on_batch

    def watched(info):
        real(info)
        seen.append((job.steps_done, job.steps_total, job._seconds_left))

    job.on_batch = watched
    job.start()
    job.join(120)
    assert job.status == "done", job.error
    # 2 epochs of 3 steps, then one epoch of refinement (the temporal latent): 9 steps
    assert [s[:2] for s in seen] == [(n, 9) for n in range(1, 10)]
    assert seen[0][2] is None and seen[2][2] is not None and seen[-1][2] == 0.0
    assert job.seconds_left is None  # not running: nothing left to say


def test_a_measured_training_time_scales_with_the_run(tmp_path):
    """A few steps timed on the corpus give a step time; the estimate grows with epochs and steps."""
    from core.jobs import TrainingTime, measure_training
    from core.corpus import load_sources
    from tests.helpers import tiny_demo

    corpus = load_sources([f"manifest:{tiny_demo(tmp_path / 'demo', n_tracks=12, seconds=3.0) / 'manifest.csv'}"])
    conv = measure_training(corpus, "conv", {"batch_size": 4, "width": 8})
    assert conv.step > 0 and conv.evaluation > 0
    assert conv.seconds(20, 10) > conv.seconds(10, 10) > conv.seconds(10, 1)
    basic = measure_training(corpus, "basic", {})
    assert basic.step > 0 and basic.batches == 1  # 12 tracks, 10 % held out: one batch of 32 per pass
    made_up = TrainingTime(setup=2.0, step=0.5, evaluation=1.0, batches=7)
    assert made_up.seconds(30, 100) == 2.0 + 3000 * 0.5 + 30 * 1.0
    assert made_up.seconds(4) == 2.0 + 4 * 7 * 0.5 + 4 * 1.0  # no steps per epoch: one pass of 7 batches


def test_the_job_limits_are_read_when_a_registry_is_made_not_when_imported(monkeypatch):
    monkeypatch.delenv("SONGSCAPE_MAX_JOBS", raising=False)
    monkeypatch.delenv("SONGSCAPE_MAX_JOBS_PER_SESSION", raising=False)
    assert (max_jobs_per_session(), max_jobs()) == (1, 2)
    monkeypatch.setenv("SONGSCAPE_MAX_JOBS", "7")
    monkeypatch.setenv("SONGSCAPE_MAX_JOBS_PER_SESSION", "3")
    registry = JobRegistry()
    assert (registry.per_session, registry.total) == (3, 7)
    assert (JobRegistry(per_session=1, total=2).per_session, JobRegistry(total=2).total) == (1, 2)

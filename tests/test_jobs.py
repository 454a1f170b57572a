"""core.jobs: a training job hands pages a consistent snapshot of its epochs while its thread appends."""

from __future__ import annotations

import threading

import pandas as pd

from core.jobs import TrainingJob


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

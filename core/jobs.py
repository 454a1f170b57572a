"""Background training jobs: train a model in a thread, poll its progress, stop it.

The dashboard cannot block while a model trains, so it wraps ``model.fit`` in a
:class:`TrainingJob`. The job collects what the training callback reports
(every epoch) into plain lists that any thread may read, and
stops the loop cleanly through a :class:`threading.Event`; the training loop
then keeps the best weights so far. With a ``monitor`` (a
:class:`core.scoring.TrainingMonitor`) the job also answers the loop's
``on_validation`` hook, so the epoch records carry cluster metrics of the
validation latents.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import checkpoint
from core.inputs import build_inputs
from core.models import create


def _as_dict(info: Any) -> dict:
    if isinstance(info, dict):
        return dict(info)
    if is_dataclass(info):
        return asdict(info)
    return dict(vars(info))


class TrainingJob:
    """Fit ``model`` on ``inputs`` in a daemon thread.

    Parameters
    ----------
    model : a registry model (``core.models.create(...)``), not yet fitted.
    inputs : ``core.inputs.ModelInputs`` to train on.
    save_to : optional checkpoint path written when training ends (also after Stop).
    monitor : optional object with ``on_validation(*, epoch, latents) -> dict`` (a
        ``core.scoring.TrainingMonitor``): the metrics each epoch record carries.
    """

    def __init__(self, model, inputs, *, save_to: str | Path | None = None, monitor=None):
        self.model = model
        self.monitor = monitor
        self.inputs = inputs
        self.save_to = None if save_to is None else Path(save_to)
        self.epochs: list[dict] = []
        self.status = "idle"  # idle | running | done | stopped | failed
        self.error: str | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # training-loop callback protocol
    def on_epoch(self, info) -> None:
        self.epochs.append(_as_dict(info))

    def on_validation(self, *, epoch: int, latents: np.ndarray) -> dict[str, float]:
        return {} if self.monitor is None else self.monitor.on_validation(epoch=epoch, latents=latents)

    def start(self) -> "TrainingJob":
        if self._thread is not None:
            raise RuntimeError("a job can only be started once")
        self.status = "running"
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._run, name="songscape-train", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.model.fit(self.inputs, callback=self, stop=self._stop)
            if self.save_to is not None:
                checkpoint.save(self.model, self.save_to)
            self.status = "stopped" if self._stop.is_set() else "done"
        except Exception as exc:  # reported to the UI, never lost
            self.error = f"{type(exc).__name__}: {exc}"
            self.traceback = traceback.format_exc()
            self.status = "failed"
        finally:
            self.finished_at = time.time()

    def stop(self) -> None:
        """Ask the loop to stop after the current batch; best weights are kept."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.time()) - self.started_at


def prepare_job(corpus, model_name: str, params: dict, *, save_to: str | Path | None = None, monitor=None,
                progress=None) -> tuple[TrainingJob, list]:
    """A not yet started :class:`TrainingJob` for ``core.models.create(model_name, **params)`` on ``corpus``.

    Builds the model's inputs (cached features; ``progress(done, total, message)`` while they are
    extracted). Returns ``(job, skipped)``: ``skipped`` lists the tracks without usable inputs.
    """
    model = create(model_name, **params)
    inputs, skipped = build_inputs(corpus, needs=set(model.needs), progress=progress)
    return TrainingJob(model, inputs, save_to=save_to, monitor=monitor), skipped

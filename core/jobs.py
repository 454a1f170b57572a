"""Background jobs: train a model or run the evaluation in a thread, poll its progress, stop it.

The dashboard cannot block while a model trains or the study's tasks run, so it wraps
the work in a :class:`Job`: a daemon thread whose progress (the one progress protocol,
``progress(done, total, message)``) and outcome any thread may read, and which stops
cleanly through a :class:`threading.Event`.

- :class:`TrainingJob` fits one model (every epoch record is kept; with a ``monitor``, a
  :class:`core.model_scores.TrainingMonitor`, the records carry cluster metrics) and saves it.
- :class:`EvaluationJob` runs :func:`core.evaluate.evaluate` (and the β sweep) and writes
  their tables; Stop ends the model in training after its current step (the stop event reaches the
  training loop), so it takes seconds. :func:`estimate_evaluation` says beforehand how long it takes.
- :class:`JobRegistry` holds the jobs of one server process, keyed by job id, with the
  session that started them, so a reloaded page finds its job again; it caps the number of
  training jobs running per session and in total (``SONGSCAPE_MAX_JOBS_PER_SESSION``,
  ``SONGSCAPE_MAX_JOBS``), and never lets two runs write the same checkpoint.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from core import checkpoint
from core.errors import BadInputError
from core.evaluate import BETAS, DEFAULT_TASKS, beta_sweep, evaluate, planned_models, scaled_epochs
from core.inputs import build_inputs
from core.io import atomic_write
from core.models import MODELS, create
from core.progress import Remaining, Stopped, planned_left  # Stopped: raised inside a job's thread when Stop was pressed

__all__ = ["Job", "TrainingJob", "EvaluationJob", "JobRegistry", "JobLimitError", "Stopped", "prepare_job",
           "max_jobs_per_session", "max_jobs", "TrainingTime", "measure_training", "EvaluationTime",
           "estimate_evaluation"]

def max_jobs_per_session() -> int:
    """Training jobs one dashboard session may run at once (env ``SONGSCAPE_MAX_JOBS_PER_SESSION``, default 1).
    Read at each call, so a setting made after import counts."""
    return int(os.environ.get("SONGSCAPE_MAX_JOBS_PER_SESSION", "1"))


def max_jobs() -> int:
    """Training jobs the whole server runs at once, every session together (env ``SONGSCAPE_MAX_JOBS``,
    default 2). Read at each call, so a setting made after import counts."""
    return int(os.environ.get("SONGSCAPE_MAX_JOBS", "2"))


class JobLimitError(BadInputError):
    """Too many jobs are running: the message says which limit and how to raise it."""


def _as_dict(info: Any) -> dict:
    if isinstance(info, dict):
        return dict(info)
    if is_dataclass(info):
        return asdict(info)
    return dict(vars(info))


class Job:
    """Run ``work`` in a daemon thread. Subclasses implement :meth:`work`.

    Attributes any thread may read: ``status`` (idle | running | done | stopped | failed),
    ``done``, ``total``, ``message`` (the latest progress report), ``error``, ``elapsed``.
    """

    kind = "job"

    def __init__(self, *, name: str = "") -> None:
        self.id = uuid.uuid4().hex[:12]
        self.name = name
        self.status = "idle"
        self.error: str | None = None
        self.traceback: str | None = None
        self.done, self.total, self.message = 0, 0, ""
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def work(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def progress(self, done: int, total: int, message: str = "") -> None:
        """The progress callback handed to ``core`` (raises :class:`Stopped` once Stop was pressed)."""
        self.done, self.total, self.message = int(done), int(total), message
        if self._stop.is_set():
            raise Stopped()

    def start(self) -> "Job":
        if self._thread is not None:
            raise RuntimeError("a job can only be started once")
        self.status = "running"
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._run, name=f"songscape-{self.kind}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.work()
            self.status = "stopped" if self._stop.is_set() else "done"
        except Stopped:
            self.status = "stopped"
        except Exception as exc:  # reported to the UI, never lost
            self.error = f"{type(exc).__name__}: {exc}"
            self.traceback = traceback.format_exc()
            self.status = "failed"
        finally:
            self.finished_at = time.time()

    def stop(self) -> None:
        """Ask the work to stop at its next check (training: after the current batch, best weights kept)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set() and self.running

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


class TrainingJob(Job):
    """Fit ``model`` on ``inputs`` in a daemon thread.

    Parameters
    ----------
    model : a registry model (``core.models.create(...)``), not yet fitted.
    inputs : ``core.inputs.ModelInputs`` to train on.
    save_to : optional checkpoint path written when training ends (also after Stop).
    monitor : optional object with ``on_validation(*, epoch, latents) -> dict`` (a
        ``core.model_scores.TrainingMonitor``): the metrics each epoch record carries.
    settings : what was asked for (model name and parameters), shown while it trains.
    corpus : the corpus ``inputs`` were built from: the checkpoint records its sources and fingerprint.
    """

    kind = "train"

    def __init__(self, model, inputs, *, save_to: str | Path | None = None, monitor=None,
                 settings: dict | None = None, name: str = "", corpus=None):
        super().__init__(name=name or (Path(save_to).stem if save_to else getattr(model, "name", "")))
        self.model = model
        self.monitor = monitor
        self.inputs = inputs
        self.save_to = None if save_to is None else Path(save_to)
        self.settings = dict(settings or {})
        self.corpus = corpus
        self.epochs: list[dict] = []
        self._epochs_lock = threading.Lock()
        self.steps_done, self.steps_total = 0, 0
        self._remaining, self._seconds_left = Remaining(), None

    # training-loop callback protocol
    def on_batch(self, info) -> None:
        """Step-level progress: a ConvVAE epoch (100 steps) takes about a minute on two cores, so an
        epoch counter alone stands still for that long."""
        n_batches = int(info["n_batches"])
        self.steps_total = n_batches * self.total_epochs
        self.steps_done = (int(info["epoch"]) - 1) * n_batches + int(info["batch"])
        self._seconds_left = self._remaining(self.steps_done, self.steps_total)

    @property
    def seconds_left(self) -> float | None:
        """Estimated seconds until the run ends (from the step rate after its first step), or None."""
        return self._seconds_left if self.running else None

    def on_epoch(self, info) -> None:
        row = _as_dict(info)
        with self._epochs_lock:
            self.epochs.append(row)
            self.done = len(self.epochs)

    def history(self) -> list[dict]:
        """The epochs so far, as one consistent snapshot: the training thread appends while pages read,
        and a reader that walks ``epochs`` twice (``pd.DataFrame`` does) may see two lengths."""
        with self._epochs_lock:
            return list(self.epochs)

    def on_validation(self, *, epoch: int, latents: np.ndarray) -> dict[str, float]:
        return {} if self.monitor is None else self.monitor.on_validation(epoch=epoch, latents=latents)

    @property
    def total_epochs(self) -> int:
        return int(getattr(self.model, "epochs", 0) or self.settings.get("epochs") or max(len(self.epochs), 1))

    def work(self) -> None:
        self.total = self.total_epochs
        self.model.fit(self.inputs, callback=self, stop=self._stop)
        if self.save_to is not None:
            # in this thread: the corpus fingerprint hashes audio files the page need not wait for
            checkpoint.save(self.model, self.save_to, data=checkpoint.training_data(self.inputs, self.corpus))


class EvaluationJob(Job):
    """The study's tasks (:func:`core.evaluate.evaluate`) and, with audio, the β sweep, written as CSVs.

    ``results_path`` receives the results table, ``sweep_path`` the β sweep (when the corpus has audio).
    ``estimate``: :func:`estimate_evaluation` of this run; with it the job says how long it has left
    (:attr:`seconds_left`), each finished model weighed by its estimated share of the training, and the
    speed seen so far (baselines and clustering included, which the estimate leaves out) applied to the rest.
    """

    kind = "evaluate"

    def __init__(self, corpus, *, results_path: str | Path, sweep_path: str | Path | None = None,
                 seeds: int = 1, epochs_scale: float = 1.0, name: str = "evaluation",
                 estimate: "EvaluationTime | None" = None,
                 run_evaluate: Callable = evaluate, run_sweep: Callable = beta_sweep):
        super().__init__(name=name)
        self.corpus = corpus
        self.results_path = Path(results_path)
        self.sweep_path = None if sweep_path is None else Path(sweep_path)
        self.seeds, self.epochs_scale = int(seeds), float(epochs_scale)
        self.stage = ""
        self.estimate = estimate
        # seconds one run of each (task, model label) trains, by the estimate; baselines without training are absent
        self._run_seconds = {(task, label): seconds / runs for task, label, runs, seconds in
                             (estimate.parts if estimate else ()) if runs}
        self._planned_done, self._spent_at_done = 0.0, 0.0
        self._evaluate, self._sweep = run_evaluate, run_sweep

    def progress(self, done: int, total: int, message: str = "") -> None:
        if done > self.done and message != "done":  # one model's run has ended: the report names it
            self._planned_done += self._run_seconds.get(self._run_of(message), 0.0)
            self._spent_at_done = self.elapsed
        super().progress(done, total, message)

    def _run_of(self, message: str) -> tuple[str, str]:
        """(task, model label) of a progress report: ``"easy: Basic VAE seed 0"``, or ``"β=4 seed 0"`` in the sweep."""
        if self.stage == "β sweep":
            return next((key for key in self._run_seconds if key[0] == "beta_sweep"), ("beta_sweep", ""))
        task, _, label = message.rpartition(" seed ")[0].partition(": ")
        return task, label

    @property
    def planned_fraction(self) -> float | None:
        """How far the evaluation is by its estimate (the β sweep included), or None without an estimate.
        A count of models says little: a PCA fit and a ConvVAE fit would weigh the same."""
        if self.estimate is None or self.estimate.seconds <= 0:
            return None
        return 1.0 if self.status == "done" else min(1.0, self._planned_done / self.estimate.seconds)

    @property
    def seconds_left(self) -> float | None:
        """Estimated seconds until the evaluation ends, or None (no estimate given, not running, or overrun)."""
        if not self.running or self.estimate is None or self.estimate.seconds <= 0:
            return None
        return planned_left(planned=self.estimate.seconds, planned_done=self._planned_done,
                            spent_at_done=self._spent_at_done, spent=self.elapsed)

    def work(self) -> None:
        self.stage = "tasks"
        table = self._evaluate(self.corpus, seeds=self.seeds, epochs_scale=self.epochs_scale, progress=self.progress,
                               stop=self._stop)
        atomic_write(self.results_path, table.to_csv(index=False))
        if self.sweep_path is not None and self.corpus.has_audio:
            self.stage = "β sweep"
            self.progress(0, 1, "β sweep")
            sweep = self._sweep(self.corpus, seeds=self.seeds, epochs_scale=self.epochs_scale, progress=self.progress,
                                stop=self._stop)
            atomic_write(self.sweep_path, sweep.to_csv(index=False))


@dataclass
class _Entry:
    job: Job
    owner: str


class JobRegistry:
    """The jobs of one server process (the dashboard keeps one in ``st.cache_resource``).

    Jobs are kept by id with the session (``owner``) that started them. :meth:`add` refuses
    a training job beyond ``per_session`` running ones for that owner or ``total`` running
    ones on the server (defaults: :func:`max_jobs_per_session`, :func:`max_jobs`, read when the
    registry is made), and a job that would write a checkpoint another running job writes.
    """

    def __init__(self, *, per_session: int | None = None, total: int | None = None, keep: int = 50):
        per_session = max_jobs_per_session() if per_session is None else per_session
        total = max_jobs() if total is None else total
        self.per_session, self.total, self.keep = int(per_session), int(total), int(keep)
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def add(self, job: Job, *, owner: str) -> Job:
        """Register ``job`` for ``owner`` (not started here) or raise :class:`JobLimitError`."""
        with self._lock:
            self._check(job.kind, owner=owner, name=job.name, save_to=getattr(job, "save_to", None))
            self._entries[job.id] = _Entry(job, owner)
            self._forget_old()
        return job

    def check(self, kind: str, *, owner: str, name: str = "", save_to: Path | None = None) -> None:
        """Raise :class:`JobLimitError` if :meth:`add` would refuse such a job now (ask before slow preparation)."""
        with self._lock:
            self._check(kind, owner=owner, name=name, save_to=save_to)

    def adopt(self, job_id: str, owner: str) -> None:
        """Hand job ``job_id`` to ``owner`` (a reloaded page: a new session with the job's id in its URL)."""
        with self._lock:
            if job_id in self._entries:
                self._entries[job_id].owner = owner

    def _check(self, kind: str, *, owner: str, name: str, save_to: Path | None) -> None:
        running = [e for e in self._entries.values() if e.job.running and e.job.kind == kind]
        if kind == "train":
            mine = [e for e in running if e.owner == owner]
            if len(mine) >= self.per_session:
                raise JobLimitError(None, f"this session already runs {len(mine)} training job(s), the most "
                                          f"allowed (SONGSCAPE_MAX_JOBS_PER_SESSION={self.per_session}); "
                                          "stop it or wait for it to finish")
            if len(running) >= self.total:
                raise JobLimitError(None, f"the server already runs {len(running)} training jobs, the most "
                                          f"allowed (SONGSCAPE_MAX_JOBS={self.total}); try again when one ends")
            if save_to is not None and any(getattr(e.job, "save_to", None) == Path(save_to) for e in running):
                raise JobLimitError(save_to, "another running job writes this checkpoint; choose another name")
        else:
            same = [e for e in running if e.job.name == name]
            if same:
                raise JobLimitError(None, f"the {name} already runs (started {same[0].job.elapsed:.0f} s "
                                          "ago); wait for it to finish")

    def _forget_old(self) -> None:
        finished = [k for k, e in self._entries.items() if not e.job.running]
        for key in finished[: max(0, len(self._entries) - self.keep)]:
            del self._entries[key]

    def get(self, job_id: str | None) -> Job | None:
        entry = self._entries.get(job_id or "")
        return entry.job if entry else None

    def owner(self, job_id: str) -> str | None:
        entry = self._entries.get(job_id)
        return entry.owner if entry else None

    def jobs(self, *, kind: str | None = None, owner: str | None = None, running: bool | None = None) -> list[Job]:
        """Registered jobs, oldest first, filtered by kind, owner and running state."""
        with self._lock:
            entries = list(self._entries.values())
        return [e.job for e in entries
                if (kind is None or e.job.kind == kind) and (owner is None or e.owner == owner)
                and (running is None or e.job.running == running)]

    def reserved_paths(self) -> set[Path]:
        """Checkpoints that running jobs will write."""
        return {j.save_to for j in self.jobs(kind="train", running=True) if getattr(j, "save_to", None) is not None}


def prepare_job(corpus, model_name: str, params: dict, *, save_to: str | Path | None = None, monitor=None,
                progress=None, name: str = "") -> tuple[TrainingJob, list]:
    """A not yet started :class:`TrainingJob` for ``core.models.create(model_name, **params)`` on ``corpus``.

    Builds the model's inputs (cached features; ``progress(done, total, message)`` while they are
    extracted). Returns ``(job, skipped)``: ``skipped`` lists the tracks without usable inputs.
    """
    model = create(model_name, **params)
    inputs, skipped = build_inputs(corpus, needs=set(model.needs), progress=progress)
    settings = {"model": model_name, **params}
    return TrainingJob(model, inputs, save_to=save_to, monitor=monitor, settings=settings, name=name,
                       corpus=corpus), skipped


@dataclass(frozen=True)
class TrainingTime:
    """What one short measured run of a model says about a long one (:func:`measure_training`).

    ``setup``: seconds before the first step (preprocessing, network); ``step``: seconds per
    optimisation step; ``evaluation``: seconds of the end-of-epoch evaluation; ``batches``: steps in
    one pass over the corpus (what an epoch is without ``steps_per_epoch``)."""

    setup: float
    step: float
    evaluation: float
    batches: int

    def seconds(self, epochs: int, steps_per_epoch: int | None = None) -> float:
        """Estimated seconds of a run of ``epochs`` epochs (of ``steps_per_epoch`` steps, or one pass each)."""
        steps = int(epochs) * int(steps_per_epoch or self.batches)
        return self.setup + steps * self.step + int(epochs) * self.evaluation


def measure_training(corpus, model_name: str, params: dict, *, steps: int = 4) -> TrainingTime:
    """Time a few optimisation steps and one evaluation of ``create(model_name, **params)`` on ``corpus``,
    here, now (the machine's load included): what the Train page's estimate before Start scales up.

    Runs one epoch of ``steps`` steps (a model that steps through the corpus instead: at most ``steps``
    of its batches, then stops). The first step is timed apart from the others: it carries the
    one-time costs of the first call."""
    # one main-stage epoch: a refinement's steps (frozen encoders) are estimated at a main step's cost
    one = {"epochs": 1, "refine_epochs": 0}  # training fields both: every model timed here trains
    model = create(model_name, **{**params, **one})
    per_pass = model.training is None or not model.training.steps_per_epoch
    if not per_pass:
        model = create(model_name, **{**params, **one, "steps_per_epoch": max(2, int(steps))})
    inputs, _ = build_inputs(corpus, needs=set(model.needs))
    stop = threading.Event()
    marks: list[float] = []
    batches = [1]

    class Timer:
        def on_batch(self, info) -> None:
            marks.append(time.perf_counter())
            batches[0] = int(info["n_batches"])
            if per_pass and len(marks) > steps:
                stop.set()  # enough steps of a long pass; its evaluation is not measured (see below)

    started = time.perf_counter()
    model.fit(inputs, callback=Timer(), stop=stop)
    ended = time.perf_counter()
    if not marks:
        raise BadInputError(None, f"{model_name} took no training step on this corpus")
    step = (marks[-1] - marks[0]) / (len(marks) - 1) if len(marks) > 1 else marks[0] - started
    # a pass cut short has no evaluation; a feature model's is one forward pass over at most 4,096 rows
    evaluation = 0.0 if stop.is_set() else max(0.0, ended - marks[-1])
    return TrainingTime(setup=max(0.0, marks[0] - started - step), step=step, evaluation=evaluation,
                        batches=batches[0])


@dataclass(frozen=True)
class EvaluationTime:
    """How long an :class:`EvaluationJob` will train (:func:`estimate_evaluation`).

    ``seconds``: the training of every model, all runs together; ``parts``: ``(task, model label, runs,
    seconds)`` per model, the longest first; ``untimed``: the labels of models fitted without training
    steps (PCA, raw features, TF-IDF, UMAP): seconds each, left out of the sum."""

    seconds: float
    parts: tuple[tuple[str, str, int, float], ...]
    untimed: tuple[str, ...]


def estimate_evaluation(corpus, *, seeds: int = 1, epochs_scale: float = 1.0, tasks=DEFAULT_TASKS,
                        betas=BETAS, measure: Callable | None = None) -> EvaluationTime:
    """Seconds the evaluation (:func:`core.evaluate.evaluate` of ``tasks``, then the β sweep over ``betas`` when
    the corpus has audio) will train on this machine: each trained model's steps, timed here and now with
    ``measure`` (:func:`measure_training`, once per model and setting; β changes no step's cost), times the
    steps its run takes at ``epochs_scale``, times its runs (seeds, βs)."""
    measure = measure or measure_training
    timed: dict[tuple, TrainingTime] = {}
    parts, untimed = [], []
    for task, spec, runs in planned_models(corpus, seeds=seeds, tasks=tasks,
                                           betas=betas if corpus.has_audio else None):
        # the UMAP baseline is no registry model: it has no training steps
        model = create(spec.model, **spec.config) if spec.model in MODELS else None
        if model is None or model.training is None:
            untimed.append(spec.label)
            continue
        key = (spec.model, tuple(sorted(spec.config.items())))
        if key not in timed:
            timed[key] = measure(corpus, spec.model, dict(spec.config))
        # every epoch timed as a main-stage step costs: a refinement step (frozen encoders) costs less
        epochs = create(spec.model, **{**spec.config, "epochs": scaled_epochs(model, epochs_scale)}).epochs
        parts.append((task, spec.label, runs, runs * timed[key].seconds(epochs, model.training.steps_per_epoch)))
    parts.sort(key=lambda p: -p[3])
    return EvaluationTime(sum(p[3] for p in parts), tuple(parts), tuple(dict.fromkeys(untimed)))

"""Background jobs on the dashboard: one server-wide registry, each session's own jobs, a progress panel.

A page finds its job through ``st.session_state`` and, after a reload (a new session),
through the job's id in the URL (``?job=...`` on Train, ``?evaluation=...`` on Compare);
the reloaded session then owns the job: it sees it and may stop it.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.jobs import EvaluationTime, Job, JobRegistry, TrainingTime, estimate_evaluation, measure_training
from core.progress import duration_words
from ui.caches import corpus

STATUS = {"running": "running", "done": "finished", "stopped": "stopped", "failed": "failed", "idle": "waiting"}


@st.cache_resource(show_spinner=False)
def registry() -> JobRegistry:
    """The jobs of this server process, shared by every session (caps from the environment)."""
    return JobRegistry()


def session_id() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def mine(url_key: str) -> Job | None:
    """This session's job under ``url_key``: from session state, else from the URL (a reloaded page)."""
    job_id = st.session_state.get(f"job:{url_key}") or st.query_params.get(url_key)
    job = registry().get(job_id)
    if job is None:
        st.session_state.pop(f"job:{url_key}", None)
        return None
    if registry().owner(job.id) != session_id():
        registry().adopt(job.id, session_id())
    remember(url_key, job)
    return job


def remember(url_key: str, job: Job) -> None:
    """Keep ``job`` as this session's job under ``url_key`` (session state and the URL)."""
    st.session_state[f"job:{url_key}"] = job.id
    if st.query_params.get(url_key) != job.id:
        st.query_params[url_key] = job.id


def start(job: Job, url_key: str) -> Job:
    """Register ``job`` for this session (raises ``JobLimitError`` at a cap), start it, remember it."""
    registry().add(job, owner=session_id())
    job.start()
    remember(url_key, job)
    return job


def status_line(job: Job, *, unit: str = "") -> str:
    state = "stopping…" if job.stopping else STATUS.get(job.status, job.status)
    count = f" · {unit}{job.done}/{job.total}" if job.total else ""
    steps = getattr(job, "steps_total", 0)
    if steps and job.running:
        count += f" · step {job.steps_done:,}/{steps:,}"
    message = f" · {job.message}" if job.message and job.running else ""
    left = getattr(job, "seconds_left", None)
    eta = f" · about {duration_words(left)} left" if left else ""
    return f"{job.name}: {state}{count}{message} · {job.elapsed:.0f} s{eta}"


def fraction(job: Job) -> float:
    """How far ``job`` is: by optimisation step where it counts them (a training run), by its estimate where it
    has one (an evaluation), else by its count."""
    steps = getattr(job, "steps_total", 0)
    if steps and job.running:
        return min(1.0, job.steps_done / steps)
    planned = getattr(job, "planned_fraction", None)
    if planned is not None:
        return planned
    return min(1.0, job.done / job.total) if job.total else 0.0


def progress_row(job: Job, *, key: str, unit: str = "", can_stop: bool = True) -> None:
    """Stop button (while running, for the job's own session) and a progress bar with its latest report."""
    cols = st.columns([1, 5])
    if job.running and can_stop:
        cols[0].button("Stop", key=f"stop-{key}", disabled=job.stopping, on_click=job.stop,
                       help="Stops at the next check; a training run keeps its best weights and is saved.")
    cols[1].progress(fraction(job), text=status_line(job, unit=unit))


@st.cache_data(show_spinner="Timing a few training steps on this machine…", max_entries=64, ttl=600)
def training_time(specs: tuple[str, ...], model_name: str, params: tuple[tuple[str, object], ...]) -> TrainingTime:
    """:func:`core.jobs.measure_training` of a model on the corpus of ``specs``, kept 10 minutes (the
    machine's load changes; the form's other fields only scale the measured times)."""
    return measure_training(corpus(specs), model_name, dict(params))


def evaluation_time(specs: tuple[str, ...], seeds: int, epochs_scale: float) -> EvaluationTime:
    """:func:`core.jobs.estimate_evaluation` on the corpus of ``specs``, from the step times of
    :func:`training_time` (kept 10 minutes: another seed count or length only rescales them)."""
    return estimate_evaluation(corpus(specs), seeds=seeds, epochs_scale=epochs_scale,
                               measure=lambda _corpus, name, params: training_time(specs, name,
                                                                                   tuple(sorted(params.items()))))

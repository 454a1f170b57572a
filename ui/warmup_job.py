"""The dashboard's background warm-up: started once per server after a session's first page, shown in the sidebar.

The work is :func:`core.warmup.warm_up` (every shipped checkpoint's latents and t-SNE for the default
corpus, then UMAP's compilation), run as a :class:`core.jobs.Job` so the sidebar can show its progress.
"""

from __future__ import annotations

import os
import sys
import threading

import streamlit as st

from core import warmup, workspace
from core.jobs import Job
from ui.state import current_specs


class WarmUpJob(Job):
    """The dashboard's background warm-up (:func:`core.warmup.warm_up`) as a job whose progress
    the sidebar shows."""

    kind = "warm-up"

    def __init__(self, specs: tuple[str, ...]):
        super().__init__(name="warm-up")
        self.specs = specs

    def work(self) -> None:
        warmup.warm_up(self.specs, progress=self.progress)
        # on the terminal that started the dashboard too (and for bench/bench_first_run.py)
        print(f"songscape: background warm-up done in {self.elapsed:.1f} s (every shipped checkpoint's "
              "latents and t-SNE, UMAP compiled)", file=sys.stderr, flush=True)


_WARM_UP: dict[tuple[str, ...], WarmUpJob] = {}
_WARM_UP_LOCK = threading.Lock()


def warm_up() -> None:
    """Once per server process, after a session's first page: prepare in a background thread what
    ``python -m core prepare --first-view`` (scripts/start.sh) left out, the other shipped checkpoints'
    latents and t-SNE for the default corpus, then compile UMAP so the first UMAP a user asks for takes
    about a second. A page that needs one of those latents first waits for them, with their progress,
    rather than computing them twice (``core.latents``). SONGSCAPE_NO_WARMUP=1 skips it all."""
    specs = workspace.default_specs()
    if os.environ.get("SONGSCAPE_NO_WARMUP") or current_specs() != specs:
        return
    with _WARM_UP_LOCK:
        if specs not in _WARM_UP:
            _WARM_UP[specs] = WarmUpJob(specs).start()


def warm_up_status() -> None:
    """The background warm-up's progress at the foot of the sidebar, while it runs (updated every 2 s)."""
    job = _WARM_UP.get(workspace.default_specs())
    if job is None or not job.running:
        if job is not None and job.status == "failed":
            st.sidebar.caption(f"Preparing the other checkpoints in the background failed: {job.error}")
        return

    @st.fragment(run_every=2.0)
    def note() -> None:
        if job.running:
            st.caption(f"Preparing the other checkpoints in the background: {job.message or 'starting'} "
                       f"({job.done}/{job.total})")

    with st.sidebar:
        note()

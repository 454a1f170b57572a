"""The study's results table, on any corpus: its tasks, several seeds, every metric.

* :mod:`~core.evaluate.tasks` -- what each task fits and clusters (``TASKS``, ``BETAS``...); imports nothing heavy
* :mod:`~core.evaluate.run` -- ``evaluate(corpus, ...)`` and ``beta_sweep(corpus, ...)``: fit, cluster, score, aggregate
* :mod:`~core.evaluate.report` -- ``to_markdown(table)``, the RESULTS.md-style tables

Labels are never used to fit a model or a clustering; they only enter the external metrics.
"""

from __future__ import annotations

import importlib

from core.evaluate.tasks import BEST_BASIC, BETAS, DEFAULT_TASKS, TASKS, ModelSpec, Task

__all__ = ["ModelSpec", "Task", "TASKS", "DEFAULT_TASKS", "BETAS", "BEST_BASIC", "evaluate", "beta_sweep",
           "task_support", "to_markdown", "planned_models", "scaled_epochs"]

#: Names served from the submodules on first use (PEP 562): ``run`` loads torch and pandas, which
#: ``python -m core --help`` (it lists the tasks) must not import.
_LAZY = {"evaluate": "run", "beta_sweep": "run", "task_support": "run", "to_markdown": "report",
         "planned_models": "run", "scaled_epochs": "run"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"core.evaluate.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'core.evaluate' has no attribute {name!r}")

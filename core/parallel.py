"""Worker processes that never re-run the caller's main script.

A spawned or forkserver worker imports the parent's ``__main__`` module again
before it runs a task, by path when the main module has no import spec. Under
Streamlit (and its AppTest) ``__main__`` *is* the dashboard script, so every
worker would run the whole app; under ``python - < script`` the path does not
exist. Our tasks live in importable ``core`` modules and need nothing from the
main script, so :func:`hidden_main_script` hides the main module's path while
workers start: :func:`process_pool` (the local pool) and the Dask
``LocalCluster`` of :mod:`core.distributed` both use it.
"""

from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def hidden_main_script() -> Iterator[None]:
    """Hide ``__main__.__file__`` (when the main module has no import spec) for the ``with`` block."""
    main = sys.modules.get("__main__")
    hide = main is not None and getattr(main, "__spec__", None) is None and "__file__" in vars(main)
    saved = vars(main).pop("__file__") if hide else None
    try:
        yield
    finally:
        if hide:
            main.__file__ = saved


@contextmanager
def process_pool(*, max_workers: int, mp_context, initializer: Callable | None = None) -> Iterator[ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor`` whose workers skip the main-script import.

    Submit every task inside the ``with`` block: workers start on submission,
    while the main module's ``__file__`` is hidden.
    """
    with hidden_main_script():
        with ProcessPoolExecutor(max_workers=max_workers, mp_context=mp_context, initializer=initializer) as pool:
            yield pool

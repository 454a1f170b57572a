"""Worker processes that never re-run the caller's main script.

A spawned or forkserver worker imports the parent's ``__main__`` module again
before it runs a task, by path when the main module has no import spec. Under
Streamlit (and its AppTest) ``__main__`` *is* the dashboard script, so every
worker would run the whole app; under ``python - < script`` the path does not
exist. Our tasks live in importable ``core`` modules and need nothing from the
main script, so :func:`hidden_main_script` hides the main module's path while
workers start: :func:`process_pool` (the local pool) and the Dask
``LocalCluster`` of :mod:`core.distributed` both use it.

Orphans: when the caller is killed (``kill -9``, the OOM killer), nothing runs
in it to stop its workers. So every worker of :func:`process_pool` exits by
itself when its parent dies (:func:`exit_with_parent`: ``PR_SET_PDEATHSIG`` on
Linux, and a thread that watches the parent everywhere), and so does the
forkserver when this module is in its preload list and the pool asked for it
(:data:`WATCH_ENV`); the resource tracker then sees its last writer gone and
exits too.

Whatever the kill's timing: the caller may die before the forkserver has even
imported this module, or before a worker has armed its watch, and the orphan is
then already re-parented (to PID 1 or a subreaper), so "has my parent changed?"
sees nothing. Both therefore also watch the pool's owner by its process id (the
value of :data:`WATCH_ENV`), and exit at once when it is already gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator

#: Set by :func:`process_pool` to its process id (the pool's owner) while workers start: the forkserver and
#: the workers started then watch that owner from the moment they import this module.
WATCH_ENV = "SONGSCAPE_EXIT_WITH_PARENT"
#: How often the watch thread looks at the parent (seconds).
WATCH_INTERVAL = 0.25
_PR_SET_PDEATHSIG = 1


def owner_alive(pid: int) -> bool:
    """Whether process ``pid`` still exists (a zombie counts as gone: it can no longer use its pool)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return True  # no /proc (macOS): os.kill said it exists


def _owner() -> int | None:
    """The process id in :data:`WATCH_ENV`, when this process was started for a pool (else None)."""
    value = os.environ.get(WATCH_ENV, "")
    return int(value) if value.isdigit() else None


def exit_with_parent(*, kill_signal: int | None = signal.SIGKILL, owner: int | None = None) -> None:
    """Make this process exit when its parent process dies (and when ``owner``, the pool's caller, dies).

    On Linux the kernel sends ``kill_signal`` at the parent's death (``prctl(PR_SET_PDEATHSIG)``; skipped when
    ``kill_signal`` is None, e.g. for a process whose parent thread may end before the parent does); on every
    platform a daemon thread sees the parent change (the orphan is re-parented) or ``owner`` gone and exits
    within :data:`WATCH_INTERVAL` seconds. An ``owner`` already gone exits at once: then the parent may have
    died before this call, and the re-parenting was missed.
    """
    if owner is not None and not owner_alive(owner):
        os._exit(1)
    parent = os.getppid()
    if kill_signal is not None and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(kill_signal), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watch thread still covers it
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCH_INTERVAL)
            if os.getppid() != parent or (owner is not None and not owner_alive(owner)):
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _worker_start(initializer: Callable | None) -> None:
    """A pool worker's first step: exit with the parent (the forkserver) and the pool's owner, then the
    caller's initializer."""
    exit_with_parent(owner=_owner())
    if initializer is not None:
        initializer()


if _owner() is not None and _owner() != os.getpid():
    # This process was started for a pool (the forkserver, which imports this module first): it must not
    # outlive the pool's owner. When the owner is our parent, watch it; when it is already gone, our parent
    # was the owner and died before we got here (we were re-parented): exit now. A live owner that is not
    # our parent is a grandparent (a process the forkserver forked): its own watch covers it. No PDEATHSIG:
    # the parent thread that started the forkserver may end before the parent does.
    if _owner() == os.getppid() or not owner_alive(_owner()):
        exit_with_parent(kill_signal=None, owner=_owner())


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
    while the main module's ``__file__`` is hidden. Every worker exits when this
    process dies (:func:`exit_with_parent`); so does a forkserver started here
    with ``core.parallel`` first in its preload list.
    """
    previous = os.environ.get(WATCH_ENV)
    os.environ[WATCH_ENV] = str(os.getpid())
    try:
        with hidden_main_script():
            with ProcessPoolExecutor(max_workers=max_workers, mp_context=mp_context, initializer=_worker_start,
                                     initargs=(initializer,)) as pool:
                yield pool
    finally:
        if previous is None:
            os.environ.pop(WATCH_ENV, None)
        else:
            os.environ[WATCH_ENV] = previous

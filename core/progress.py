"""Progress reporting shared by the CLI (tqdm) and the dashboard (st.progress).

Long-running `core` functions take ``progress: Progress | None``: a callable
``progress(done, total, message)``. The CLI passes :func:`tqdm_progress`; the
dashboard passes a function that updates a progress bar.
"""

from __future__ import annotations

import time
from typing import Callable, Protocol

from tqdm import tqdm


class Progress(Protocol):
    def __call__(self, done: int, total: int, message: str = "") -> None: ...


def null_progress(done: int, total: int, message: str = "") -> None:
    """A progress callback that does nothing."""


class Remaining:
    """Seconds left of a count, from the rate measured after its first step.

    The first step of a count often carries a one-time cost (compiling, loading a model, a training
    run's first batches), so a rate that includes it overstates the rest by up to 100x: the clock
    starts at the first report that shows progress and the estimate needs one more step after it.
    Call with ``(done, total)``; returns None while there is no honest estimate."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._start: tuple[int, float] | None = None

    def __call__(self, done: int, total: int) -> float | None:
        now = self._clock()
        if total and done >= total:
            return 0.0
        if self._start is None or done < self._start[0]:  # not started, or a count that starts again
            self._start = (done, now) if done > 0 else None
            return None
        first, started = self._start
        if done <= first or not total:
            return None
        return (now - started) / (done - first) * (total - done)


def duration_words(seconds: float) -> str:
    """``"40 s"``, ``"3 min"``, ``"1 h 20 min"``: a duration rounded to what a person plans with."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


#: Bars started and not yet finished (see :func:`close_bars`).
_OPEN_BARS: set = set()


def tqdm_progress(desc: str) -> Callable[[int, int, str], None]:
    """Return a progress callback that drives a tqdm bar on stderr.

    The time left is :class:`Remaining`'s, not tqdm's: tqdm's rate includes the first step, and a
    first step that compiled for a minute made it read 2:12:07 for a minute's work."""
    bar = None
    remaining = Remaining()

    def update(done: int, total: int, message: str = "") -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit="item", dynamic_ncols=True,
                       bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")
            _OPEN_BARS.add(bar)
        bar.total = total
        bar.n = done
        left = remaining(done, total)
        postfix = [message[-40:]] if message else []
        if left:
            postfix.append(f"about {duration_words(left)} left")
        if postfix:
            bar.set_postfix_str(" · ".join(postfix), refresh=False)
        bar.refresh()
        if done >= total:
            bar.close()
            _OPEN_BARS.discard(bar)

    return update


def close_bars() -> None:
    """End every unfinished bar's line, so that an error printed next starts a line of its own."""
    while _OPEN_BARS:
        _OPEN_BARS.pop().close()

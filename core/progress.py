"""Progress reporting shared by the CLI (tqdm) and the dashboard (st.progress).

Long-running `core` functions take ``progress: Progress | None``: a callable
``progress(done, total, message)``. The CLI passes :func:`tqdm_progress`; the
dashboard passes a function that updates a progress bar.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable, Protocol

from tqdm import tqdm


class Stopped(Exception):
    """Raised where a long computation ends because its ``stop`` event was set (Stop pressed on the dashboard)."""


class Progress(Protocol):
    def __call__(self, done: int, total: int, message: str = "") -> None: ...


def null_progress(done: int, total: int, message: str = "") -> None:
    """A progress callback that does nothing."""


class Remaining:
    """Seconds left of a count, from the rate of its recent steps.

    The first steps of a count often carry one-time costs (compiling in each worker process, loading a
    model), so a rate that includes them overstates the rest by up to 100x: encoding 220 tracks on two
    workers that each compiled for 35 s read "2 h 5 min" for 3 s of work. The rate is therefore that
    of the last :attr:`window` seconds when they hold at least two steps, else the rate since the
    first report that showed progress once three steps followed it; before that there is no honest
    estimate (None). Call with ``(done, total)``."""

    window = 10.0

    def __init__(self, clock: Callable[[], float] | None = None):
        self._clock = clock or time.monotonic
        self._first: tuple[int, float] | None = None
        self._recent: deque[tuple[int, float]] = deque()

    def __call__(self, done: int, total: int) -> float | None:
        now = self._clock()
        if total and done >= total:
            return 0.0
        if self._first is None or done < self._first[0]:  # not started, or a count that starts again
            self._first = (done, now) if done > 0 else None
            self._recent = deque([self._first]) if self._first else deque()
            return None
        self._recent.append((done, now))
        while self._recent[0][1] < now - self.window:
            self._recent.popleft()
        oldest_done, oldest_at = self._recent[0]
        if done - oldest_done >= 2 and now > oldest_at and total:
            return (now - oldest_at) / (done - oldest_done) * (total - done)
        first_done, first_at = self._first
        if done - first_done >= 3 and total:
            return (now - first_at) / (done - first_done) * (total - done)
        return None


def planned_left(*, planned: float, planned_done: float, spent_at_done: float, spent: float) -> float | None:
    """Seconds left of work whose parts were estimated beforehand, the estimate corrected by the speed seen so far.

    planned : the estimate of the whole work, in seconds.
    planned_done : the estimate of the parts finished so far.
    spent_at_done : real seconds spent when the last of those parts finished.
    spent : real seconds spent now.

    The parts differ in cost (a PCA fit takes a second, a ConvVAE fit minutes), so a count of parts done
    says little; their estimates weigh them. Until a part with an estimate has finished the estimate alone
    counts down. None when the work has outrun its estimate: no honest figure is left to show.
    """
    rest = planned - planned_done
    if rest <= 0:
        return None
    if planned_done > 0:
        left = rest * spent_at_done / planned_done - (spent - spent_at_done)
    else:
        left = planned - spent
    return left if left > 0 else None


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

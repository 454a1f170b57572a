"""Progress reporting shared by the CLI (tqdm) and the dashboard (st.progress).

Long-running `core` functions take ``progress: Progress | None``: a callable
``progress(done, total, message)``. The CLI passes :func:`tqdm_progress`; the
dashboard passes a function that updates a progress bar.
"""

from __future__ import annotations

from typing import Callable, Protocol

from tqdm import tqdm


class Progress(Protocol):
    def __call__(self, done: int, total: int, message: str = "") -> None: ...


def null_progress(done: int, total: int, message: str = "") -> None:
    """A progress callback that does nothing."""


#: Bars started and not yet finished (see :func:`close_bars`).
_OPEN_BARS: set = set()


def tqdm_progress(desc: str) -> Callable[[int, int, str], None]:
    """Return a progress callback that drives a tqdm bar on stderr."""
    bar = None

    def update(done: int, total: int, message: str = "") -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit="item", dynamic_ncols=True)
            _OPEN_BARS.add(bar)
        bar.total = total
        bar.n = done
        if message:
            bar.set_postfix_str(message[-40:], refresh=False)
        bar.refresh()
        if done >= total:
            bar.close()
            _OPEN_BARS.discard(bar)

    return update


def close_bars() -> None:
    """End every unfinished bar's line, so that an error printed next starts a line of its own."""
    while _OPEN_BARS:
        _OPEN_BARS.pop().close()

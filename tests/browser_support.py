"""What every browser test shares: Debian's Chromium, the dashboard served on 127.0.0.1, and the
``browser`` / ``page`` fixtures (Playwright, never a downloaded browser)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

import pytest

from bench.browser_bench import CHROMIUM, FLAGS, HAS_POINTS, start_dashboard, stop_server, wait_healthy


def need_chromium() -> None:
    """Skip (locally) or fail (under CI) when Debian's Chromium is missing."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing at /usr/bin/chromium; .ci/run installs Debian's chromium package")
        pytest.skip("Chromium is not installed (apt-get install chromium); browser tests skipped")


@contextlib.contextmanager
def dashboard(root: Path, corpus: str, **env: str) -> Iterator[str]:
    """``streamlit run app.py`` on a free loopback port with ``corpus``, data under ``root``; yields its URL."""
    with open(root / "streamlit.log", "w") as log:
        proc, url = start_dashboard(dict(SONGSCAPE_CORPUS=corpus, SONGSCAPE_DATA=str(root),
                                         SONGSCAPE_CACHE=str(root / "cache"), **env), output=log)
        try:
            if not wait_healthy(url):
                pytest.fail(f"streamlit did not start; log: {(root / 'streamlit.log').read_text()[-2000:]}")
            yield url
        finally:
            stop_server(proc)


@pytest.fixture(scope="module")
def browser():
    need_chromium()
    from playwright.sync_api import sync_playwright  # optional: only where Chromium is, after the skip above

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(240_000)
    yield pg
    context.close()


def settle(page) -> None:
    """Wait until Streamlit has finished the current run (no 'Running...' status widget)."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=600_000)
    page.wait_for_timeout(300)


def wait_for_scatter(page, *, timeout: float = 180_000) -> None:
    """Wait until a Plotly figure on the page has drawn points."""
    page.wait_for_function(HAS_POINTS, timeout=timeout)


def point_position(page, trace: int = 0, index: int = 0) -> tuple[float, float]:
    """Page coordinates (x, y) of point ``index`` of trace ``trace`` of the page's first Plotly figure,
    scrolled into the window first: a tall map can hold the point below the window's edge, where a click
    would land on nothing."""
    return page.evaluate(
        """([t, i]) => { const g = document.querySelector('.js-plotly-plot');
            const d = g._fullData[t]; const xa = g._fullLayout.xaxis, ya = g._fullLayout.yaxis;
            const at = () => { const r = g.getBoundingClientRect();
                return [r.left + xa._offset + xa.l2p(d.x[i]), r.top + ya._offset + ya.l2p(d.y[i])]; };
            let [x, y] = at();
            if (y < 80 || y > window.innerHeight - 80) {
                let box = g.parentElement;  // the nearest ancestor that scrolls (Streamlit's main area)
                while (box && !(box.scrollHeight > box.clientHeight && /(auto|scroll)/.test(getComputedStyle(box).overflowY)))
                    box = box.parentElement;
                (box || document.scrollingElement).scrollBy(0, y - window.innerHeight / 2);
                [x, y] = at();
            }
            return [x, y]; }""",
        [trace, index])

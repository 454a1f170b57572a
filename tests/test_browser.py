"""The dashboard in a real browser: Playwright drives Debian's Chromium (/usr/bin/chromium).

No browser is ever downloaded. Where Chromium is missing these tests skip with a reason,
except under CI (the CI variable set), where a missing Chromium is a failure.
Screenshots are saved under the test's temporary directory.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import tiny_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]


def _need_chromium():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing at /usr/bin/chromium; .ci/run installs Debian's chromium package")
        pytest.skip("Chromium is not installed (apt-get install chromium); browser tests skipped")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _need_chromium()
    root = tmp_path_factory.mktemp("browser")
    demo = tiny_demo(root / "demo", n_tracks=32)
    port = _free_port()
    env = dict(os.environ, SONGSCAPE_CORPUS=f"manifest:{demo / 'manifest.csv'}", SONGSCAPE_DATA=str(root),
               SONGSCAPE_CACHE=str(root / "cache"), PYTHONUNBUFFERED="1")
    log = open(root / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"streamlit did not start; log: {(root / 'streamlit.log').read_text()[-2000:]}")
    yield url, root
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    _need_chromium()
    from playwright.sync_api import sync_playwright  # optional: only where Chromium is, after the skip above

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(120_000)
    yield pg
    context.close()


def _wait_for_scatter(page):
    page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot')).some("
                           "g => g._fullData && g._fullData.length > 0 && g._fullData[0].x && g._fullData[0].x.length > 0)",
                           timeout=180_000)


def _point_position(page, trace: int = 0, index: int = 0) -> tuple[float, float]:
    return page.evaluate(
        """([t, i]) => { const g = document.querySelector('.js-plotly-plot');
            const d = g._fullData[t]; const xa = g._fullLayout.xaxis, ya = g._fullLayout.yaxis;
            const r = g.getBoundingClientRect();
            return [r.left + xa._offset + xa.l2p(d.x[i]), r.top + ya._offset + ya.l2p(d.y[i])]; }""",
        [trace, index])


def test_open_select_listen_and_move_eps(server, page, tmp_path):
    url, root = server
    t0 = time.time()
    page.goto(url)
    _wait_for_scatter(page)
    first_scatter_s = time.time() - t0
    page.screenshot(path=str(tmp_path / "explore.png"), full_page=True)

    # A single click selects one point (the chart opens in pan mode, where a click selects).
    x, y = _point_position(page)
    page.mouse.click(x, y)
    page.get_by_text("1 selected").wait_for()
    page.wait_for_selector("audio")
    assert page.locator("audio").count() >= 2  # the original and the reconstruction
    page.screenshot(path=str(tmp_path / "click.png"), full_page=True)

    # Lasso round the whole plotting area with the modebar's lasso tool: every point is selected.
    page.goto(url)
    _wait_for_scatter(page)
    page.locator(".js-plotly-plot").hover()
    page.locator('.modebar-btn[data-val="lasso"]').first.click()
    box = page.evaluate("""() => { const g = document.querySelector('.js-plotly-plot');
        const r = g.getBoundingClientRect(); const s = g._fullLayout._size;
        return [r.left + s.l, r.top + s.t, s.w, s.h]; }""")
    left, top, w, h = box
    page.mouse.move(left + 2, top + 2)
    page.mouse.down()
    for x, y in ((left + w - 2, top + 2), (left + w - 2, top + h - 2), (left + 2, top + h - 2), (left + 2, top + 3)):
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    # points of the coloured traces only: Explore's highlight traces are named "<kind>: N"
    n_tracks = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData.filter("
                             "d => !/^(selected|match|neighbour|picked|focus): /.test(d.name))"
                             ".reduce((a, d) => a + d.x.length, 0)")
    page.get_by_text(f"{n_tracks} selected").wait_for()
    page.wait_for_selector("audio")
    page.screenshot(path=str(tmp_path / "lasso.png"), full_page=True)

    # Clusters: DBSCAN, then move eps with the keyboard; the metrics change.
    page.goto(f"{url}/clusters")
    _wait_for_scatter(page)
    page.get_by_role("radio", name="DBSCAN", exact=True).click()
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="eps").get_by_role("slider")
    slider.wait_for()
    page.wait_for_timeout(1500)
    before = _metric_values(page)
    slider.focus()
    for _ in range(40):
        page.keyboard.press("ArrowLeft")
    page.wait_for_function("(b) => { const v = Array.from(document.querySelectorAll('[data-testid=\"stMetricValue\"]'))"
                           ".map(e => e.innerText).join('|'); return v !== b; }", arg="|".join(before))
    page.wait_for_timeout(1000)
    after = _metric_values(page)
    assert after != before
    page.screenshot(path=str(tmp_path / "clusters.png"), full_page=True)
    print(f"\nfirst scatter after {first_scatter_s:.1f} s; screenshots in {tmp_path}")


def _metric_values(page) -> list[str]:
    return page.locator('[data-testid="stMetricValue"]').all_inner_texts()

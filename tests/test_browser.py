"""The dashboard in a real browser: Playwright drives Debian's Chromium (/usr/bin/chromium).

No browser is ever downloaded. Where Chromium is missing these tests skip with a reason,
except under CI (the CI variable set), where a missing Chromium is a failure.
Screenshots are saved under the test's temporary directory.
"""

from __future__ import annotations

import time

import pytest

from tests.browser_support import (browser, dashboard, need_chromium, page,  # noqa: F401  (fixtures)
                                   point_position, wait_for_scatter)
from tests.helpers import tiny_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_chromium()
    root = tmp_path_factory.mktemp("browser")
    demo = tiny_demo(root / "demo", n_tracks=32)
    with dashboard(root, f"manifest:{demo / 'manifest.csv'}") as url:
        yield url, root


def test_open_select_listen_and_move_eps(server, page, tmp_path):
    url, root = server
    t0 = time.time()
    page.goto(url)
    wait_for_scatter(page)
    first_scatter_s = time.time() - t0
    page.screenshot(path=str(tmp_path / "explore.png"), full_page=True)

    # A single click selects one point (the chart opens in pan mode, where a click selects).
    x, y = point_position(page)
    page.mouse.click(x, y)
    page.get_by_text("1 selected").wait_for()
    page.wait_for_selector("audio")
    assert page.locator("audio").count() >= 2  # the original and the reconstruction
    page.screenshot(path=str(tmp_path / "click.png"), full_page=True)

    # Lasso round the whole plotting area with the modebar's lasso tool: every point is selected.
    page.goto(url)
    wait_for_scatter(page)
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
    wait_for_scatter(page)
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

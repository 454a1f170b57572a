"""The Explore page's tools in a real browser (Playwright + Debian's Chromium, /usr/bin/chromium).

A search that highlights points, nearest neighbours that play, a reload that restores the view
from the URL, a lasso whose every track can be reached through the table's pages, and the 3D
view's note and highlights. No browser is downloaded; without Chromium these tests skip (fail
under CI). Screenshots go to $SONGSCAPE_SCREENS (default: the test's temporary folder).
``SONGSCAPE_BROWSER_CORPUS`` runs them on another corpus, e.g. ``gtzan:../shared/data/gtzan_mini``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser_support import (browser, dashboard, need_chromium, page,  # noqa: F401  (fixtures)
                                   point_position, settle, wait_for_scatter)
from tests.helpers import tiny_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HIGHLIGHT_KINDS = ("selected", "match", "neighbour", "picked", "focus")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_chromium()
    root = tmp_path_factory.mktemp("browser_explore")
    corpus = os.environ.get("SONGSCAPE_BROWSER_CORPUS") or f"manifest:{tiny_demo(root / 'demo', n_tracks=40) / 'manifest.csv'}"
    with dashboard(root, corpus, SONGSCAPE_NO_WARMUP="1") as url:
        yield url


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("SONGSCAPE_SCREENS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    tag = "gtzan_mini-" if os.environ.get("SONGSCAPE_BROWSER_CORPUS") else ""
    return lambda page, name: page.screenshot(path=str(folder / f"{tag}{name}.png"), full_page=True)


# ------------------------------------------------------------------------------------------ helpers
def _wait_for_map(page):
    wait_for_scatter(page, timeout=600_000)
    settle(page)


def _traces(page, which: int = 0) -> dict[str, int]:
    """name -> number of points of every trace of map ``which``."""
    return page.evaluate("""(w) => { const g = document.querySelectorAll('.js-plotly-plot')[w];
        const out = {}; g._fullData.forEach(d => { out[d.name] = (d.x || []).length; }); return out; }""", which)


def _highlight(page, kind: str, which: int = 0) -> int:
    return next((n for name, n in _traces(page, which).items() if name.startswith(f"{kind}: ")), 0)


def _n_points(page) -> int:
    return sum(n for name, n in _traces(page).items() if name.split(":")[0] not in HIGHLIGHT_KINDS)


def _search(page, text: str):
    box = page.locator('[data-testid="stTextInput"]').filter(has_text="Search").locator("input")
    box.fill(text)
    box.press("Enter")
    settle(page)


def _open(page, label: str):
    """Open a selectbox's list (a combobox: clicking its text field opens it)."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.locator("input")
    box.scroll_into_view_if_needed()
    for _ in range(4):  # the first click after a rerun may only focus the field
        box.click()
        try:
            page.get_by_role("option").first.wait_for(timeout=3000)
            return
        except Exception:  # Playwright's TimeoutError: try again
            box.press("ArrowDown")
            try:
                page.get_by_role("option").first.wait_for(timeout=2000)
                return
            except Exception:
                continue
    page.get_by_role("option").first.wait_for(timeout=5000)


def _choose(page, label: str, option_index: int):
    _open(page, label)
    page.get_by_role("option").nth(option_index).click()
    settle(page)


def _heading_count(page, pattern: str) -> int:
    text = page.locator("h3").filter(has_text=re.compile(pattern)).first.inner_text()
    return int(re.search(r"\d+", text.replace(",", "")).group())


# ------------------------------------------------------------------------------------------ tests
def test_a_search_highlights_the_matching_points(server, page, shots):
    page.goto(server)
    _wait_for_map(page)
    assert _highlight(page, "match") == 0
    _search(page, "rock")
    page.get_by_text(re.compile(r"\d+ tracks match")).first.wait_for()
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')._fullData.some(d => d.name.startsWith('match: '))")
    n = _heading_count(page, "tracks match")
    assert n > 0 and _highlight(page, "match") == n
    shots(page, "search")


def test_nearest_neighbours_are_listed_and_play(server, page, shots):
    page.goto(server)
    _wait_for_map(page)
    x, y = point_position(page)
    page.mouse.click(x, y)
    page.get_by_text("1 selected on the map").wait_for()
    page.get_by_text("Tracks like this one").wait_for()
    settle(page)
    assert _highlight(page, "neighbour") == 10 and _highlight(page, "focus") == 1
    before = page.locator("audio").count()
    assert before >= 1
    _choose(page, "Play a neighbour", 1)
    page.wait_for_function("(b) => document.querySelectorAll('audio').length > b", arg=before)
    player = page.locator("audio").last
    player.scroll_into_view_if_needed()
    duration = page.evaluate("(a) => new Promise(r => { if (a.readyState >= 1) r(a.duration); "
                             "else a.addEventListener('loadedmetadata', () => r(a.duration)); })",
                             player.element_handle())
    assert duration > 1.0  # a real clip is loaded, not an empty player
    shots(page, "neighbours")


def test_a_reload_restores_the_view_from_the_url(server, page, shots):
    page.goto(server)
    _wait_for_map(page)
    page.get_by_role("radio", name="PCA", exact=True).click()
    settle(page)
    _open(page, "Colour by")
    page.get_by_role("option", name="genre", exact=True).click()
    settle(page)
    _search(page, "pop")
    page.wait_for_function("() => location.search.includes('proj=pca') && location.search.includes('q=pop') "
                           "&& location.search.includes('colour=genre')")
    link = page.url
    matches = _highlight(page, "match")
    assert matches > 0
    page.reload()
    _wait_for_map(page)
    assert "proj=pca" in page.url and "q=pop" in page.url
    assert page.locator('[data-testid="stTextInput"]').filter(has_text="Search").locator("input").input_value() == "pop"
    assert page.get_by_role("radio", name="PCA", exact=True).is_checked()
    assert _highlight(page, "match") == matches
    shots(page, "reload")
    # the same link in a fresh browser context (a shared link) gives the same view
    other = page.context.browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    other.set_default_timeout(240_000)
    other.goto(link)
    _wait_for_map(other)
    assert _highlight(other, "match") == matches
    other.context.close()
    # a bad link: defaults and a note, no traceback
    page.goto(f"{server}/?proj=nonsense&dim=9&model=ghost")
    _wait_for_map(page)
    page.get_by_text("is not a projection").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    shots(page, "bad-link")


def _lasso(page, share: float) -> None:
    """Lasso the left ``share`` of the first map's plotting area (1.0: all of it)."""
    page.locator(".js-plotly-plot").first.hover()
    page.locator('.modebar-btn[data-val="lasso"]').first.click()
    left, top, w, h = page.evaluate("""() => { const g = document.querySelector('.js-plotly-plot');
        const r = g.getBoundingClientRect(); const s = g._fullLayout._size;
        return [r.left + s.l, r.top + s.t, s.w, s.h]; }""")
    right = left + w * share - 2
    page.mouse.move(left + 2, top + 2)
    page.mouse.down()
    for x, y in ((right, top + 2), (right, top + h - 2), (left + 2, top + h - 2), (left + 2, top + 3)):
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def test_a_lasso_lists_every_selected_track_with_pages_and_any_can_be_heard(server, page, shots):
    page.goto(server)
    _wait_for_map(page)
    n_points = _n_points(page)
    _lasso(page, 1.0)
    page.get_by_text(f"{n_points} selected on the map").wait_for()
    settle(page)
    assert _highlight(page, "selected") == n_points
    _choose(page, "Rows per page", 0)  # 10 rows
    last_page = -(-n_points // 10)
    number = page.locator('[data-testid="stNumberInput"]').filter(has_text="Page").locator("input")
    number.fill(str(last_page))
    number.press("Enter")
    settle(page)
    start = (last_page - 1) * 10 + 1
    page.get_by_text(f"rows {start}–{n_points} of {n_points}").wait_for()
    # the Track list offers this page's tracks: hear the last selected track
    _open(page, "Track")
    options = page.get_by_role("option")
    count = options.count()
    assert count >= n_points - start + 1
    chosen = options.nth(count - 1).inner_text().split(" · ")[0]
    options.nth(count - 1).click()
    settle(page)
    page.locator('[data-testid="stMarkdownContainer"] strong').filter(has_text=chosen).first.wait_for()
    assert page.locator("audio").count() >= 1
    assert f"track={chosen}" in page.url.replace("%3A", ":")
    shots(page, "lasso-paging")


def test_a_lasso_is_kept_in_the_link(server, page, shots):
    """A lasso round the left half of the map: the URL lists those tracks, and the link opened in a fresh
    browser lists the same selection (it reopened with every track before)."""
    page.goto(server)
    _wait_for_map(page)
    n_points = _n_points(page)
    _lasso(page, 0.5)
    page.get_by_text(re.compile(r"^\d+ selected on the map")).first.wait_for()
    settle(page)
    selected = _highlight(page, "selected")
    assert 0 < selected < n_points, (selected, n_points)
    page.wait_for_function("() => new URLSearchParams(location.search).has('sel')")
    in_link = parse_qs(urlparse(page.url).query)["sel"][0].split(",")
    assert len(in_link) == selected, (len(in_link), selected)
    other = page.context.browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    other.set_default_timeout(240_000)
    other.goto(page.url)
    _wait_for_map(other)
    other.get_by_text(f"{selected} selected on the map").first.wait_for()
    assert _highlight(other, "selected") == selected
    shots(other, "lasso-link")
    other.context.close()


def test_a_row_click_in_the_table_selects_its_track_on_the_map(server, page, shots):
    """Selecting rows selects points: a click on any cell of a table row picks that track, marks it on
    the map (picked and focus traces), lists it under Listen and opens its neighbours; ticking another
    row's marker adds it."""
    page.goto(server)
    _wait_for_map(page)
    assert _highlight(page, "picked") == 0 and _highlight(page, "focus") == 0
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    box = grid.bounding_box()
    row = 2
    page.mouse.click(box["x"] + 60, box["y"] + 35 + 35 * row + 17)  # a cell of the third row (its track id)
    caption = page.get_by_text(re.compile(r"^1 picked in the table"))
    caption.wait_for()
    settle(page)
    track = caption.inner_text().rsplit(": ", 1)[1].strip()
    assert _highlight(page, "picked") == 1 and _highlight(page, "focus") == 1
    focus_ids = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData"
                              ".filter(d => d.name.startsWith('focus: ')).map(d => Array.from(d.customdata || []))")
    assert track in str(focus_ids), (track, focus_ids)
    assert _highlight(page, "neighbour") == 10  # "tracks like this one" follow the picked track
    page.locator('[data-testid="stMarkdownContainer"] strong').filter(has_text=track).first.wait_for()
    assert f"track={track}" in page.url.replace("%3A", ":")
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    shots(page, "table-row-click-map")
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 15, box["y"] + 35 + 35 * 0 + 17)  # the first row's marker: a second pick
    page.get_by_text(re.compile(r"^2 picked in the table")).wait_for()
    settle(page)
    assert _highlight(page, "picked") == 2
    shots(page, "table-row-click-two")


def test_the_3d_view_says_selection_is_2d_only_and_shows_highlights(server, page, shots):
    page.goto(f"{server}/?dim=3&q=pop")
    _wait_for_map(page)
    page.get_by_text("work in the 2D view only").wait_for()
    types = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData.map(d => d.type)")
    assert set(types) == {"scatter3d"}
    assert _highlight(page, "match") > 0
    shots(page, "3d")

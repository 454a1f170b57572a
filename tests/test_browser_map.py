"""The Explore page's WebGL map (ui/point_map.js) in a real browser (Playwright + Debian's Chromium).

A corpus of 300 tracks whose audio is six real clips (the project's demo generator), explored through an
embeddings file of synthetic latents (``core.synthetic.latents``), with the map switched on at any size
(``SONGSCAPE_MAP_ABOVE=0``). Checked: every point is drawn with WebGL2; a click on a point opens its panel
and its player with the reconstruction; a lasso fills the paged table; the colour and the filter change
in the browser. Without Chromium these tests skip (fail under CI).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import synthetic
from tests.browser_support import browser, dashboard, need_chromium, page, settle  # noqa: F401  (fixtures)
from tests.helpers import tiny_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N_TRACKS = 300
GENRES = ("ambient", "blues", "folk", "funk", "metal", "reggae")
MAP = "explore_scatter"
VIEW = f"globalThis.__songscapePointMap && globalThis.__songscapePointMap.views.get('{MAP}')"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_chromium()
    root = tmp_path_factory.mktemp("browser_map")
    demo = tiny_demo(root / "demo", n_tracks=6)
    clips = pd.read_csv(demo / "manifest.csv")["path"].tolist()
    Z, component = synthetic.latents(N_TRACKS, 8, n_clusters=len(GENRES), random_state=1)
    ids = [f"map-{i:04d}" for i in range(N_TRACKS)]
    pd.DataFrame({"track_id": ids, "path": [clips[i % len(clips)] for i in range(N_TRACKS)],
                  "genre": [GENRES[c] for c in component], "language": ["eng", "bng"] * (N_TRACKS // 2)}
                 ).to_csv(demo / "map.csv", index=False)
    (root / "embeddings").mkdir()
    np.savez(root / "embeddings" / "synth.npz", ids=np.asarray(ids), vectors=Z)
    with dashboard(root, f"manifest:{demo / 'map.csv'}", SONGSCAPE_NO_WARMUP="1", SONGSCAPE_MAP_ABOVE="0") as url:
        yield f"{url}/?emb=synth.npz&proj=pca&colour=language"


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("SONGSCAPE_SCREENS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return lambda page, name: page.screenshot(path=str(folder / f"map-{name}.png"), full_page=True)


def _open_map(page, url):
    page.goto(url)
    page.wait_for_function(f"() => ({VIEW}) && ({VIEW}).el.dataset.state === 'ready'", timeout=240_000)
    settle(page)
    # whatever stands above it (an offer, a note), the whole map is on screen for the clicks that follow
    # the live map: during a rerun Streamlit may still hold the previous run's copy, marked stale
    page.locator('.st-key-explore_scatter[data-stale="false"]').scroll_into_view_if_needed()
    page.wait_for_timeout(300)


def _map(page) -> dict:
    """The map's data attributes (points, issued, colour, shown, kept, nSelected, renderer...)."""
    return page.evaluate(f"() => ({{...({VIEW}).el.dataset}})")


def _screen(page, row: int) -> tuple[float, float]:
    return tuple(page.evaluate(f"(r) => ({VIEW}).screenOf(r)", row))


def _choose(page, label: str, option: str):
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.locator("input")
    box.scroll_into_view_if_needed()
    for _ in range(4):  # the first click after a rerun may only focus the field
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).wait_for(timeout=3000)
            break
        except Exception:  # Playwright's TimeoutError: try again
            continue
    page.get_by_role("option", name=option, exact=True).click()
    settle(page)


def test_every_point_is_drawn_with_webgl2(server, page, shots):
    _open_map(page, server)
    info = _map(page)
    assert info["points"] == str(N_TRACKS) and 0 < int(info["issued"]) <= N_TRACKS
    assert info["renderer"] not in ("", "none"), info
    print(f"\nWebGL renderer: {info['renderer']}")
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator(".js-plotly-plot").count() == 0  # no Plotly map beside it
    # a few pixels of the map are not the background: the points are on the canvas
    coloured = page.evaluate(f"""() => {{ const m = {VIEW}; const gl = m.gl; const W = m.canvas.width, H = m.canvas.height;
        const px = new Uint8Array(4 * W * H); gl.readPixels(0, 0, W, H, gl.RGBA, gl.UNSIGNED_BYTE, px);
        let k = 0; for (let i = 0; i < px.length; i += 4) if (px[i] < 240 || px[i + 1] < 240 || px[i + 2] < 240) k++;
        return k; }}""")
    assert coloured > N_TRACKS, coloured
    # hovering a point names it
    x, y = _screen(page, 7)
    page.mouse.move(x, y)
    page.wait_for_function(f"() => ({VIEW}).el.dataset.hover !== undefined")
    assert _map(page)["hover"].startswith("map-")
    shots(page, "drawn")


def test_a_click_opens_the_track_and_plays_it_with_its_reconstruction(server, page, shots):
    _open_map(page, server)
    x, y = _screen(page, 42)
    page.mouse.click(x, y)
    page.get_by_text("1 selected on the map").wait_for()
    settle(page)
    track = _map(page)["hover"] if "hover" in _map(page) else None
    heading = page.locator('[data-testid="stMarkdownContainer"] strong').filter(has_text=re.compile(r"^map-\d{4}$"))
    heading.first.wait_for()
    chosen = heading.first.inner_text()
    assert track in (None, chosen)
    page.get_by_text("reconstruction (").first.wait_for()
    players = page.locator("audio")
    assert players.count() >= 2  # the original and the reconstruction
    duration = page.evaluate("(a) => new Promise(r => { if (a.readyState >= 1) r(a.duration); "
                             "else a.addEventListener('loadedmetadata', () => r(a.duration)); })",
                             players.first.element_handle())
    assert duration > 1.0  # a real clip
    info = _map(page)
    assert info["nSelected"] == "1" and info["nFocus"] == "1" and info["nNeighbour"] == "10"
    assert f"track={chosen}" in page.url
    shots(page, "click")


def test_a_lasso_fills_the_paged_table(server, page, shots):
    _open_map(page, server)
    page.locator(f".st-key-{MAP}").get_by_role("button", name="Lasso").click()
    left, top, w, h = page.evaluate(f"() => {{ const r = ({VIEW}).canvas.getBoundingClientRect(); "
                                    "return [r.left, r.top, r.width, r.height]; }")
    right = left + w * 0.5
    page.mouse.move(left + 2, top + 2)
    page.mouse.down()
    for px, py in ((right, top + 2), (right, top + h - 2), (left + 2, top + h - 2), (left + 2, top + 3)):
        page.mouse.move(px, py, steps=6)
    page.mouse.up()
    page.get_by_text(re.compile(r"^\d+ selected on the map")).first.wait_for()
    settle(page)
    sent = int(_map(page)["sentRows"])
    assert 0 < sent < N_TRACKS
    heading = page.locator("h3").filter(has_text="selected on the map").first.inner_text()
    assert heading.startswith(f"{sent} selected"), heading
    assert _map(page)["nSelected"] == str(sent)
    page.get_by_text(f"rows 1–{min(25, sent)} of {sent}").wait_for()
    # every selected track is left of the lasso's right edge
    xs = page.evaluate(f"() => {{ const m = {VIEW}; const out = []; "
                       "for (let i = 0; i < m.n; i++) out.push(m.screenOf(i)[0]); return out; }")
    assert sum(1 for x in xs if x < right - 3) <= sent <= sum(1 for x in xs if x < right + 3)
    shots(page, "lasso")


def test_the_colour_and_the_legend_change_in_the_browser(server, page, shots):
    _open_map(page, server)
    assert _map(page)["colour"] == "language"
    _choose(page, "Colour by", "genre")
    page.wait_for_function(f"() => ({VIEW}).el.dataset.colour === 'genre'")
    legend = page.locator(f".st-key-{MAP} .pm-legend button.pm-item")
    assert legend.count() == len(GENRES)
    assert _map(page)["shown"] == str(N_TRACKS)
    # the legend hides a genre without a rerun
    first = legend.first.inner_text()
    hidden = int(re.search(r"\((\d+)\)", first).group(1))
    legend.first.click()
    page.wait_for_function(f"(n) => ({VIEW}).el.dataset.shown === String(n)", arg=N_TRACKS - hidden)
    shots(page, "colour")
    # the legend's title chooses the colour: the map recolours at once, and the page and the link follow
    page.locator(f".st-key-{MAP} select.pm-legend-title").select_option("language")
    assert _map(page)["colour"] == "language"
    page.wait_for_function("() => location.search.includes('colour=language')")
    settle(page)
    # the link is written from the page's "Colour by" box on each run: it says language
    assert page.evaluate("() => new URLSearchParams(location.search).get('colour')") == "language"
    # a page that lost the parts it was sent (dropped from its store) asks for them again and gets them
    page.evaluate("() => { globalThis.__songscapePointMap.parts.clear(); globalThis.__songscapePointMap.bytes = 0; }")
    _choose(page, "Colour by", "cluster")
    page.wait_for_function(f"() => ({VIEW}).el.dataset.colour === 'cluster' && ({VIEW}).el.dataset.state === 'ready'")
    assert int(_map(page)["receivedBytes"]) > 0


def test_a_filter_fades_the_other_points(server, page, shots):
    _open_map(page, server)
    _choose(page, "Filter", "genre")
    box = page.locator('[data-testid="stMultiSelect"]').filter(has_text="genre is any of").locator("input")
    box.click()
    page.get_by_role("option", name="metal", exact=True).click()
    page.keyboard.press("Escape")
    settle(page)
    page.get_by_text(re.compile(r"^\d+ tracks match")).first.wait_for()
    matches = int(re.search(r"\d+", page.locator("h3").filter(has_text="tracks match").first.inner_text()).group())
    page.wait_for_function(f"(n) => ({VIEW}).el.dataset.kept === String(n)", arg=matches)
    assert 0 < matches < N_TRACKS and _map(page)["shown"] == str(N_TRACKS)
    shots(page, "filter")


def test_two_maps_side_by_side_mark_the_same_selection_and_3d_stays_plotly(server, page, shots):
    side = "globalThis.__songscapePointMap.views.get('explore_scatter_b')"
    _open_map(page, f"{server}&side=proj:tsne")
    page.wait_for_function(f"() => {side} && {side}.el.dataset.state === 'ready'")
    x, y = _screen(page, 11)
    page.mouse.click(x, y)
    page.get_by_text("1 selected on the map").wait_for()
    settle(page)
    marks = page.evaluate(f"() => [({VIEW}).el.dataset.nSelected, {side}.el.dataset.nSelected, "
                          f"{side}.el.dataset.nFocus]")
    assert marks == ["1", "1", "1"], marks
    assert "sel=map-" in page.url and "side=proj" in page.url
    shots(page, "side-by-side")
    # the 3-D view is Plotly's, at any size
    page.goto(f"{server}&dim=3")
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')", timeout=240_000)
    settle(page)
    assert page.evaluate(f"() => !({VIEW})")
    assert page.get_by_text("work in the 2D view only").count() == 1

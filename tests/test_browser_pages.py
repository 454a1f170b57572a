"""Issue 10's browser checks of the Data, Train and Clusters pages and of deep links (Playwright, Chromium).

Screenshots go to $SONGSCAPE_SCREENS (default: the test's temporary directory).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core import checkpoint
from tests.test_browser import _wait_for_scatter, browser, page, server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SONGSCAPE_SCREENS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _no_exception(page) -> None:
    errors = page.locator('[data-testid="stException"]').all_inner_texts()
    assert not errors, errors


def _no_page_not_found(page) -> None:
    assert page.get_by_text("Page not found").count() == 0, "a 'Page not found' dialog is shown"


def test_data_row_click_plays_the_track(server, page, shots):
    url, _ = server
    page.goto(f"{url}/data")
    page.get_by_role("heading", name="Tracks").wait_for()
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for()
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)  # the row marker of the first row, under the header
    page.wait_for_selector("audio", timeout=60_000)
    page.locator('[data-testid="stPlotlyChart"]').last.wait_for()
    page.wait_for_timeout(1500)
    _no_exception(page)  # was: TypeError: log_mel() got an unexpected keyword argument 'sr'
    assert page.locator("audio").count() >= 1
    page.locator('[data-testid="stPlotlyChart"]').last.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "data_row_click.png"))


def test_train_form_after_a_model_change_saves_what_was_typed(server, page, shots):
    url, root = server
    page.goto(f"{url}/train")
    page.get_by_role("tab", name="Train a model").click()
    model = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first  # not the sidebar's
    model.click()
    page.get_by_role("option", name="ConvVAE", exact=True).click()
    page.wait_for_timeout(2500)
    page.screenshot(path=str(shots / "train_model_changed.png"), full_page=True)
    epochs = page.get_by_label("epochs", exact=True)
    epochs.fill("2")
    name = page.locator('[data-testid="stMain"] [data-testid="stTextInput"] input').first
    name.fill("pw-mine")
    page.screenshot(path=str(shots / "train_form_filled.png"), full_page=True)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Saved to").wait_for(timeout=180_000)
    _no_exception(page)
    page.screenshot(path=str(shots / "train_saved.png"), full_page=True)
    info = checkpoint.describe(root / "runs" / "pw-mine.pt")
    assert info["model"] == "conv" and info["epochs_trained"] == 2


def _metric_values(page) -> list[str]:
    return page.locator('[data-testid="stMetricValue"]').all_inner_texts()


def _noise(page) -> float:
    metrics = dict(zip(page.locator('[data-testid="stMetricLabel"]').all_inner_texts(), _metric_values(page)))
    return float(metrics["noise"].rstrip("%"))


def _heatmap_rows(page) -> list[str]:
    return page.evaluate("""() => { for (const g of document.querySelectorAll('.js-plotly-plot')) {
        const d = g._fullData && g._fullData[0]; if (d && d.type === 'heatmap' && !d.customdata) return Array.from(d.y); }
        return null; }""")


def _move_eps(page, key: str, times: int) -> None:
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="eps").get_by_role("slider")
    before = "|".join(_metric_values(page))
    slider.focus()
    for _ in range(times):
        page.keyboard.press(key)
    page.wait_for_function("(b) => Array.from(document.querySelectorAll('[data-testid=\"stMetricValue\"]'))"
                           ".map(e => e.innerText).join('|') !== b", arg=before, timeout=120_000)
    page.wait_for_timeout(2500)


def test_eps_both_ways_with_the_noise_heatmap(server, page, shots):
    url, _ = server
    page.goto(f"{url}/clusters")
    _wait_for_scatter(page)
    page.get_by_role("radio", name="DBSCAN", exact=True).click()
    page.locator('[data-testid="stSlider"]').filter(has_text="eps").wait_for()
    page.wait_for_timeout(2000)
    _move_eps(page, "ArrowLeft", 30)  # smaller eps: more noise
    _no_exception(page)
    noisy = _noise(page)
    rows = _heatmap_rows(page)
    page.get_by_text("Clusters against labels").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "clusters_eps_down.png"))
    assert noisy > 0 and rows and "noise" in rows, (noisy, rows)
    assert all(r == "noise" or r.startswith("c") for r in rows), rows
    _move_eps(page, "ArrowRight", 60)  # and back up, past where it started
    _no_exception(page)
    assert _noise(page) < noisy
    rows = _heatmap_rows(page)
    assert rows and (("noise" in rows) == (_noise(page) > 0)), rows
    page.get_by_text("Clusters against labels").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "clusters_eps_up.png"))


@pytest.mark.parametrize("path", ["explore", "clusters", "train", "data", "latent", "compare"])
def test_deep_links_open_their_page(server, browser, shots, path):
    url, _ = server
    for attempt in range(2):  # the dialog came "sometimes": a fresh browser context each time
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        pg.set_default_timeout(120_000)
        try:
            pg.goto(f"{url}/{path}")
            pg.locator('[data-testid="stHeading"], h1').first.wait_for()
            pg.wait_for_timeout(1500)
            _no_page_not_found(pg)
            _no_exception(pg)
            title = pg.locator("h1").first.inner_text()
            expected = {"explore": "Explore", "clusters": "Clusters", "train": "Train", "data": "Data",
                        "latent": "Latent", "compare": "Compare"}[path]
            assert expected.lower() in title.lower(), title
            if attempt == 0:
                pg.screenshot(path=str(shots / f"deep_link_{path}.png"), full_page=False)
        finally:
            context.close()


def test_latent_page_reconstruction_quality_and_train_page_conv_defaults(server, page, shots):
    url, _ = server
    page.goto(f"{url}/latent")
    page.get_by_text("Reconstruction quality").wait_for(timeout=180_000)
    page.get_by_text("self-retrieval").wait_for(timeout=180_000)
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for()
    page.wait_for_timeout(2000)
    _no_exception(page)
    page.screenshot(path=str(shots / "latent_reconstruction_quality.png"), full_page=True)
    page.goto(f"{url}/train")
    page.get_by_role("tab", name="Train a model").click()
    model = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first
    model.click()
    page.get_by_role("option", name="ConvVAE", exact=True).click()
    page.get_by_text("steps per epoch").wait_for()
    page.wait_for_timeout(2000)
    _no_exception(page)
    assert page.get_by_text("β normalised").count() >= 1
    page.screenshot(path=str(shots / "train_convvae.png"), full_page=True)

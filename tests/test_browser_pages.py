"""Browser checks of the Data, Train and Clusters pages and of deep links (Playwright, Chromium).

Screenshots go to $SONGSCAPE_SCREENS (default: the test's temporary directory).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from core import checkpoint
from tests.browser_support import settle, wait_for_scatter
from tests.test_browser import browser, page, server  # noqa: F401  (fixtures)

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


#: The boxes of a Plotly figure's axis parts: tick labels, axis titles and the plotting area.
_AXIS_BOXES = """(g) => { const box = (e) => { const r = e.getBoundingClientRect();
        return [r.left, r.top, r.right, r.bottom]; };
    const all = (sel) => Array.from(g.querySelectorAll(sel)).filter(e => e.textContent.trim()).map(box);
    return { xticks: all('.xtick text'), yticks: all('.ytick text'), xtitle: all('.g-xtitle text'),
             ytitle: all('.g-ytitle text'), plot: box(g.querySelector('.nsewdrag')), figure: box(g) }; }"""


def _axes_apart(page, figure) -> None:
    """A spectrogram's axes are readable: tick labels on both axes, inside the figure, left of (y) or
    under (x) the image, and each axis title clear of its tick labels and of the image."""
    b = page.evaluate(_AXIS_BOXES, figure.locator(".js-plotly-plot").element_handle())
    assert b["xticks"] and b["yticks"] and b["xtitle"] and b["ytitle"], b
    left, top, right, bottom = b["figure"]
    for x0, y0, x1, y1 in b["xticks"] + b["yticks"]:
        assert x0 >= left - 1 and x1 <= right + 1 and y0 >= top - 1 and y1 <= bottom + 1, ("cut off", b)
    plot_left, _, _, plot_bottom = b["plot"]
    assert max(t[2] for t in b["yticks"]) <= plot_left + 1, ("y tick labels over the image", b)
    assert min(t[1] for t in b["xticks"]) >= plot_bottom - 1, ("x tick labels over the image", b)
    ytitle, xtitle = b["ytitle"][0], b["xtitle"][0]
    assert ytitle[2] <= min(t[0] for t in b["yticks"]) + 1, ("the y title lies over its tick labels", b)
    assert xtitle[1] >= max(t[3] for t in b["xticks"]) - 1, ("the x title lies over its tick labels", b)


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
    _axes_apart(page, page.locator('[data-testid="stPlotlyChart"]').last)


def _grid_row_point(page, grid, row: int, x: float) -> tuple[float, float]:
    """A point of row ``row`` (0 = first data row) of a Streamlit dataframe, ``x`` px from its left edge."""
    box = grid.bounding_box()
    return box["x"] + x, box["y"] + 35 + 35 * row + 17  # header 35 px, rows 35 px


#: Draws two different Bengali letters in the page's font on a canvas: without a Bengali font both are
#: the same "missing glyph" box (Chromium's tofu), with one they differ.
_TOFU = """(font) => { const c = document.createElement('canvas'); c.width = 64; c.height = 64;
    const g = c.getContext('2d');
    const draw = (ch) => { g.clearRect(0, 0, 64, 64); g.font = '40px ' + font; g.fillText(ch, 4, 48);
                           return Array.from(g.getImageData(0, 0, 64, 64).data).join(','); };
    return draw('\\u0995') === draw('\\u0996'); }"""


def test_a_data_row_click_on_any_cell_shows_a_bangla_track_in_bengali_glyphs(server, page, shots):
    """A click on a cell (not the row marker) of a Bangla row chooses that track; its lyrics are Bengali
    text drawn with a Bengali font (scripts/test.sh installs fonts-noto-core), not boxes."""
    url, root = server
    manifest = pd.read_csv(root / "demo" / "manifest.csv", keep_default_na=False)
    bangla = manifest.index[(manifest["language"] == "bng") & (manifest["lyrics"].str.strip() != "")]
    row = int(bangla[0])
    assert row < 7, "the first Bangla track with lyrics should be among the rows the table shows"
    track = manifest["track_id"].iloc[row]
    page.goto(f"{url}/data")
    page.get_by_role("heading", name="Tracks").wait_for()
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    page.mouse.click(*_grid_row_point(page, grid, row, 300))
    page.locator('[data-testid="stMarkdownContainer"] strong').filter(has_text=track).first.wait_for(timeout=60_000)
    lyrics = page.locator('[data-testid="stText"]').first
    lyrics.wait_for()
    _no_exception(page)
    text = lyrics.inner_text()
    assert any("\u0980" <= ch <= "\u09ff" for ch in text), text[:80]
    font = page.evaluate("(e) => getComputedStyle(e).fontFamily", lyrics.element_handle())
    assert not page.evaluate(_TOFU, font), f"Bengali letters render as boxes in {font!r}: install fonts-noto-core"
    # a browser without a Bengali font is told, under the lyrics, how to get one
    assert page.get_by_text("Bangla shown as boxes?").count() == 1
    lyrics.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "data_bangla_row.png"))


def test_train_form_after_a_model_change_saves_what_was_typed(server, page, shots):
    """Type epochs 6 and the name "mine" on the Basic VAE's form, switch to the ConvVAE without starting:
    the fields still say 6 and "mine" (the others show the ConvVAE's defaults); the run saves mine*.pt
    with 6 epochs in its config."""
    url, root = server
    page.goto(f"{url}/train")
    page.get_by_role("tab", name="Train a model").click()
    epochs = page.get_by_label("epochs", exact=True)
    name = page.get_by_label("Save as", exact=True)
    epochs.wait_for()
    settle(page)
    assert name.input_value() == "basic-run"
    epochs.fill("6")
    name.fill("mine")  # typed, never submitted: the next click (the model box) takes the focus away
    page.screenshot(path=str(shots / "train_form_typed.png"), full_page=True)
    model = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first  # not the sidebar's
    model.click()
    page.get_by_role("option", name="ConvVAE", exact=True).click()
    page.get_by_text("steps per epoch").wait_for()
    page.wait_for_timeout(1500)
    _no_exception(page)
    assert epochs.input_value() == "6" and name.input_value() == "mine"
    assert page.get_by_label("batch size", exact=True).input_value() == "64"  # untouched: the ConvVAE's default
    for label, value in (("steps per epoch", "1"), ("width (channels)", "8")):  # keep the run tiny
        box = page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Enter")
        page.wait_for_timeout(700)
    page.screenshot(path=str(shots / "train_model_changed.png"), full_page=True)
    assert epochs.input_value() == "6" and name.input_value() == "mine"
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Saved to").first.wait_for(timeout=180_000)  # a rerun may briefly show the old copy too
    _no_exception(page)
    page.screenshot(path=str(shots / "train_saved.png"), full_page=True)
    saved = sorted((root / "runs").glob("mine*.pt"))
    assert saved, list((root / "runs").glob("*.pt"))
    info = checkpoint.describe(saved[-1])
    # the 6 epochs asked for, then the refinement of the temporal latent (a third of them)
    assert info["model"] == "conv" and info["train_config"]["epochs"] == 6 and info["epochs_trained"] == 6 + 2


#: The form's number boxes (their labels on the Basic VAE and the Autoencoder) and values to type in them:
#: none is a bound or a default, so a form that comes back at its bounds or defaults is told apart.
_TYPED = {"epochs": "250", "latent size": "3", "learning rate": "0.00200", "batch size": "16", "seed": "7"}


def _form_values(page) -> dict[str, str]:
    main = page.locator('[data-testid="stMain"]')
    values = {label: main.get_by_role("spinbutton", name=label, exact=True).input_value() for label in _TYPED}
    values["model"] = main.get_by_role("combobox", name="Model", exact=True).input_value()
    values["Save as"] = page.get_by_label("Save as", exact=True).input_value()
    return values


def _train_until_saved(page, name: str) -> None:
    """Press Start and wait until the run saved as ``name`` says so and the form is back."""
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(f"{name}.pt").first.wait_for(timeout=180_000)
    page.get_by_role("button", name="Start training").wait_for(timeout=60_000)
    settle(page)
    page.wait_for_timeout(1500)  # a form that came back at its bounds sends them in a rerun after it is drawn
    settle(page)


def test_train_form_keeps_its_values_through_two_runs_in_a_row(server, page, shots):
    """Type a value into every number box, train the Basic VAE (long enough for the form to be hidden
    while it trains), then the Autoencoder on the same page: after each run the form shows the model
    and the values of that run, never its bounds, and offers a name no run has taken."""
    url, root = server
    page.goto(f"{url}/train")
    page.get_by_role("tab", name="Train a model").click()
    page.get_by_label("Save as", exact=True).wait_for()
    settle(page)
    main = page.locator('[data-testid="stMain"]')
    for label, value in _TYPED.items():
        box = main.get_by_role("spinbutton", name=label, exact=True)
        box.fill(value)
        box.press("Enter")
        settle(page)
    name = page.get_by_label("Save as", exact=True)
    name.fill("twice")
    name.press("Enter")
    settle(page)
    first = "twice" if not (root / "runs" / "twice.pt").exists() else None
    assert first, "a run called twice exists already"
    assert _form_values(page) == {**_TYPED, "model": "Basic VAE", "Save as": "twice"}

    _train_until_saved(page, first)
    _no_exception(page)
    page.screenshot(path=str(shots / "train_form_after_first_run.png"), full_page=True)
    after_first = _form_values(page)
    assert after_first == {**_TYPED, "model": "Basic VAE", "Save as": "twice-2"}, after_first
    assert checkpoint.describe(root / "runs" / "twice.pt")["train_config"]["epochs"] == 250

    model = main.locator('[data-testid="stSelectbox"]').first
    model.click()
    page.get_by_role("option", name="Autoencoder", exact=True).click()
    page.get_by_text("Plain autoencoder").wait_for()
    settle(page)
    _train_until_saved(page, "twice-2")
    _no_exception(page)
    page.screenshot(path=str(shots / "train_form_after_second_run.png"), full_page=True)
    after_second = _form_values(page)
    assert after_second == {**_TYPED, "model": "Autoencoder", "Save as": "twice-3"}, after_second
    info = checkpoint.describe(root / "runs" / "twice-2.pt")
    assert info["model"] == "ae" and info["train_config"]["epochs"] == 250


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
    page.wait_for_timeout(2500)  # the slider's last value may start one more rerun: read the page after it
    settle(page)


def test_eps_both_ways_with_the_noise_heatmap(server, page, shots):
    url, _ = server
    page.goto(f"{url}/clusters")
    wait_for_scatter(page)
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
    page.locator("h1").first.wait_for()
    model = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first
    for _ in range(3):  # a click that lands while the page's first run is still drawing can be undone by it
        page.get_by_role("tab", name="Train a model").click()
        try:
            model.wait_for(state="visible", timeout=30_000)
            break
        except PlaywrightTimeoutError:
            continue
    model.click()
    page.get_by_role("option", name="ConvVAE", exact=True).click()
    page.get_by_text("steps per epoch").wait_for()
    page.wait_for_timeout(2000)
    _no_exception(page)
    assert page.get_by_text("β normalised").count() >= 1
    page.screenshot(path=str(shots / "train_convvae.png"), full_page=True)

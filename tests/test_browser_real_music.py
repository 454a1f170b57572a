"""A collection of one's own, encoded with the shipped real-music model from the Data page, in a real browser
(Playwright + Debian's Chromium): the offer, its progress, the model in use afterwards, and Explore on it.

The collection is the 7 real GTZAN clips of ``../shared/data/gtzan_clips``, opened as a folder in place.
Screenshots go to $SONGSCAPE_SCREENS (default: the test's temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.config import CHECKPOINT_DIR
from core.shelf import REAL_MUSIC_CHECKPOINT
from tests.browser_support import browser, dashboard, need_chromium, page, settle, wait_for_scatter  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_data):
    need_chromium()
    if not (CHECKPOINT_DIR / REAL_MUSIC_CHECKPOINT).exists():
        pytest.skip(f"no {REAL_MUSIC_CHECKPOINT} (see checkpoints/README.md)")
    root = tmp_path_factory.mktemp("browser_real_music")
    clips = shared_data / "gtzan_clips"
    with dashboard(root, f"folder:{clips}", SONGSCAPE_NO_WARMUP="1",
                   SONGSCAPE_DATA_ROOTS=os.pathsep.join([str(root), str(shared_data)])) as url:
        yield url


def test_a_collection_is_encoded_with_the_real_music_model_without_training(server, page, tmp_path):
    shots = Path(os.environ.get("SONGSCAPE_SCREENS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.goto(f"{server}/data")
    button = page.get_by_role("button", name="Encode this collection with real")
    button.wait_for()
    settle(page)
    # the other way: the Train page, one click away
    page.get_by_role("button", name="train a model on this collection").click()
    page.wait_for_url("**/train")
    page.get_by_role("heading", name="Train").first.wait_for()
    page.goto(f"{server}/data")
    button.wait_for()
    settle(page)
    button.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "real_music_offer.png"), full_page=True)
    # the progress bar's text, seen while the clips are read and encoded
    page.evaluate("""() => { window.__progress = []; new MutationObserver(() => {
        document.querySelectorAll('[data-testid="stProgress"]').forEach(p => window.__progress.push(p.innerText)); })
        .observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
    button.click()
    page.get_by_text("Done: encoded 7 of 7 tracks with real").wait_for(timeout=600_000)
    settle(page)
    seen = page.evaluate("() => window.__progress")
    assert any("encoding" in text for text in seen), seen
    assert not page.locator('[data-testid="stException"]').count()
    # the model in use is the real-music one, and the offer is gone
    chosen = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Model checkpoint").input_value()
    assert chosen == "real (ready-made)", chosen
    assert page.get_by_role("button", name="Encode this collection with real").count() == 0
    page.screenshot(path=str(shots / "real_music_encoded.png"), full_page=True)
    # Explore opens on its latents without encoding again
    page.get_by_role("link", name="Explore").first.click()
    # the Explore caption first: a chart of the Data page can stay on screen while Explore projects
    page.get_by_text("model real", exact=False).first.wait_for(timeout=300_000)
    wait_for_scatter(page, timeout=300_000)
    settle(page)
    page.screenshot(path=str(shots / "real_music_explore.png"), full_page=True)
    assert not page.locator('[data-testid="stException"]').count()

"""Benchmark: the Explore page at 100,000 tracks in a real browser (Chromium + Playwright).

    .venv/bin/python -m bench.bench_explore_scale [--n 100000] [--screens DIR]

1. Generates a 57-feature table of N tracks (jittered rows of the study's table,
   ``core.synthetic.feature_table``) under data/scale/, unless it is there.
2. Warms the caches as ``python -m core prepare`` would: encodes the corpus with the
   shipped Basic VAE, then computes its t-SNE and UMAP (2-D) with progress, timed, into the
   on-disk cache; a second ``project`` call times the cached read.
3. Starts ``streamlit run app.py`` with ``SONGSCAPE_CORPUS=features:<table>`` and opens
   the Explore page (the default, at /) in Chromium: time to the first scatter with points (fresh server process, warm
   disk caches), then in a second browser context (warm server); clicks one point and
   lassoes a region, waiting for the selection table; saves screenshots.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from core import checkpoint, synthetic, workspace
from core.latents import encode_corpus
from core.projections import project

from bench.browser_bench import CHROMIUM, FLAGS, HAS_POINTS, start_dashboard, stop_server, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT.parent / "shared" / "data" / "features" / "gtzan_banglabeats_30s.csv"


def warm(spec: str) -> None:
    t = time.perf_counter()
    corpus = workspace.load_corpus((spec,))
    model = checkpoint.load(ROOT / "checkpoints" / "basic.pt")
    ids, Z = encode_corpus(model, corpus)
    print(f"corpus + Basic VAE latents: {len(ids)} x {Z.shape[1]} in {time.perf_counter() - t:.1f} s")
    for method in ("tsne", "umap"):
        calls = []
        t = time.perf_counter()
        project(Z, method=method, dim=2, random_state=0, progress=lambda d, n, m="": calls.append((d, n, m)))
        first = time.perf_counter() - t
        t = time.perf_counter()
        project(Z, method=method, dim=2, random_state=0)
        print(f"{method}: {first:.1f} s ({len(calls)} progress reports, last {calls[-1]}); "
              f"cached read {time.perf_counter() - t:.2f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--screens", type=Path, default=Path("/work/screens/scale2"))
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    table = ROOT / "data" / "scale" / f"synth{args.n}.csv"
    if not table.exists():
        synthetic.feature_table(table, args.n, template=TEMPLATE)
    spec = f"features:{table}"
    warm(spec)

    log = open(ROOT / "data" / "scale" / "streamlit.log", "w")
    server, url = start_dashboard({"SONGSCAPE_CORPUS": spec, "SONGSCAPE_NO_WARMUP": "1"}, output=log)
    try:
        if not wait_healthy(url):
            raise SystemExit(f"the dashboard did not answer at {url} within 60 s; its log: {log.name}")
        # Playwright: optional, only this benchmark drives a browser
        from playwright.sync_api import sync_playwright

        args.screens.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            for attempt in ("fresh server process", "warm server, new session"):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.set_default_timeout(300_000)
                t = time.perf_counter()
                page.goto(url)  # Explore is the default page, at /
                page.wait_for_function(HAS_POINTS, timeout=300_000)
                n_points = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData"
                                         ".reduce((s, d) => s + d.x.length, 0)")
                print(f"first scatter ({attempt}): {time.perf_counter() - t:.1f} s, {n_points} points drawn")
                if attempt.startswith("fresh"):
                    page.screenshot(path=str(args.screens / "explore_100k.png"))
                    context.close()
                    continue
                # click one point
                x, y = page.evaluate("""() => { const g = document.querySelector('.js-plotly-plot');
                    const d = g._fullData[0]; const xa = g._fullLayout.xaxis, ya = g._fullLayout.yaxis;
                    const r = g.getBoundingClientRect();
                    return [r.left + xa._offset + xa.l2p(d.x[0]), r.top + ya._offset + ya.l2p(d.y[0])]; }""")
                t = time.perf_counter()
                page.mouse.click(x, y)
                page.get_by_text("1 selected").wait_for()
                print(f"click -> '1 selected' in {time.perf_counter() - t:.1f} s")
                page.screenshot(path=str(args.screens / "explore_100k_click.png"), full_page=True)
                # lasso a square in the middle of the plot
                page.goto(url)  # Explore is the default page, at /
                page.wait_for_function(HAS_POINTS, timeout=300_000)
                page.locator(".js-plotly-plot").hover()
                page.locator('.modebar-btn[data-val="lasso"]').first.click()
                left, top, w, h = page.evaluate("""() => { const g = document.querySelector('.js-plotly-plot');
                    const r = g.getBoundingClientRect(); const s = g._fullLayout._size;
                    return [r.left + s.l, r.top + s.t, s.w, s.h]; }""")
                cx, cy, half = left + w / 2, top + h / 2, min(w, h) * 0.12
                t = time.perf_counter()
                page.mouse.move(cx - half, cy - half)
                page.mouse.down()
                for px, py in [(cx + half, cy - half), (cx + half, cy + half), (cx - half, cy + half),
                               (cx - half, cy - half + 1)]:
                    page.mouse.move(px, py, steps=8)
                page.mouse.up()
                page.get_by_text(" selected").first.wait_for()
                heading = page.locator("h3", has_text="selected").first.inner_text()
                print(f"lasso -> '{heading}' in {time.perf_counter() - t:.1f} s")
                page.screenshot(path=str(args.screens / "explore_100k_lasso.png"), full_page=True)
                context.close()
            browser.close()
    finally:
        stop_server(server)
        log.close()
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the dashboard's latencies.

Run:  .venv/bin/python -m bench.bench_dashboard [--skip-browser]

1. Server-side time per eps change on the Clusters page: exactly what one slider move
   runs (``core.scoring.cluster_and_score``: DBSCAN on the cached neighbour index + internal and
   external metrics against genre and language), at 2,617 points (the study's size) and
   100,000 points (generated latents: 18 Gaussian clusters in 8 dimensions, random labels).
   Reference, same data, same run: sklearn ``DBSCAN(eps).fit`` + sklearn metric functions
   called fresh on every move (silhouette sampled to the same size above 3,000 points).
2. Time to first scatter on a cold start: a fresh ``streamlit run app.py`` process with an
   empty cache and no demo corpus on disk (as on a fresh clone), measured from the browser's
   first request to the scatter having points; then again with the demo corpus already made
   (the usual start after `scripts/start.sh`).
3. Browser render time of a WebGL scatter (the page's figure) at 100,000 points, with the
   same figure at 2,617 points as the reference, in Debian's Chromium.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.browser_bench import CHROMIUM, FLAGS, HAS_POINTS, start_dashboard, stop_server, wait_healthy

import numpy as np
import pandas as pd
import plotly
from sklearn import metrics as skm
from sklearn.cluster import DBSCAN

from core.clustering import NeighbourIndex, suggest_eps
from core.scoring import SILHOUETTE_EXACT_MAX, cluster_and_score
from ui.figures import latent_scatter

ROOT = Path(__file__).resolve().parent.parent


def latents(n: int, d: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(18, d))
    which = rng.integers(0, 18, size=n)
    Z = centres[which] + rng.normal(0, 1, size=(n, d))
    truth = pd.DataFrame({"genre": [f"g{w}" for w in which], "language": rng.choice(["eng", "bng"], size=n)})
    return Z, truth


def reference_move(Z, truth, eps, min_samples):
    labels = DBSCAN(eps=eps, min_samples=min_samples).fit(Z).labels_
    keep = labels >= 0
    if len(set(labels[keep])) >= 2:
        sample = SILHOUETTE_EXACT_MAX if keep.sum() > SILHOUETTE_EXACT_MAX else None
        skm.silhouette_score(Z[keep], labels[keep], sample_size=sample, random_state=0)
        skm.calinski_harabasz_score(Z[keep], labels[keep])
        skm.davies_bouldin_score(Z[keep], labels[keep])
    for col in truth:
        skm.adjusted_rand_score(truth[col], labels)
        skm.normalized_mutual_info_score(truth[col], labels)
    return labels


def eps_moves(n: int, moves: int) -> dict:
    Z, truth = latents(n)
    t = time.perf_counter()
    index = NeighbourIndex(Z)
    build = time.perf_counter() - t
    centre = suggest_eps(index, k=4)
    eps_values = np.linspace(centre * 1.4, centre * 0.6, moves)
    ours, ref = [], []
    for eps in eps_values:
        t = time.perf_counter()
        cluster_and_score(Z, clusterer="dbscan", params={"eps": float(eps), "min_samples": 5}, labels=truth,
                          index=index)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        reference_move(Z, truth, float(eps), 5)
        ref.append(time.perf_counter() - t)
    return {"points": n, "index build (s)": round(build, 3),
            "ours median (ms)": round(1000 * float(np.median(ours)), 1), "ours worst (ms)": round(1000 * max(ours), 1),
            "sklearn median (ms)": round(1000 * float(np.median(ref)), 1),
            "speed-up (median)": round(float(np.median(ref) / np.median(ours)), 1)}


def first_scatter(browser, data_dir: Path) -> float:
    """Seconds from the browser's first request to a scatter with points, on a fresh server process."""
    proc, url = start_dashboard({"SONGSCAPE_DATA": str(data_dir), "SONGSCAPE_CACHE": str(data_dir / "cache"),
                                 "SONGSCAPE_CORPUS": None})
    try:
        if not wait_healthy(url):
            raise SystemExit(f"the dashboard did not answer at {url} within 60 s")
        page = browser.new_page()
        t = time.perf_counter()
        page.goto(url)
        page.wait_for_function(HAS_POINTS, timeout=600_000)
        elapsed = time.perf_counter() - t
        page.close()
        return elapsed
    finally:
        stop_server(proc)


def render_time(browser, n: int, repeats: int = 3) -> float:
    """Median ms for Plotly.newPlot of the page's WebGL scatter with n points, until 'afterplot'."""
    Z, truth = latents(n, d=2, seed=1)
    frame = pd.DataFrame({"x": Z[:, 0], "y": Z[:, 1], "track_id": [f"t{i}" for i in range(n)],
                          "language": truth["language"], "genre": truth["genre"]})
    fig = latent_scatter(frame, color="language")
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "plot.html"
        plotly_js = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text()
        html.write_text("<html><body><div id='g' style='width:1200px;height:600px'></div>"
                        f"<script>{plotly_js}</script><script>window.FIG = {fig.to_json()};</script></body></html>")
        page = browser.new_page()
        page.goto(html.as_uri())
        times = []
        for _ in range(repeats):
            ms = page.evaluate("""async () => { const g = document.getElementById('g'); Plotly.purge(g);
                const t = performance.now(); await Plotly.newPlot(g, FIG.data, FIG.layout);
                await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
                return performance.now() - t; }""")
            times.append(ms)
        page.close()
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-browser", action="store_true", help="only the server-side eps timings")
    ap.add_argument("--moves", type=int, default=15)
    args = ap.parse_args()

    rows = [eps_moves(2617, args.moves), eps_moves(100_000, max(5, args.moves // 3))]
    print("\n## eps change, server side (core.scoring.cluster_and_score vs sklearn fresh)")
    print(pd.DataFrame(rows).to_string(index=False))

    if args.skip_browser:
        return
    from playwright.sync_api import sync_playwright  # optional: only the browser part needs Playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        small, large = render_time(browser, 2617), render_time(browser, 100_000)
        print("\n## browser render of the WebGL scatter")
        print(f"2,617 points: {small:.0f} ms   100,000 points: {large:.0f} ms   ratio {large / small:.1f}x")
        with tempfile.TemporaryDirectory() as tmp:
            cold = first_scatter(browser, Path(tmp))
            warm_data = first_scatter(browser, Path(tmp))
        print("\n## time to first scatter (fresh server process, first browser request)")
        print(f"fresh clone (demo corpus made on first use, empty caches): {cold:.1f} s")
        print(f"second start (demo corpus and caches on disk): {warm_data:.1f} s")
        browser.close()


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

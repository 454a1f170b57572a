"""Benchmark: every dashboard page on a corpus of N generated tracks (default 1,000,000), via AppTest.

    .venv/bin/python -m bench.bench_pages_scale [--n 1000000] [--steps clusters,dbscan,...] [--timeout 600]

The corpus is a generated 57-feature table, ``data/scale/synth<N>.csv`` (jittered rows of the
study's table, ``core.synthetic.feature_table``, written once), opened as
``SONGSCAPE_CORPUS=features:<table>`` with the shipped checkpoints (the Basic VAE encodes it).
``--warm`` encodes it first and computes the t-SNE of the map's sample (what ``python -m core
prepare`` does; the Explore page draws a seeded sample of 100,000 points above that), so the steps
read the latents and the projection from the on-disk cache.

Each step runs in a FRESH process (a new dashboard server: in-memory caches empty, disk caches
warm), as one AppTest session that opens the Explore page (the default page) and then does the
step; a step that does not finish within ``--timeout`` seconds is killed and reported as such.
Printed per step: wall seconds, the process's peak RSS (ru_maxrss), exceptions and error
messages on the page, the notes it shows (st.info / captions that mention a sample) and the
size of the largest chart or table it sends to the browser.

Steps: explore, clusters (K-Means, the default), dbscan (+ the k-distance plot), hdbscan,
agglomerative, gmm, latent (traverse a dimension and interpolate), compare, data.
``--screens DIR`` then opens the Clusters page in Debian's Chromium (a fresh ``streamlit run``) and
saves ``clusters_1m.png`` (K-Means, the default), ``clusters_1m_hdbscan.png`` (a sampled fit) and
``clusters_1m_dbscan.png``, each after its rerun has ended.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.browser_bench import CHROMIUM, FLAGS, HAS_POINTS, start_dashboard, stop_server, wait_healthy

ROOT = Path(__file__).resolve().parent.parent

TEMPLATE = ROOT.parent / "shared" / "data" / "features" / "gtzan_banglabeats_30s.csv"
STEPS = ("explore", "clusters", "dbscan", "hdbscan", "agglomerative", "gmm", "latent", "compare", "data")


def table_path(n: int) -> Path:
    return ROOT / "data" / "scale" / f"synth{n}.csv"


def warm(n: int) -> None:
    from core import checkpoint, synthetic, workspace
    from core.latents import encode_corpus
    from core.projections import project
    from ui import scale
    path = table_path(n)
    if not path.exists():
        t = time.perf_counter()
        synthetic.feature_table(path, n, template=TEMPLATE)
        print(f"generated {path} in {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    corpus = workspace.load_corpus((f"features:{path}",))
    ids, Z = encode_corpus(checkpoint.load(ROOT / "checkpoints" / "basic.pt"), corpus)
    print(f"corpus + Basic VAE latents: {len(ids):,} x {Z.shape[1]} in {time.perf_counter() - t:.1f} s", flush=True)
    rows = scale.scatter_rows(len(ids))  # the sample the Explore (and Clusters) map draws
    rows = slice(None) if rows is None else rows
    t = time.perf_counter()
    project(Z[rows], method="tsne", dim=2, random_state=0)
    print(f"t-SNE of the map's {len(Z[rows]):,} points: {time.perf_counter() - t:.1f} s (cached on disk)", flush=True)


def _proto_sizes(at) -> dict:
    """MB of the largest chart spec, dataframe and option list the page sends."""
    sizes = {"chart_mb": 0.0, "table_mb": 0.0, "options_mb": 0.0}
    for chart in at.get("plotly_chart"):
        sizes["chart_mb"] = max(sizes["chart_mb"], len(chart.proto.spec) / 2**20)
    for frame in at.dataframe:
        sizes["table_mb"] = max(sizes["table_mb"], frame.proto.ByteSize() / 2**20)
    for box in at.selectbox:
        sizes["options_mb"] = max(sizes["options_mb"], box.proto.ByteSize() / 2**20)
    return sizes


def child(step: str, timeout: float) -> None:
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    t = time.perf_counter()
    at.run()
    opened = time.perf_counter() - t
    t = time.perf_counter()
    page = {"explore": None, "latent": "latent", "compare": "compare", "data": "data"}.get(step, "clusters")
    if page:
        at.switch_page(f"views/{page}_page.py").run()
    if step in ("dbscan", "hdbscan", "agglomerative", "gmm"):
        at.segmented_control(key="clusters_algorithm").set_value(step).run()
        if step == "dbscan" and not at.exception:
            top = at.slider(key="dbscan_eps").max
            at.slider(key="dbscan_eps").set_value(round(top * 0.2, 3)).run()  # one eps move
    if step == "latent" and not at.exception:
        at.slider(key="trav_value").set_value(at.slider(key="trav_value").max).run()
        at.slider(key="interp_t").set_value(1.0).run()
    wall = time.perf_counter() - t
    notes = [i.value for i in at.info] + [c.value for c in at.caption if "sample" in c.value.lower()]
    out = {"step": step, "open_explore_s": round(opened, 1), "step_s": round(wall, 1),
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
           "exceptions": [str(e.value)[:300] for e in at.exception], "errors": [e.value[:300] for e in at.error],
           "notes": [n[:240] for n in notes], **{k: round(v, 2) for k, v in _proto_sizes(at).items()}}
    print("RESULT " + json.dumps(out), flush=True)


def screenshots(folder: Path, timeout: float) -> None:
    """The Clusters page in Debian's Chromium (a fresh ``streamlit run``): K-Means (the default), HDBSCAN, DBSCAN."""
    from playwright.sync_api import sync_playwright

    folder.mkdir(parents=True, exist_ok=True)
    log = open(ROOT / "data" / "scale" / "streamlit_pages.log", "w")
    server, url = start_dashboard(output=log)
    try:
        if not wait_healthy(url):
            raise SystemExit(f"the dashboard did not answer at {url} within 60 s; its log: {log.name}")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_context(viewport={"width": 1400, "height": 2200}).new_page()  # the map and the heatmap
            page.set_default_timeout(timeout * 1000)
            idle = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"  # the rerun has ended
            t = time.perf_counter()
            page.goto(f"{url}/clusters")
            page.wait_for_function(HAS_POINTS)
            page.wait_for_function(idle)
            print(f"Clusters page, K-Means, scatter drawn: {time.perf_counter() - t:.1f} s", flush=True)
            page.screenshot(path=str(folder / "clusters_1m.png"))
            for name, shot in (("HDBSCAN", "clusters_1m_hdbscan.png"), ("DBSCAN", "clusters_1m_dbscan.png")):
                t = time.perf_counter()
                page.get_by_text(name, exact=True).first.click()
                page.wait_for_timeout(1000)
                page.wait_for_function(idle)
                page.wait_for_function(HAS_POINTS)
                traces = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData.length")
                print(f"{name} drawn: {time.perf_counter() - t:.1f} s ({traces} traces on the map)", flush=True)
                page.screenshot(path=str(folder / shot))
            browser.close()
    finally:
        stop_server(server)
        log.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--timeout", type=float, default=600, help="seconds per step (its fresh process is killed after)")
    ap.add_argument("--warm", action="store_true", help="generate the table if needed and encode it first")
    ap.add_argument("--screens", type=Path, help="also take Chromium screenshots of the Clusters page into this folder")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ["SONGSCAPE_CORPUS"] = f"features:{table_path(args.n)}"
    os.environ.setdefault("SONGSCAPE_NO_WARMUP", "1")
    if args.child is not None:
        child(args.child, args.timeout)
        return 0
    print("command:", " ".join([sys.executable, *sys.argv]))
    print(f"{os.cpu_count()} cores; load average before: {os.getloadavg()}", flush=True)
    if args.warm or not table_path(args.n).exists():
        warm(args.n)
    for step in [s for s in args.steps.split(",") if s]:
        t = time.perf_counter()
        load = os.getloadavg()[0]
        try:
            proc = subprocess.run([sys.executable, "-m", "bench.bench_pages_scale", "--n", str(args.n),
                                   "--timeout", str(args.timeout), "--child", step], cwd=ROOT,
                                  capture_output=True, text=True, timeout=args.timeout + 120)
        except subprocess.TimeoutExpired:
            print(f"{step:14s} KILLED after {time.perf_counter() - t:.0f} s (load {load:.1f})", flush=True)
            continue
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(f"{step:14s} FAILED after {time.perf_counter() - t:.0f} s (rc {proc.returncode}): "
                  f"{proc.stderr[-800:]}", flush=True)
        else:
            print(f"{step:14s} {line[7:]} (load {load:.1f})", flush=True)
    if args.screens:
        screenshots(args.screens, args.timeout)
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

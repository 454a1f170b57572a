"""Benchmark: the Explore map at 10,000, 100,000 and 1,000,000 tracks in Chromium, Plotly (old) against the
WebGL map (new), in one run.

    .venv/bin/python -m bench.bench_explore_scale [--sizes 10000,100000,1000000] [--old-max 100000]
        [--proj pca] [--steps first,click,lasso,colour,eps] [--screens DIR] [--json FILE]

    BENCH_STEP_TIMEOUT_S (default 900) bounds each wait in the browser.

For each size N:

1. A generated 57-feature table of N tracks (jittered rows of the study's table,
   ``core.synthetic.feature_table``) under data/scale/, unless it is there; the caches warmed as
   ``python -m core prepare`` would: the corpus, the shipped Basic VAE's latents, the projection (``--proj``,
   PCA by default: it fits every track at any size in seconds; t-SNE and UMAP lay out a sample and place the
   rest, minutes) into the disk cache.
2. For each page variant -- ``old``: the Plotly scatter (``SONGSCAPE_MAP_ABOVE`` above N; above 100,000
   points it draws a 100,000-point sample), only up to ``--old-max`` tracks; ``new``: the WebGL map
   (``SONGSCAPE_MAP_ABOVE=0``) -- a fresh ``streamlit run`` with ``SONGSCAPE_CORPUS=features:<table>``, opened
   in Debian's Chromium at ``/?proj=...&colour=genre``:

   * first map: in a fresh server process (corpus read, K-Means on all points) and then, the number reported,
     in a new browser session of the warm server (warm cache): from ``goto`` to every point on the canvas;
   * click -> panel: a click on a point until its listening panel shows (track id, the reconstruction);
   * lasso 10,000: a square lasso sized to hold about 10,000 points, from the mouse release until the table
     heading says how many are selected and the table lists them;
   * colour: "Colour by" genre -> cluster (and back), until the map is drawn in the new colours; on the new map
     also its own menu (the legend's title) -> language, which recolours before the page's rerun;
   * eps: on the Clusters page (its map is the same WebGL map above the threshold), DBSCAN chosen (its
     neighbour graph and eps choice, not timed), then one step of the eps slider (the right arrow key): until
     the map shows the new clusters, and until the run has ended (the page's "computed in" caption gives
     the clustering's own time);

   with the bytes the websocket carried each way per step, the server's peak RSS (VmHWM of the
   ``streamlit run`` process) and the WebGL renderer string (``WEBGL_debug_renderer_info``).

Screenshots go to ``--screens``. The machine is shared: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from bench.browser_bench import CHROMIUM, FLAGS, HAS_POINTS, start_dashboard, stop_server, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT.parent / "shared" / "data" / "features" / "gtzan_banglabeats_30s.csv"
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
VIEW = "globalThis.__songscapePointMap && globalThis.__songscapePointMap.views.get('explore_scatter')"
CLUSTERS_VIEW = "globalThis.__songscapePointMap && globalThis.__songscapePointMap.views.get('clusters_scatter')"
LASSO_TARGET = 10_000
STEP_TIMEOUT_MS = int(os.environ.get("BENCH_STEP_TIMEOUT_S", "900")) * 1000


def table_path(n: int) -> Path:
    return ROOT / "data" / "scale" / f"synth{n}.csv"


def warm(n: int, method: str) -> str:
    """Write the table of ``n`` tracks (once), encode it and project it into the disk caches; returns the corpus spec."""
    from core import checkpoint, synthetic, workspace
    from core.latents import encode_corpus
    from core.projections import project

    path = table_path(n)
    if not path.exists():
        t = time.perf_counter()
        synthetic.feature_table(path, n, template=TEMPLATE)
        print(f"generated {path.name} in {time.perf_counter() - t:.1f} s", flush=True)
    spec = f"features:{path}"
    t = time.perf_counter()
    corpus = workspace.load_corpus((spec,))
    ids, Z = encode_corpus(checkpoint.load(ROOT / "checkpoints" / "basic.pt"), corpus)
    print(f"{n:,}: corpus + Basic VAE latents {len(ids):,} x {Z.shape[1]} in {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    project(Z, method=method, dim=2, random_state=0)
    print(f"{n:,}: {method} of every point {time.perf_counter() - t:.1f} s (from the disk cache when fast)", flush=True)
    return spec


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory (VmHWM) of process ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Wire:
    """Bytes the page's websocket carried (received = server -> browser), counted between two marks."""

    def __init__(self, page):
        self.received = self.sent = 0
        page.on("websocket", self._attach)

    def _attach(self, ws) -> None:
        ws.on("framereceived", lambda payload: self._add("received", payload))
        ws.on("framesent", lambda payload: self._add("sent", payload))

    def _add(self, way: str, payload) -> None:
        setattr(self, way, getattr(self, way) + len(payload))

    def mark(self) -> tuple[int, int]:
        return self.received, self.sent

    def since(self, mark: tuple[int, int]) -> dict:
        return {"down_bytes": self.received - mark[0], "up_bytes": self.sent - mark[1]}


def _idle(page) -> None:
    page.wait_for_timeout(250)
    page.wait_for_function(IDLE, timeout=600_000)


# ------------------------------------------------------------------------------ the two variants
class NewMap:
    name = "new"

    @staticmethod
    def drawn(page, n: int) -> None:
        page.wait_for_function(f"(n) => {{ const m = {VIEW}; return m && m.el.dataset.state === 'ready' "
                               "&& m.el.dataset.points === String(n); }", arg=n, timeout=900_000)

    @staticmethod
    def info(page) -> dict:
        return page.evaluate(f"() => ({{...({VIEW}).el.dataset}})")

    @staticmethod
    def point(page) -> tuple[float, float]:
        return tuple(page.evaluate(f"() => ({VIEW}).screenOf(0)"))

    @staticmethod
    def rect(page) -> list[float]:
        return page.evaluate(f"() => {{ const r = ({VIEW}).canvas.getBoundingClientRect(); "
                             "return [r.left, r.top, r.width, r.height]; }")

    @staticmethod
    def count_in(page, box) -> int:
        return page.evaluate(f"""([x0, y0, x1, y1]) => {{ const m = {VIEW}; let k = 0;
            for (let i = 0; i < m.n; i++) {{ const [x, y] = m.screenOf(i); if (x > x0 && x < x1 && y > y0 && y < y1) k++; }}
            return k; }}""", box)

    @staticmethod
    def lasso_tool(page) -> None:
        page.locator(".st-key-explore_scatter").get_by_role("button", name="Lasso").click()

    @staticmethod
    def recoloured(page, colour: str, after: float) -> None:
        page.wait_for_function(f"([c, t]) => {{ const m = {VIEW}; return m.el.dataset.colour === c "
                               "&& Number(m.el.dataset.readyAt) > t; }", arg=[colour, after], timeout=600_000)

    @staticmethod
    def now(page) -> float:
        return page.evaluate("() => performance.now()")


class OldMap:
    name = "old"

    @staticmethod
    def drawn(page, n: int) -> None:
        page.wait_for_function(HAS_POINTS, timeout=900_000)

    @staticmethod
    def info(page) -> dict:
        return {"points": page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData"
                                        ".reduce((s, d) => s + (d.x ? d.x.length : 0), 0)")}

    @staticmethod
    def point(page) -> tuple[float, float]:
        return tuple(page.evaluate("""() => { const g = document.querySelector('.js-plotly-plot');
            const d = g._fullData[0]; const xa = g._fullLayout.xaxis, ya = g._fullLayout.yaxis;
            const r = g.getBoundingClientRect();
            return [r.left + xa._offset + xa.l2p(d.x[0]), r.top + ya._offset + ya.l2p(d.y[0])]; }"""))

    @staticmethod
    def rect(page) -> list[float]:
        return page.evaluate("""() => { const g = document.querySelector('.js-plotly-plot');
            const r = g.getBoundingClientRect(); const s = g._fullLayout._size;
            return [r.left + s.l, r.top + s.t, s.w, s.h]; }""")

    @staticmethod
    def count_in(page, box) -> int:
        return page.evaluate("""([x0, y0, x1, y1]) => { const g = document.querySelector('.js-plotly-plot');
            const xa = g._fullLayout.xaxis, ya = g._fullLayout.yaxis, r = g.getBoundingClientRect(); let k = 0;
            for (const d of g._fullData) { if (!d.x || (d.name || '').includes(': ')) continue;
              for (let i = 0; i < d.x.length; i++) { const x = r.left + xa._offset + xa.l2p(d.x[i]);
                const y = r.top + ya._offset + ya.l2p(d.y[i]); if (x > x0 && x < x1 && y > y0 && y < y1) k++; } }
            return k; }""", box)

    @staticmethod
    def lasso_tool(page) -> None:
        page.locator(".js-plotly-plot").first.hover()
        page.locator('.modebar-btn[data-val="lasso"]').first.click()

    @staticmethod
    def recoloured(page, colour: str, after: float) -> None:
        page.wait_for_function("(c) => { const g = document.querySelector('.js-plotly-plot'); return g && g._fullLayout "
                               "&& g._fullLayout.legend && g._fullLayout.legend.title && "
                               "g._fullLayout.legend.title.text === c; }", arg=colour, timeout=600_000)
        _idle(page)

    @staticmethod
    def now(page) -> float:
        return 0.0


def _square_for(page, variant, target: int) -> tuple[float, float, float]:
    """(cx, cy, half) of a square in the map's middle holding about ``target`` points (bisection on its size)."""
    left, top, w, h = variant.rect(page)
    cx, cy = left + w / 2, top + h / 2
    lo, hi = 1.0, min(w, h) / 2 - 2
    half = hi
    for _ in range(18):
        half = (lo + hi) / 2
        k = variant.count_in(page, [cx - half, cy - half, cx + half, cy + half])
        if abs(k - target) <= target * 0.03:
            break
        lo, hi = (half, hi) if k < target else (lo, half)
    return cx, cy, half


def run_variant(p, variant, n: int, spec: str, url_query: str, steps: set[str], screens: Path) -> dict:
    out: dict = {"n": n, "variant": variant.name}
    env = {"SONGSCAPE_CORPUS": spec, "SONGSCAPE_NO_WARMUP": "1",
           "SONGSCAPE_MAP_ABOVE": "0" if variant is NewMap else str(10 * n)}
    log = open(ROOT / "data" / "scale" / f"streamlit_{variant.name}_{n}.log", "w")
    server, url = start_dashboard(env, output=log)
    try:
        if not wait_healthy(url, timeout=120):
            raise SystemExit(f"the dashboard did not answer at {url}; its log: {log.name}")
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for attempt in ("fresh", "warm"):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            wire = Wire(page)
            mark = wire.mark()
            t = time.perf_counter()
            page.goto(f"{url}/?{url_query}")
            variant.drawn(page, n)
            out[f"first_map_{attempt}_s"] = round(time.perf_counter() - t, 2)
            _idle(page)
            out[f"first_map_{attempt}_idle_s"] = round(time.perf_counter() - t, 2)
            out[f"first_map_{attempt}"] = wire.since(mark)
            info = variant.info(page)
            out["drawn_points"] = int(info.get("points", 0))
            if "renderer" in info:
                out["renderer"] = info["renderer"]
                out["issued_points"] = int(info.get("issued", 0))
            print(f"  {variant.name} {n:,} first map ({attempt}): {out[f'first_map_{attempt}_s']} s", flush=True)
            if attempt == "fresh":
                context.close()
                continue
            try:
                steps_of(page, variant, n, steps, wire, out, screens)
            except Exception:
                page.screenshot(path=str(screens / f"explore_{n}_{variant.name}_failed.png"), full_page=True)
                raise
            context.close()
        browser.close()
    finally:
        out["server_peak_rss_mb"] = round(peak_rss_mb(server.pid))
        stop_server(server)
        log.close()
    return out


def steps_of(page, variant, n: int, steps: set[str], wire: Wire, out: dict, screens: Path) -> None:
    if True:
        if True:
            page.screenshot(path=str(screens / f"explore_{n}_{variant.name}.png"))
            if "click" in steps:
                x, y = variant.point(page)
                mark = wire.mark()
                t = time.perf_counter()
                page.mouse.click(x, y)
                page.get_by_text("1 selected on the map").first.wait_for()
                page.get_by_text(re.compile(r"^reconstruction \(")).first.wait_for()
                out["click_panel_s"] = round(time.perf_counter() - t, 2)
                _idle(page)
                out["click_idle_s"] = round(time.perf_counter() - t, 2)
                out["click"] = wire.since(mark)
                print(f"  {variant.name} {n:,} click -> panel {out['click_panel_s']} s", flush=True)
                page.screenshot(path=str(screens / f"explore_{n}_{variant.name}_click.png"), full_page=True)
            if "lasso" in steps:
                page.get_by_role("button", name="Clear selection and search").click()
                page.get_by_text(f"All {n} tracks").first.wait_for()
                _idle(page)
                variant.lasso_tool(page)  # first: it scrolls the map into view
                cx, cy, half = _square_for(page, variant, min(LASSO_TARGET, n // 4))
                page.mouse.move(cx - half, cy - half)
                page.mouse.down()
                for px, py in ((cx + half, cy - half), (cx + half, cy + half), (cx - half, cy + half),
                               (cx - half, cy - half + 1)):
                    page.mouse.move(px, py, steps=8)
                mark = wire.mark()
                t = time.perf_counter()
                page.mouse.up()
                heading = page.locator("h3").filter(has_text=re.compile(r"^([2-9]|\d\d+) selected on the map")).first
                heading.wait_for()
                count = int(re.match(r"\d+", heading.inner_text()).group())
                page.get_by_text(f"rows 1–{min(25, count)} of {count}").first.wait_for()
                out["lasso_table_s"] = round(time.perf_counter() - t, 2)
                out["lasso_points"] = count
                _idle(page)
                out["lasso_idle_s"] = round(time.perf_counter() - t, 2)
                out["lasso"] = wire.since(mark)
                print(f"  {variant.name} {n:,} lasso of {count:,} -> table {out['lasso_table_s']} s", flush=True)
                page.screenshot(path=str(screens / f"explore_{n}_{variant.name}_lasso.png"), full_page=True)
            for step, colour in (("colour", "cluster"), ("colour_back", "genre")):
                if "colour" not in steps:
                    break
                box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Colour by").first.locator("input")
                box.scroll_into_view_if_needed()
                box.click()
                option = page.get_by_role("option", name=colour, exact=True)
                option.wait_for()
                before = variant.now(page)
                mark = wire.mark()
                t = time.perf_counter()
                option.click()
                variant.recoloured(page, colour, before)
                out[f"{step}_s"] = round(time.perf_counter() - t, 2)
                _idle(page)
                out[f"{step}_idle_s"] = round(time.perf_counter() - t, 2)
                out[step] = wire.since(mark)
                print(f"  {variant.name} {n:,} colour -> {colour}: {out[f'{step}_s']} s", flush=True)
            if "colour" in steps and variant is NewMap:
                # the map's own colour menu (its legend's title): no round trip before the map shows it
                mark = wire.mark()
                t = time.perf_counter()
                page.locator(".st-key-explore_scatter select.pm-legend-title").select_option("language")
                page.wait_for_function(f"() => ({VIEW}).el.dataset.colour === 'language'")
                out["colour_legend_s"] = round(time.perf_counter() - t, 2)
                out["colour_legend_js_ms"] = float(NewMap.info(page).get("colourMs", "nan"))
                _idle(page)
                out["colour_legend_idle_s"] = round(time.perf_counter() - t, 2)
                out["colour_legend"] = wire.since(mark)
                print(f"  {variant.name} {n:,} colour -> language in the map's legend: {out['colour_legend_s']} s "
                      f"({out['colour_legend_js_ms']} ms in the page's script), run ended "
                      f"{out['colour_legend_idle_s']} s", flush=True)
            if "eps" in steps:
                eps_move(page, variant, n, wire, out, screens)


def eps_move(page, variant, n: int, wire: Wire, out: dict, screens: Path) -> None:
    """The Clusters page: DBSCAN chosen (its neighbour graph built, not timed), then one step of the eps slider
    (the keyboard's right arrow) until the map shows the new clusters and the run has ended."""
    page.get_by_role("link", name="Clusters").first.click()
    page.wait_for_url("**/clusters**")
    if variant is NewMap:
        page.wait_for_function(f"() => ({CLUSTERS_VIEW}) && ({CLUSTERS_VIEW}).el.dataset.state === 'ready'")
    else:
        page.wait_for_function(HAS_POINTS)
    _idle(page)
    t = time.perf_counter()
    page.get_by_text("DBSCAN", exact=True).first.click()
    page.wait_for_timeout(500)
    page.get_by_role("slider").filter(has_text="").last.wait_for()
    page.get_by_text("eps", exact=True).first.wait_for()
    _idle(page)
    out["dbscan_first_s"] = round(time.perf_counter() - t, 2)
    slider = page.get_by_role("slider", name="eps")
    before = page.evaluate(f"() => {{ const m = {CLUSTERS_VIEW}; return m ? [m.el.dataset.colourPart, "
                           "performance.now()] : [null, 0]; }")
    slider.focus()
    page.evaluate("() => { const g = document.querySelector('.js-plotly-plot'); window.__epsBefore = g && g._fullData; }")
    mark = wire.mark()
    t = time.perf_counter()
    page.keyboard.press("ArrowRight")
    if variant is NewMap:
        page.wait_for_function(f"([p, at]) => {{ const m = {CLUSTERS_VIEW}; return m.el.dataset.colourPart !== p "
                               "&& Number(m.el.dataset.readyAt) > at; }", arg=before)
        out["eps_map_s"] = round(time.perf_counter() - t, 2)
    else:
        page.wait_for_function("() => { const g = document.querySelector('.js-plotly-plot'); "
                               "return g && g._fullData && g._fullData !== window.__epsBefore; }")
    _idle(page)
    out["eps_s"] = round(time.perf_counter() - t, 2)
    out["eps"] = wire.since(mark)
    out["eps_cluster_ms"] = int(re.search(r"computed in (\d+) ms",
                                          page.get_by_text(re.compile(r"^computed in \d+ ms")).first.inner_text()).group(1))
    print(f"  {variant.name} {n:,} eps move -> map {out.get('eps_map_s')} s, run ended {out['eps_s']} s "
          f"(clustering {out['eps_cluster_ms']} ms)", flush=True)
    page.screenshot(path=str(screens / f"clusters_{n}_{variant.name}_eps.png"), full_page=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--old-max", type=int, default=100_000, help="the Plotly page is measured up to this size")
    ap.add_argument("--proj", default="pca", choices=("pca", "tsne", "umap"))
    ap.add_argument("--steps", default="first,click,lasso,colour,eps")
    ap.add_argument("--variants", default="old,new")
    ap.add_argument("--screens", type=Path, default=Path("/work/screens/explore_map"))
    ap.add_argument("--json", type=Path, default=None, help="append each result as a JSON line here")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright  # optional: only the browser benchmarks need it

    steps = set(args.steps.split(","))
    args.screens.mkdir(parents=True, exist_ok=True)
    (ROOT / "data" / "scale").mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()}", flush=True)
    results = []
    with sync_playwright() as p:
        for n in [int(s) for s in args.sizes.split(",")]:
            spec = warm(n, args.proj)
            for name in args.variants.split(","):
                variant = {"old": OldMap, "new": NewMap}[name]
                if variant is OldMap and n > args.old_max:
                    continue
                result = run_variant(p, variant, n, spec, f"proj={args.proj}&colour=genre", steps, args.screens)
                result["load_after"] = round(os.getloadavg()[0], 1)
                results.append(result)
                print("RESULT " + json.dumps(result), flush=True)
                if args.json:
                    with open(args.json, "a") as fh:
                        fh.write(json.dumps(result) + "\n")
    print(f"load average after: {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

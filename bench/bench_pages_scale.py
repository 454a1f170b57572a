"""Benchmark: the dashboard's pages and what they compute, on N generated tracks (10,000 to 1,000,000).

    .venv/bin/python -m bench.bench_pages_scale [--sizes 10000,100000,1000000] [--steps core,dbscan,latent,...]
                                                [--reference-max 100000] [--timeout 900] [--warm]

The corpus is a generated 57-feature table, ``data/scale/synth<N>.csv`` (jittered rows of the
study's table, ``core.synthetic.feature_table``, written once), opened as
``SONGSCAPE_CORPUS=features:<table>`` with the shipped checkpoints (the Basic VAE encodes it: 2-D
latents). ``--warm`` (and any size whose table is missing) encodes it first and caches what the
Explore map draws (the t-SNE of its 100,000-point sample), as ``python -m core prepare`` would.

Each step runs in a FRESH process (in-memory caches empty, disk caches warm), per size:

* ``core`` -- what the pages compute, timed in one process on the Basic VAE latents, each against a
  reference measured in the same process on the same latents (the code path before this work):
  the t-SNE and UMAP of every track (``project``: a ``layout_sample``-point layout and the placement
  of the rest; reference: a fit of every point, ``layout_sample=n``, up to ``--reference-max`` tracks);
  the neighbour index, DBSCAN's sample and its k-distances (the k-distance plot); three eps moves
  (``cluster_and_score`` as the Clusters page runs it, categorical labels; reference: DBSCAN on the kNN
  graph of every point and scikit-learn's metrics on string labels, as before); the purity heatmap's
  count table (reference: ``pd.crosstab``); a search over the Explore table (a kept
  ``core.explore.TrackSearch``; reference: the search that lower-cased every column per call) and
  "tracks like this one" (a track's row through a ``pd.Index`` and one tree query; reference: a scan
  of the id list).
* ``latents8`` -- the projections, DBSCAN's sample and three eps moves on 8-D generated latents
  (``core.synthetic.latents``, 18 Gaussians): the Basic VAE's latents are 2-D, the cheapest case for
  neighbour searches.
* ``placement`` -- how close the placement is to openTSNE's own ``TSNEEmbedding.transform``: a t-SNE
  of a 20,000-point sample of the latents, then 20,000 other points placed both ways (time of each,
  median distance between the two placements, trustworthiness of each).
* page steps, each one AppTest session that opens Explore (the default page) and then does the step:
  explore, clusters (K-Means, the default), dbscan (DBSCAN: the first draw, then three eps moves timed
  one by one, the k-distance plot's points and caption, the heatmap), hdbscan, agglomerative, gmm,
  latent (the first render, then traverse and interpolate), compare, data.

Printed per step: wall seconds, the process's peak RSS (ru_maxrss: the server side), exceptions and
error messages on the page, the notes it shows and the size of the largest chart or table it sends
to the browser. ``--screens DIR`` then opens the Clusters page in Debian's Chromium (a fresh
``streamlit run``) and saves ``clusters_1m.png`` (K-Means), ``clusters_1m_hdbscan.png`` and
``clusters_1m_dbscan.png``, each after its rerun has ended (the largest size only).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from bench.browser_bench import CHROMIUM, FLAGS, HAS_POINTS, start_dashboard, stop_server, wait_healthy

ROOT = Path(__file__).resolve().parent.parent

TEMPLATE = ROOT.parent / "shared" / "data" / "features" / "gtzan_banglabeats_30s.csv"
STEPS = ("core", "placement", "latents8", "explore", "clusters", "dbscan", "hdbscan", "agglomerative", "gmm", "latent", "compare",
         "data")
PAGE_STEPS = STEPS[3:]


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
    rows = scale.scatter_rows(len(ids))  # the sample the Explore (and Clusters) map projects
    rows = slice(None) if rows is None else rows
    t = time.perf_counter()
    project(Z[rows], method="tsne", dim=2, random_state=0)
    print(f"t-SNE of the map's {len(Z[rows]):,} points: {time.perf_counter() - t:.1f} s (cached on disk)", flush=True)


def latents(n: int):
    """``(corpus, track ids, Basic VAE latents)`` of the generated table (encoded from the disk cache)."""
    from core import checkpoint, workspace
    from core.latents import encode_corpus
    corpus = workspace.load_corpus((f"features:{table_path(n)}",))
    ids, Z = encode_corpus(checkpoint.load(ROOT / "checkpoints" / "basic.pt"), corpus)
    return corpus, ids, Z


def _timed(fn, repeat: int = 1):
    """``(result of the last call, seconds of the fastest of repeat calls)``."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best

def _dbscan_start(Z):
    """DBSCAN's once-per-latents work, timed: the neighbour index, its sample above 100,000 points, the sample's
    k-distances, the nearest sampled point of every other one and the eps choice."""
    from core.clustering import NeighbourIndex, choose_eps, dbscan_sample, k_distance

    index, t_index = _timed(lambda: NeighbourIndex(Z))
    sample, t_sample = _timed(lambda: dbscan_sample(index))
    space = index if sample is None else sample.index
    kdist, t_kdist = _timed(lambda: k_distance(space, k=4))
    t_nearest = _timed(lambda: sample.nearest())[1] if sample is not None else 0.0
    choice, t_choice = _timed(lambda: choose_eps(space, min_samples=5))
    times = dict(index_s=round(t_index, 2), sample_s=round(t_sample, 2), kdist_s=round(t_kdist, 2),
                 nearest_s=round(t_nearest, 2), choose_eps_s=round(t_choice, 2))
    return index, space, kdist, choice, times



def _old_search(tracks: pd.DataFrame, query: str, columns) -> np.ndarray:
    """The search before the prepared index (kept here as the reference): every column lower-cased on every
    call, each word looked for with pandas' str.contains in every searched column."""
    n = len(tracks)
    words = [w for w in str(query or "").split() if w]
    where = [c for c in (columns or tracks.columns) if c not in ("path", "lyrics")]
    text = {c: tracks[c].astype(str).str.lower() for c in tracks.columns}
    hit = np.ones(n, dtype=bool)
    for word in words:
        column, sep, value = word.partition(":")
        if sep and value and column in tracks.columns:
            hit &= text[column].str.contains(value.lower(), regex=False).to_numpy()
            continue
        word_hit = np.zeros(n, dtype=bool)
        for c in where:
            word_hit |= text[c].str.contains(word.lower(), regex=False).to_numpy()
        hit &= word_hit
    return hit


def _old_metrics(Z, labels, truth: pd.DataFrame, index) -> None:
    """The metrics of an eps move before this work (the reference): scikit-learn's Calinski-Harabasz and
    Davies-Bouldin on the clustered points, its external metrics on codes of the string labels, the same
    4,000-point silhouette from the index's kept distances."""
    from sklearn import metrics as skm

    from core.metrics import silhouette_from_distances, silhouette_rows
    keep = labels >= 0
    if len(np.unique(labels[keep])) < 2:
        return
    rows = silhouette_rows(len(Z), 4000)
    if len(np.unique(labels[rows][labels[rows] >= 0])) >= 2:
        silhouette_from_distances(index.distances_among(rows), labels[rows])
    skm.calinski_harabasz_score(Z[keep], labels[keep])
    skm.davies_bouldin_score(Z[keep], labels[keep])
    for column in truth.columns:
        codes, _ = pd.factorize(pd.Series(truth[column].to_numpy(), dtype=object))
        ok = keep & (codes >= 0)
        skm.adjusted_rand_score(codes[ok], labels[ok])
        skm.normalized_mutual_info_score(codes[ok], labels[ok])
        skm.homogeneity_completeness_v_measure(codes[ok], labels[ok])


def _result(**values) -> None:
    values["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print("RESULT " + json.dumps(values), flush=True)


def core_step(n: int, reference_max: int) -> None:
    """What the pages compute at n tracks, each against the code path before this work (module docstring)."""
    from core import explore, metrics
    from core.clustering import cluster, k_distance, registry
    from core.projections import project
    from core.scoring import cluster_and_score, label_table
    from ui import frames
    warnings.simplefilter("ignore")
    (corpus, ids, Z), t_load = _timed(lambda: latents(n))
    _result(what="corpus + latents from the cache", n=n, s=round(t_load, 1), dims=int(Z.shape[1]))
    # --- projections: a layout of the sample and the placement of the rest, against a fit of every point
    project(Z[:200], method="umap", cache=False)  # numba's compilation, once per process
    for method in ("umap", "tsne"):
        _, t_new = _timed(lambda: project(Z, method=method, cache=False))
        ref = None
        if n <= reference_max:
            _, ref = _timed(lambda: project(Z, method=method, cache=False, layout_sample=max(n, 100)))
        _result(what=f"{method} of every track", n=n, s=round(t_new, 1), reference_s=None if ref is None else
                round(ref, 1), reference="a fit of every point", ratio=None if ref is None else round(ref / t_new, 1))
    # --- the neighbour index, DBSCAN's sample and the k-distance plot
    index, space, kdist, choice, start = _dbscan_start(Z)
    _result(what="index, sample, k-distances, nearest sampled, eps choice (once per latents)", n=n,
            kdist_points=len(kdist), **start)
    _, t_plot = _timed(lambda: k_distance(space, k=4), repeat=3)
    _result(what="k-distance plot per rerun (sort of the kept distances)", n=n, s=round(t_plot, 3),
            points=len(kdist))
    # --- eps moves: new path against DBSCAN on every point + scikit-learn's metrics
    truth = label_table(corpus, track_ids=ids).astype("category")
    strings = truth.astype(str)
    cluster_and_score(Z, clusterer="dbscan", params={"eps": choice.eps, "min_samples": 5}, labels=truth, index=index)
    moves = [round(choice.eps * f, 4) for f in (0.8, 1.2, 0.6)]
    times, found = [], []
    for eps in moves:
        (result, _), t = _timed(lambda: cluster_and_score(Z, clusterer="dbscan", params={"eps": eps, "min_samples": 5},
                                                          labels=truth, index=index))
        times.append(t)
        found.append(result.n_clusters)
    ref_times = []
    whole = dict(registry.FIT_MAX)
    registry.FIT_MAX.pop("dbscan", None)  # the reference: DBSCAN on every point, as before
    try:
        t = time.perf_counter()
        cluster("dbscan", Z, index=index, eps=choice.eps, min_samples=5)  # builds every point's kNN graph
        t_graph = time.perf_counter() - t

        def old_move(eps):
            _old_metrics(Z, cluster("dbscan", Z, index=index, eps=eps, min_samples=5).labels, strings, index)
        ref_times = [_timed(lambda: old_move(eps))[1] for eps in moves]
    finally:
        registry.FIT_MAX.clear()
        registry.FIT_MAX.update(whole)
    _result(what="eps move (cluster_and_score, 2 label columns)", n=n, moves_s=[round(t, 3) for t in times],
            clusters=found, median_s=round(float(np.median(times)), 3),
            reference="DBSCAN on every point's kNN graph + scikit-learn's metrics on string labels",
            reference_graph_s=round(t_graph, 1), reference_moves_s=[round(t, 3) for t in ref_times],
            ratio=round(float(np.median(ref_times) / np.median(times)), 1))
    # --- the purity heatmap's count table
    result, _ = cluster_and_score(Z, clusterer="dbscan", params={"eps": moves[0], "min_samples": 5}, labels=truth,
                                  index=index)
    _, t_table = _timed(lambda: metrics.contingency(result.labels, truth["genre"], max_rows=30), repeat=3)

    def old_table():
        keep = metrics.known_labels(strings["genre"])
        return pd.crosstab(pd.Series(result.labels[keep], name="cluster"),
                           pd.Series(strings["genre"].to_numpy()[keep], name="class"))
    _, t_old_table = _timed(old_table, repeat=3)
    _result(what="purity heatmap's count table (30 largest clusters + other)", n=n, s=round(t_table, 3),
            clusters=result.n_clusters, reference="pd.crosstab of the string labels",
            reference_s=round(t_old_table, 3), ratio=round(t_old_table / t_table, 1))
    # --- search and "tracks like this one" on the Explore table
    frame = frames.scatter_frame(ids, np.zeros((len(ids), 2), dtype=np.float32), corpus.tracks,
                                 clusters=result.labels)
    columns = [c for c in frame.columns if c not in ("x", "y", "z")]
    search, t_build = _timed(lambda: explore.TrackSearch(frame, columns=columns))
    search.match("warm up")
    queries = ("blues", ids[len(ids) // 2][:-3], "genre:rock eng", "c1")
    t_queries = [_timed(lambda: search.match(q))[1] for q in queries]
    t_old = [_timed(lambda: _old_search(frame, q, columns))[1] for q in queries[:2]]
    for q in queries:
        assert (search.match(q) == _old_search(frame, q, columns)).all(), q
    _result(what="search per keystroke (kept TrackSearch)", n=n, build_s=round(t_build, 2), queries=list(queries),
            query_ms=[round(t * 1000) for t in t_queries], reference="lower-casing every column per call",
            reference_ms=[round(t * 1000) for t in t_old],
            ratio=round(float(np.median(t_old) / np.median(t_queries[:2])), 1))
    rows = pd.Index(ids, dtype=object)
    rows.get_loc(ids[0])  # the hash table, built once (a page keeps the index)
    focus = ids[len(ids) * 3 // 4]
    _, t_near = _timed(lambda: explore.nearest_tracks(index, rows, focus, k=10), repeat=5)
    _, t_near_old = _timed(lambda: explore.nearest_tracks(index, ids, focus, k=10), repeat=5)
    _result(what="tracks like this one (10 nearest)", n=n, ms=round(t_near * 1000, 1),
            reference="the track's row by a scan of the id list", reference_ms=round(t_near_old * 1000, 1),
            ratio=round(t_near_old / t_near, 1))


def latents8_step(n: int) -> None:
    """The core step's projections, DBSCAN sample and eps moves on 8-D generated latents (a mixture of 18
    Gaussians, ``core.synthetic.latents``): the Basic VAE's latents are 2-D, where neighbour searches are
    cheapest; no references (a kNN graph of every point took 24 min at a million 8-D points here)."""
    from core import synthetic
    from core.projections import project
    from core.scoring import cluster_and_score
    warnings.simplefilter("ignore")
    Z, component = synthetic.latents(n, 8, random_state=0)
    truth = pd.DataFrame({"genre": pd.Categorical(np.asarray([f"g{i}" for i in range(18)])[component])})
    project(Z[:200], method="umap", cache=False)
    for method in ("umap", "tsne"):
        _, t = _timed(lambda: project(Z, method=method, cache=False))
        _result(what=f"{method} of every point (8-D)", n=n, s=round(t, 1))
    index, space, kdist, choice, start = _dbscan_start(Z)
    cluster_and_score(Z, clusterer="dbscan", params={"eps": choice.eps, "min_samples": 5}, labels=truth, index=index)
    times = [_timed(lambda: cluster_and_score(Z, clusterer="dbscan", params={"eps": choice.eps * f, "min_samples": 5},
                                              labels=truth, index=index))[1] for f in (0.8, 1.2, 0.6)]
    _result(what="index, sample, k-distances, nearest sampled, eps choice, eps moves (8-D)", n=n,
            moves_s=[round(t, 3) for t in times], **start)


def placement_step(n: int) -> None:
    """The placement against openTSNE's transform (module docstring)."""
    from openTSNE import TSNE
    from sklearn.manifold import trustworthiness

    from core.projections import layout_rows, place
    warnings.simplefilter("ignore")
    _, _, Z = latents(n)
    size = min(20_000, len(Z) // 2)
    rows = layout_rows(len(Z), size)
    rest = np.setdiff1d(np.arange(len(Z)), rows)
    query = np.sort(np.random.default_rng(1).choice(rest, size=min(20_000, len(rest)), replace=False))
    X = Z.astype(np.float64)
    t = time.perf_counter()
    embedding = TSNE(n_components=2, n_jobs=1, random_state=0, neighbors="approx", negative_gradient_method="fft",
                     verbose=False).fit(X[rows])
    t_fit = time.perf_counter() - t
    t = time.perf_counter()
    theirs = np.asarray(embedding.transform(X[query]))
    t_transform = time.perf_counter() - t
    both = np.concatenate([rows, query])
    t = time.perf_counter()
    ours = place(Z[both], np.arange(len(rows)), np.asarray(embedding))[len(rows):]
    t_place = time.perf_counter() - t
    spread = float(np.median(np.linalg.norm(np.asarray(embedding) - np.median(np.asarray(embedding), 0), axis=1)))
    gap = np.linalg.norm(ours - theirs, axis=1)
    pick = np.random.default_rng(2).choice(len(query), size=min(5000, len(query)), replace=False)
    _result(what=f"placement of {len(query):,} points beside a {size:,}-point t-SNE", n=n, fit_s=round(t_fit, 1),
            transform_s=round(t_transform, 1), place_s=round(t_place, 2),
            transform_per_million_s=round(t_transform / len(query) * 1e6), place_per_million_s=round(
                t_place / len(query) * 1e6, 1), median_gap=round(float(np.median(gap)), 3),
            p90_gap=round(float(np.quantile(gap, 0.9)), 3), map_radius=round(spread, 2),
            trust_transform=round(float(trustworthiness(Z[query][pick], theirs[pick], n_neighbors=10)), 4),
            trust_place=round(float(trustworthiness(Z[query][pick], ours[pick], n_neighbors=10)), 4))


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
    timings: dict[str, object] = {}
    page = {"explore": None, "latent": "latent", "compare": "compare", "data": "data"}.get(step, "clusters")
    if page:
        at.switch_page(f"views/{page}_page.py").run()
        timings["first_render_s"] = round(time.perf_counter() - t, 2)
    if step in ("dbscan", "hdbscan", "agglomerative", "gmm"):
        t1 = time.perf_counter()
        at.segmented_control(key="clusters_algorithm").set_value(step).run()
        timings["switch_s"] = round(time.perf_counter() - t1, 2)
        if step == "dbscan" and not at.exception:
            slider = at.slider(key="dbscan_eps")
            start, moves = slider.value, []
            for factor in (0.8, 1.2, 0.6):  # three eps moves around the start, each timed (a warm cache)
                value = round(min(max(start * factor, slider.min), slider.max), 3)
                t1 = time.perf_counter()
                at.slider(key="dbscan_eps").set_value(value).run()
                moves.append(round(time.perf_counter() - t1, 2))
            timings["eps_moves_s"] = moves
            timings["clusters"] = next((m.value for m in at.metric if m.label == "clusters"), None)
            timings["kdist_caption"] = next((c.value[:160] for c in at.caption if c.value.startswith("The k-distances")), "")
            timings["heatmap"] = any(c.proto.id and "heat_cluster" in c.proto.id for c in at.get("plotly_chart"))
    if step == "latent" and not at.exception:
        t1 = time.perf_counter()
        at.slider(key="trav_value").set_value(at.slider(key="trav_value").max).run()
        at.slider(key="interp_t").set_value(1.0).run()
        timings["two_moves_s"] = round(time.perf_counter() - t1, 2)
    wall = time.perf_counter() - t
    notes = [i.value for i in at.info] + [c.value for c in at.caption if "sample" in c.value.lower()]
    out = {"step": step, "open_explore_s": round(opened, 1), "step_s": round(wall, 1), **timings,
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


def run_step(n: int, step: str, timeout: float, reference_max: int) -> None:
    """``step`` at ``n`` tracks in a fresh process; prints its RESULT lines (or that it failed or was killed)."""
    t = time.perf_counter()
    load = os.getloadavg()[0]
    try:
        proc = subprocess.run([sys.executable, "-m", "bench.bench_pages_scale", "--sizes", str(n),
                               "--timeout", str(timeout), "--reference-max", str(reference_max), "--child", step],
                              cwd=ROOT, capture_output=True, text=True, timeout=timeout + 120)
    except subprocess.TimeoutExpired:
        print(f"{n:>9,} {step:14s} KILLED after {time.perf_counter() - t:.0f} s (load {load:.1f})", flush=True)
        return
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines or proc.returncode:
        print(f"{n:>9,} {step:14s} FAILED after {time.perf_counter() - t:.0f} s (rc {proc.returncode}): "
              f"{proc.stderr[-800:]}", flush=True)
    for line in lines:
        print(f"{n:>9,} {step:14s} {line[7:]} (load {load:.1f} at the start)", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000", help="comma-separated numbers of tracks (10000,100000,1000000)")
    ap.add_argument("--n", type=int, help="one size (the same as --sizes N)")
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--reference-max", type=int, default=100_000,
                    help="largest size at which the core step also fits t-SNE and UMAP on every point (the reference)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per step (its fresh process is killed after)")
    ap.add_argument("--warm", action="store_true", help="generate the table if needed and encode it first")
    ap.add_argument("--screens", type=Path, help="also take Chromium screenshots of the Clusters page into this folder")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [args.n] if args.n else [int(x) for x in args.sizes.split(",") if x]
    if args.child is not None:
        os.environ["SONGSCAPE_CORPUS"] = f"features:{table_path(sizes[0])}"
        os.environ.setdefault("SONGSCAPE_NO_WARMUP", "1")
        if args.child == "core":
            core_step(sizes[0], args.reference_max)
        elif args.child == "placement":
            placement_step(sizes[0])
        elif args.child == "latents8":
            latents8_step(sizes[0])
        else:
            child(args.child, args.timeout)
        return 0
    print("command:", " ".join([sys.executable, *sys.argv]))
    print(f"{os.cpu_count()} cores; load average before: {os.getloadavg()}", flush=True)
    for n in sizes:
        os.environ["SONGSCAPE_CORPUS"] = f"features:{table_path(n)}"
        os.environ.setdefault("SONGSCAPE_NO_WARMUP", "1")
        if args.warm or not table_path(n).exists():
            warm(n)
        for step in [s for s in args.steps.split(",") if s]:
            run_step(n, step, args.timeout, args.reference_max)
    if args.screens:
        screenshots(args.screens, args.timeout)
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

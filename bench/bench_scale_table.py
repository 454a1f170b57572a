"""Benchmark: the scaling table at 1k, 10k and 100k tracks (issue 12), one subprocess per cell.

    .venv/bin/python bench/bench_scale_table.py [--sizes 1000,10000,100000] [--extract-max 10000]
                                                [--conv-max 10000] [--clip-seconds 1]

Stages (each cell runs in a fresh process, so its peak memory, ``resource.getrusage``'s
ru_maxrss, is its own; the shared numba cache is warm):

extract   N generated 1-s clips (a tone + noise, WAV; short on purpose: 100k 30-s clips are ~4 h
          here), 57 features, ``extract(n_jobs=1, cache=False)``: clips/s of ONE worker.
          Sizes above --extract-max are not run (the per-clip work does not depend on N).
encode    Basic VAE (checkpoints/basic.pt): a generated 57-feature table of N rows (jittered rows
          of the study's table) -> ``encode_corpus`` with an empty cache (table read included).
conv      ConvVAE (checkpoints/conv.pt) encoder on N generated 128x128 mels + lyrics, streamed in
          chunks of 2,048 (``latents.ENCODE_TASK_TRACKS``): tracks/s and flat peak memory.
umap      ``project(method="umap")`` of N generated 8-D latents (18 Gaussians), no cache, after a
          200-point warm-up in the same process (numba compilation not timed).
tsne      the same with ``method="tsne"`` (approx neighbours + FFT above 10,000 points).
eps       nine eps/min_samples moves through ``core.scoring.cluster_and_score`` with a reused
          NeighbourIndex + genre/language labels (what the Clusters page runs), after one
          first draw at the knee (what the page shows when it opens; not counted), against
          sklearn ``DBSCAN(eps, min_samples).fit`` + the sklearn metrics with the same sample
          (silhouette on 4,000 points), fresh each move, in the same process; medians.

Load average (1 min) is printed with every cell: the 2 cores are shared with other jobs.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / "data" / "cache" / "numba"))
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

TEMPLATE = ROOT.parent / "shared" / "data" / "features" / "gtzan_banglabeats_30s.csv"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_extract(n: int, seconds: float) -> dict:
    from bench_scale import make_clips
    from core.features.extract import extract
    with tempfile.TemporaryDirectory() as tmp:
        corpus = make_clips(Path(tmp), n, seconds)
        extract(corpus.subset(corpus.track_ids[:2]), kind="gtzan57", n_jobs=1, cache=False)
        t = time.perf_counter()
        fs = extract(corpus, kind="gtzan57", n_jobs=1, cache=False)
        wall = time.perf_counter() - t
    assert len(fs.track_ids) == n
    return {"wall_s": wall, "rate": n / wall, "unit": "clips/s/worker"}


def stage_encode(n: int) -> dict:
    from core import checkpoint, synthetic
    from core.corpus.feature_table import read_feature_table
    from core.latents import encode_corpus
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SONGSCAPE_CACHE"] = tmp
        import core.config
        core.config.CACHE_DIR = Path(tmp)
        path = synthetic.feature_table(Path(tmp) / "t.csv", n, template=TEMPLATE)
        model = checkpoint.load(ROOT / "checkpoints" / "basic.pt")
        t = time.perf_counter()
        corpus = read_feature_table(path)
        ids, Z = encode_corpus(model, corpus)
        wall = time.perf_counter() - t
    assert len(ids) == n
    return {"wall_s": wall, "rate": n / wall, "unit": "tracks/s (table read + encode)"}


def stage_conv(n: int) -> dict:
    from core import checkpoint
    from core.inputs import ModelInputs
    from core.latents import ENCODE_TASK_TRACKS
    model = checkpoint.load(ROOT / "checkpoints" / "conv.pt")
    rng = np.random.default_rng(0)
    words = ["ami", "tumi", "love", "night", "gaan", "dance"]
    t = time.perf_counter()
    out = 0
    for s in range(0, n, ENCODE_TASK_TRACKS):
        m = min(ENCODE_TASK_TRACKS, n - s)
        mel = rng.normal(-40, 15, size=(m, 128, 128)).astype(np.float32)
        lyrics = [" ".join(rng.choice(words, 8)) for _ in range(m)]
        out += len(model.encode(ModelInputs([f"t{s + i}" for i in range(m)], mel=mel, lyrics=lyrics,
                                            mel_params=model.input_spec()["mel_params"])))
    wall = time.perf_counter() - t
    assert out == n
    return {"wall_s": wall, "rate": n / wall, "unit": "tracks/s (incl. generating the mels)"}


def stage_projection(n: int, method: str) -> dict:
    from core import synthetic
    from core.projections import project
    warm, _ = synthetic.latents(200, 8, random_state=1)
    project(warm, method=method, cache=False)
    Z, _ = synthetic.latents(n, 8)
    t = time.perf_counter()
    Y = project(Z, method=method, cache=False)
    wall = time.perf_counter() - t
    assert Y.shape == (n, 2) and np.isfinite(Y).all()
    return {"wall_s": wall, "rate": n / wall, "unit": "points/s"}


def stage_eps(n: int) -> dict:
    import pandas as pd
    from sklearn.cluster import DBSCAN
    from sklearn.metrics import adjusted_rand_score
    from core import metrics, synthetic
    from core.clustering import NeighbourIndex, suggest_eps
    from core.scoring import SILHOUETTE_EXACT_MAX, cluster_and_score
    Z, comp = synthetic.latents(n, 8)
    Z = Z.astype(np.float64)
    rng = np.random.default_rng(1)
    truth = pd.DataFrame({"genre": [f"g{c % 10}" for c in comp], "language": rng.choice(["eng", "bng"], n)})
    t = time.perf_counter()
    index = NeighbourIndex(Z)
    knee = suggest_eps(index, k=4)
    t_index = time.perf_counter() - t
    moves = [(knee * f, 5) for f in (1.4, 1.2, 1.0, 0.9, 0.8, 0.6)] + [(knee, 3), (knee, 8), (knee, 12)]
    ours_t, ours_cpu, ref_t, agree, noise_same = [], [], [], [], []
    sample = SILHOUETTE_EXACT_MAX if n > SILHOUETTE_EXACT_MAX else None
    cluster_and_score(Z, clusterer="dbscan", params={"eps": knee, "min_samples": 5}, labels=truth,
                      index=index)  # the page's first draw at the knee (numba load, sample distances)
    for eps, ms in moves:
        t, c = time.perf_counter(), time.process_time()
        res, _ = cluster_and_score(Z, clusterer="dbscan", params={"eps": eps, "min_samples": ms}, labels=truth,
                                   index=index)
        ours_t.append(time.perf_counter() - t)
        ours_cpu.append(time.process_time() - c)
        t = time.perf_counter()
        ref = DBSCAN(eps=eps, min_samples=ms).fit(Z).labels_
        metrics.internal(Z, ref, sample_size=sample, random_state=0)
        for col in truth:
            metrics.external(ref, truth[col].to_numpy())
        ref_t.append(time.perf_counter() - t)
        agree.append(adjusted_rand_score(ref, res.labels))
        noise_same.append(bool(np.array_equal(ref < 0, res.labels < 0)))
    return {"index_s": t_index, "ours_median_ms": 1e3 * float(np.median(ours_t)),
            "ours_worst_ms": 1e3 * max(ours_t), "ours_cpu_median_ms": 1e3 * float(np.median(ours_cpu)), "ref_median_ms": 1e3 * float(np.median(ref_t)),
            "ratio": float(np.median(ref_t) / np.median(ours_t)), "min_ari_vs_sklearn": min(agree),
            "noise_identical": all(noise_same), "moves": len(moves)}


def child(stage: str, n: int, seconds: float) -> None:
    load = os.getloadavg()[0]
    if stage == "extract":
        out = stage_extract(n, seconds)
    elif stage == "encode":
        out = stage_encode(n)
    elif stage == "conv":
        out = stage_conv(n)
    elif stage in ("umap", "tsne"):
        out = stage_projection(n, stage)
    else:
        out = stage_eps(n)
    out |= {"stage": stage, "n": n, "peak_mb": peak_mb(), "load_before": load, "load_after": os.getloadavg()[0]}
    print("RESULT " + json.dumps(out), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--stages", default="extract,encode,conv,umap,tsne,eps")
    ap.add_argument("--extract-max", type=int, default=10_000, help="largest N for the extract stage")
    ap.add_argument("--conv-max", type=int, default=10_000, help="largest N for the ConvVAE stage")
    ap.add_argument("--tsne-max", type=int, default=100_000, help="largest N for the t-SNE stage")
    ap.add_argument("--clip-seconds", type=float, default=1.0)
    ap.add_argument("--child", nargs=2, metavar=("STAGE", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.clip_seconds)
        return 0
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(f"{os.cpu_count()} cores; load average before: {os.getloadavg()}")
    limits = {"extract": args.extract_max, "conv": args.conv_max, "tsne": args.tsne_max}
    for stage in args.stages.split(","):
        for n in [int(s) for s in args.sizes.split(",")]:
            if n > limits.get(stage, n):
                print(f"{stage:8s} {n:>7d}  (not run: above --{stage}-max)", flush=True)
                continue
            proc = subprocess.run([sys.executable, __file__, "--child", stage, str(n),
                                   "--clip-seconds", str(args.clip_seconds)],
                                  capture_output=True, text=True, env=os.environ)
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if line is None:
                print(f"{stage:8s} {n:>7d}  FAILED: {proc.stderr[-600:]}", flush=True)
                continue
            print(f"{stage:8s} {n:>7d}  {line[7:]}", flush=True)
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

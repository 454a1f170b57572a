"""Benchmark: the scaling table at 1k, 10k and 100k tracks, one subprocess per cell.

    .venv/bin/python -m bench.bench_scale_table [--sizes 1000,10000,100000] [--stages extract,...,train] [--extract-max 10000]
                                                [--conv-max 10000] [--clip-seconds 1]

Stages (each cell runs in a fresh process, so its peak memory, ``resource.getrusage``'s
ru_maxrss, is its own; the shared numba cache is warm):

extract   N generated 1-s clips (a tone + noise, WAV under data/, deleted afterwards; short on
          purpose: 100k 30-s clips are ~4 h here), 57 features, ``extract(n_jobs=--extract-jobs,
          cache=False)`` (default 1: ONE worker): clips/s per worker from the wall time, and clips per
          CPU-second (this process + its finished pool workers: robust to other jobs' load).
          Sizes above --extract-max are not run (the per-clip work does not depend on N).
encode    Basic VAE (checkpoints/basic.pt): a generated 57-feature table of N rows (jittered rows
          of the study's table) -> ``encode_corpus`` with an empty cache (table read included).
conv      the shipped ConvVAE (checkpoints/conv.pt) encodes N generated tracks: the whole-clip store
          and lyrics of the ``train`` stage (written by a separate process first, deleted after),
          crops every 32 frames, product of their posteriors: tracks/s and peak memory.
umap      ``project(method="umap")`` of N generated 8-D latents (18 Gaussians), no cache, after a
          200-point warm-up in the same process (numba compilation not timed).
tsne      the same with ``method="tsne"`` (approx neighbours + FFT above 10,000 points).
eps       nine eps/min_samples moves through ``core.scoring.cluster_and_score`` with a reused
          NeighbourIndex + genre/language labels (what the Clusters page runs), after one
          first draw at the knee (what the page shows when it opens; not counted), against
          sklearn ``DBSCAN(eps, min_samples).fit`` + the sklearn metrics with the same sample
          (silhouette on 4,000 points), fresh each move, in the same process; medians.

train     training through the shipped path (``core.models.create`` + ``core.checkpoint.fit``, a
          checkpoint written every epoch) on N generated tracks: ``conv`` = the ConvVAE (lyrics
          block on) on N whole-clip log-mels of 128-256 frames (uniform), stored as the real corpus
          stores them (one memory-mapped ``MelClips`` store written by ``MelClips.write``, 3.3-6.5 GB
          at 100k; generated in a separate process first, deleted afterwards) and generated lyrics
          (60 % of tracks, 2,000-word vocabulary); ``basic`` = the Basic VAE on a generated N-row
          57-feature table (written by a separate process first; read and built by ``build_inputs``
          in the cell, as ``core train`` does).
          ``--train-steps`` optimisation steps over 2 epochs for conv (each epoch ends with the loop's
          evaluation pass), 2 full epochs for basic. Reports steps/s (wall and CPU, from the loop's
          on_batch times; the first step of an epoch is left out) and peak memory: ru_maxrss (which
          counts the store's pages the process has touched, file-backed and reclaimable) and the peak
          of the anonymous memory (RssAnon, sampled every 20 ms: what the process really holds).

Load average (1 min) is printed with every cell: the 2 cores are shared with other jobs.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
warnings.filterwarnings("ignore")

import numpy as np

TEMPLATE = ROOT.parent / "shared" / "data" / "features" / "gtzan_banglabeats_30s.csv"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children (the pool's workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def stage_extract(n: int, seconds: float, jobs: int = 1) -> dict:
    from bench.bench_scale import make_clips
    from core.features.extract import extract
    with tempfile.TemporaryDirectory(dir=ROOT / "data") as tmp:
        t = time.perf_counter()
        corpus = make_clips(Path(tmp), n, seconds)
        t_make = time.perf_counter() - t
        extract(corpus.subset(corpus.track_ids[:2]), kind="gtzan57", n_jobs=1, cache=False)
        t, c, load = time.perf_counter(), cpu_seconds(), os.getloadavg()[0]
        fs = extract(corpus, kind="gtzan57", n_jobs=jobs, cache=False)
        wall, cpu = time.perf_counter() - t, cpu_seconds() - c
        load_end = os.getloadavg()[0]
    assert len(fs.track_ids) == n
    return {"wall_s": wall, "cpu_s": cpu, "jobs": jobs, "rate": n / wall / jobs, "cpu_rate": n / cpu,
            "unit": "clips/s/worker (wall) and clips per CPU-second", "make_clips_s": t_make,
            "load_at_start": load, "load_at_end": load_end}


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


def stage_conv(n: int, folder: Path) -> dict:
    """The shipped ConvVAE encodes N generated tracks: whole clips from the store the prep cell wrote
    (what ``encode_corpus`` runs after ``build_inputs``), crops every 32 frames, lyrics block."""
    from core import checkpoint
    from core.features.mel import CLIP_PARAMS
    from core.features.melstore import MelClips
    from core.inputs import ModelInputs
    model = checkpoint.load(ROOT / "checkpoints" / "conv.pt")
    with MemorySampler() as mem:
        t, c = time.perf_counter(), time.process_time()
        clips = MelClips.open(train_store(folder, n), params=CLIP_PARAMS.to_dict(), key=f"bench{n}")
        Z = model.encode(ModelInputs([f"t{i}" for i in range(n)], lyrics=generated_lyrics(n), clips=clips))
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    assert Z.shape == (n, model.latent_dim) and np.isfinite(Z).all()
    return {"wall_s": wall, "rate": n / wall, "cpu_rate": n / cpu, "unit": "tracks/s (wall) and tracks per CPU-second",
            "peak_anon_mb": mem.peak["RssAnon"] / 1024,
            "peak_file_mb": mem.peak["RssFile"] / 1024}


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


#: Generated whole clips: frames per clip drawn uniformly in this range (crop = 128).
TRAIN_FRAMES = (128, 256)
WORDS = [f"w{i:04d}" for i in range(2000)]


class GeneratedClips:
    """N whole-clip log-mels (128 bands, dB re. full scale), each generated on demand from its own seed
    (a sequence MelClips.write can iterate twice with one clip in memory): one of 10 band profiles,
    a slow random loudness envelope and noise, in [-100, 0] dB."""

    def __init__(self, n: int, seed: int = 0, n_mels: int = 128):
        rng = np.random.default_rng(seed)
        self.n, self.seed, self.n_mels = n, seed, n_mels
        self.lengths = rng.integers(TRAIN_FRAMES[0], TRAIN_FRAMES[1] + 1, n)
        self.profiles = np.sort(rng.uniform(-80, -20, (10, n_mels)), axis=1)[:, ::-1].astype(np.float32)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, i])
        L = int(self.lengths[i])
        env = np.repeat(rng.normal(0, 6, L // 16 + 1), 16)[:L].astype(np.float32)
        x = self.profiles[i % 10][:, None] + env[None] + rng.standard_normal((self.n_mels, L), dtype=np.float32) * 5
        return np.clip(x, -100, 0)


def generated_lyrics(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed + 1)
    ranks = np.minimum(rng.zipf(1.3, size=(n, 30)), len(WORDS)) - 1
    has = rng.random(n) < 0.6
    return [" ".join(WORDS[j] for j in ranks[i]) if has[i] else "" for i in range(n)]


def train_store(folder: Path, n: int) -> Path:
    return folder / f"clips{n}.npy"


def train_table(folder: Path, n: int) -> Path:
    return folder / f"table{n}.csv"


def stage_train_prep(n: int, model_name: str, folder: Path) -> dict:
    """Write the generated store or table (a separate process, so the training cell's peak is training only)."""
    from core import synthetic
    from core.features.mel import CLIP_PARAMS
    from core.features.melstore import MelClips
    t = time.perf_counter()
    if model_name == "conv":
        MelClips.write(train_store(folder, n), GeneratedClips(n), params=CLIP_PARAMS.to_dict(), key=f"bench{n}")
        path = train_store(folder, n)
    else:
        path = synthetic.feature_table(train_table(folder, n), n, template=TEMPLATE)
    return {"wall_s": time.perf_counter() - t, "file_mb": path.stat().st_size / 2**20}


class MemorySampler:
    """Peak RssAnon / RssFile of this process (``/proc/self/status``), sampled every ``every`` seconds."""

    def __init__(self, every: float = 0.02):
        import threading
        self.peak = {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def sample(self) -> None:
        for line in Path("/proc/self/status").read_text().splitlines():
            key = line.split(":")[0]
            if key in self.peak:
                self.peak[key] = max(self.peak[key], int(line.split()[1]))

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.sample()

    def __enter__(self) -> "MemorySampler":
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


class StepTimer:
    """Training callback: wall and CPU time of each optimisation step (between two on_batch calls of
    one epoch; an epoch's first step also holds what came before it, so it is left out)."""

    def __init__(self):
        self.wall, self.cpu, self.epoch_end = [], [], []
        self._last = None
        self.threads = None

    def on_batch(self, info: dict) -> None:
        import torch
        now = (time.perf_counter(), time.process_time())
        if info["batch"] > 1 and self._last is not None:
            self.wall.append(now[0] - self._last[0])
            self.cpu.append(now[1] - self._last[1])
        self._last = now
        self.threads = torch.get_num_threads()

    def on_epoch(self, info: dict) -> None:
        self.epoch_end.append(time.perf_counter() - self._last[0])  # the epoch's evaluation pass + save
        self._last = None


def stage_train(n: int, model_name: str, folder: Path, steps: int) -> dict:
    from core import checkpoint
    from core.features.mel import CLIP_PARAMS
    from core.features.melstore import MelClips
    from core.inputs import ModelInputs, build_inputs
    from core.models import create
    with MemorySampler() as mem:
        t = time.perf_counter()
        if model_name == "conv":
            clips = MelClips.open(train_store(folder, n), params=CLIP_PARAMS.to_dict(), key=f"bench{n}")
            inputs = ModelInputs([f"t{i}" for i in range(n)], lyrics=generated_lyrics(n), clips=clips)
            model = create("conv", epochs=2, steps_per_epoch=max(1, steps // 2), device="cpu", random_state=0)
        else:
            from core.corpus.feature_table import read_feature_table
            inputs, _ = build_inputs(read_feature_table(train_table(folder, n)), needs={"features"})
            model = create("basic", epochs=2, device="cpu", random_state=0)
        t_inputs = time.perf_counter() - t
        timer = StepTimer()
        t = time.perf_counter()
        checkpoint.fit(model, inputs, folder / f"{model_name}{n}.pt", callback=timer)
        t_fit = time.perf_counter() - t
    assert len(model.history_) == 2 and np.isfinite(model.history_[-1]["loss"])
    return {"model": model_name, "inputs_s": t_inputs, "fit_s": t_fit, "steps": model.history_[-1]["step"],
            "steps_per_s": len(timer.wall) / sum(timer.wall), "steps_per_cpu_s": len(timer.cpu) / sum(timer.cpu),
            "eval_s": timer.epoch_end, "threads": timer.threads, "batch": model.history_[-1]["batch_size"],
            "peak_anon_mb": mem.peak["RssAnon"] / 1024, "peak_file_mb": mem.peak["RssFile"] / 1024}


def child(stage: str, n: int, seconds: float, args=None) -> None:
    load = os.getloadavg()[0]
    if stage == "extract":
        out = stage_extract(n, seconds, args.extract_jobs if args else 1)
    elif stage == "encode":
        out = stage_encode(n)
    elif stage == "conv":
        out = stage_conv(n, Path(args.train_dir))
    elif stage in ("umap", "tsne"):
        out = stage_projection(n, stage)
    elif stage.startswith("prep_"):
        out = stage_train_prep(n, stage.split("_", 1)[1], Path(args.train_dir))
    elif stage.startswith("train_"):
        out = stage_train(n, stage.split("_", 1)[1], Path(args.train_dir), args.train_steps)
    else:
        out = stage_eps(n)
    out |= {"stage": stage, "n": n, "peak_mb": peak_mb(), "load_before": load, "load_after": os.getloadavg()[0]}
    print("RESULT " + json.dumps(out), flush=True)


def run_cell(stage: str, n: int, args) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.bench_scale_table", "--child", stage, str(n), "--clip-seconds", str(args.clip_seconds),
                           "--train-dir", args.train_dir, "--train-steps", str(args.train_steps),
                           "--extract-jobs", str(args.extract_jobs)],
                          capture_output=True, text=True, env=os.environ, cwd=ROOT)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        print(f"{stage:8s} {n:>7d}  FAILED: {proc.stderr[-600:]}", flush=True)
    else:
        print(f"{stage:8s} {n:>7d}  {line[7:]}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--stages", default="extract,encode,conv,umap,tsne,eps")
    ap.add_argument("--extract-max", type=int, default=10_000, help="largest N for the extract stage")
    ap.add_argument("--extract-jobs", type=int, default=1, help="worker processes of the extract stage")
    ap.add_argument("--conv-max", type=int, default=10_000, help="largest N for the ConvVAE stage")
    ap.add_argument("--tsne-max", type=int, default=100_000, help="largest N for the t-SNE stage")
    ap.add_argument("--clip-seconds", type=float, default=1.0)
    ap.add_argument("--train-models", default="conv,basic", help="models of the train stage")
    ap.add_argument("--train-steps", type=int, default=40, help="ConvVAE optimisation steps (2 epochs)")
    ap.add_argument("--train-max", type=int, default=100_000, help="largest N for the train stage")
    ap.add_argument("--train-dir", default=str(ROOT / "data" / "scale" / "train"),
                    help="where the generated stores go (deleted after each cell)")
    ap.add_argument("--child", nargs=2, metavar=("STAGE", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.clip_seconds, args)
        return 0
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(f"{os.cpu_count()} cores; load average before: {os.getloadavg()}")
    limits = {"extract": args.extract_max, "conv": args.conv_max, "tsne": args.tsne_max, "train": args.train_max}
    stages = []
    for stage in args.stages.split(","):  # "train" = one stage per model, conv's store made by a prep cell first
        stages += ([f"train_{m}" for m in args.train_models.split(",")] if stage == "train" else [stage])
    for stage in stages:
        for n in [int(s) for s in args.sizes.split(",")]:
            if n > limits.get(stage.split("_")[0], n):
                print(f"{stage:8s} {n:>7d}  (not run: above --{stage.split('_')[0]}-max)", flush=True)
                continue
            folder = Path(args.train_dir)
            try:
                if stage.startswith("train_") or stage == "conv":  # the generated store or table first
                    folder.mkdir(parents=True, exist_ok=True)
                    run_cell("prep_" + stage.split("_", 1)[-1], n, args)
                run_cell(stage, n, args)
            finally:
                if stage.startswith("train_") or stage == "conv":
                    for f in folder.iterdir():  # the folder holds only this cell's files
                        f.unlink()
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

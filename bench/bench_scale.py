"""Benchmark: 57-feature extraction throughput per worker, local pool vs Dask ``--cluster local:N``.

    .venv/bin/python -m bench.bench_scale [--clips N] [--seconds S] [--workers 2]

Generated clips (tones + noise, WAV), no cache. In one run, in this order:

1. reference: ``extract(n_jobs=1)`` in-process (one worker, numba already warm)
2. the local process pool with ``--workers`` processes, cold (first pool of the process) then warm
3. for N in 1 and W: ``cluster="local:N"`` cold (a fresh LocalCluster, as the CLI does: start-up,
   worker imports and numba loading included), then warm: the tcp:// address of a running
   LocalCluster whose workers have already extracted one clip each
4. the reference again (drift check)

Each line gives wall time, clips/s, clips/s per worker and the ratio of clips/s per worker
against the mean of the two reference runs (1.0 = as efficient per worker as one in-process
worker). Start-up costs seconds, so small runs measure overhead, not throughput. Load is
noted before and after (os.getloadavg), since the cores may be shared.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import numpy as np
import pandas as pd
import soundfile as sf

from core.corpus import Corpus
from core.distributed import open_client
from core.features.extract import extract


def make_clips(folder: Path, n: int, seconds: float, sr: int = 22050) -> Corpus:
    rng = np.random.default_rng(0)
    rows = []
    t = np.arange(int(seconds * sr)) / sr
    for i in range(n):
        y = 0.3 * np.sin(2 * np.pi * (110 + 7 * i) * t) + 0.05 * rng.standard_normal(t.size)
        path = folder / f"clip{i:05d}.wav"
        sf.write(path, y.astype(np.float32), sr)
        rows.append({"track_id": f"c{i:05d}", "path": str(path), "genre": "", "language": ""})
    return Corpus(pd.DataFrame(rows))


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=200, help="generated clips (default 200)")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each clip (default 30 s)")
    ap.add_argument("--workers", type=int, default=2, help="workers of the pool and the larger cluster (default 2)")
    args = ap.parse_args()
    import dask
    import distributed

    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, dask {dask.__version__}, distributed {distributed.__version__}")
    print(f"clips: {args.clips} generated x {args.seconds:g} s, kind gtzan57, no cache")
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = make_clips(Path(tmp), args.clips, args.seconds)
        extract(corpus.subset(corpus.track_ids[:1]), kind="gtzan57", n_jobs=1, cache=False)  # numba warm-up
        W = args.workers
        runs: list[tuple[str, int, float]] = []  # (label, workers, wall)
        reference = extract(corpus, kind="gtzan57", n_jobs=1, cache=False)

        def run(label: str, workers: int, **kw) -> None:
            wall, fs = timed(lambda: extract(corpus, kind="gtzan57", cache=False, **kw))
            assert fs.track_ids == reference.track_ids and np.allclose(fs.X, reference.X), label
            runs.append((label, workers, wall))

        run("reference: in-process, n_jobs=1", 1, n_jobs=1)
        run(f"local pool, n_jobs={W}, cold", W, n_jobs=W)
        run(f"local pool, n_jobs={W}, warm", W, n_jobs=W)
        for n in (1, W):
            run(f"--cluster local:{n}, cold (as the CLI)", n, cluster=f"local:{n}")
            with open_client(f"local:{n}") as client:  # a running cluster, its workers warmed up
                address = client.scheduler.address
                extract(corpus.subset(corpus.track_ids[:4 * n]), kind="gtzan57", cache=False, cluster=address)
                run(f"--cluster local:{n}, warm", n, cluster=address)
        run("reference again", 1, n_jobs=1)
    load1 = os.getloadavg()

    ref = np.mean([w for label, _, w in runs if label.startswith("reference")])
    ref_rate = args.clips / ref
    print(f"load average (1/5/15 min) before: {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, "
          f"after: {load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}")
    print(f"{'run':38s} {'wall s':>8s} {'clips/s':>8s} {'/worker':>8s} {'ratio':>6s}")
    for label, workers, wall in runs:
        rate = args.clips / wall
        print(f"{label:38s} {wall:8.2f} {rate:8.2f} {rate / workers:8.2f} {rate / workers / ref_rate:6.2f}")
    return 0


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

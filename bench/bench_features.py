"""Benchmark: the fast 57-feature extractor against the plain librosa pipeline, and the feature cache.

    .venv/bin/python -m bench.bench_features [--clips DIR] [--rounds N] [--folder DIR]

1. Throughput of ``gtzan57`` vs ``gtzan57_reference`` on the same real GTZAN clips,
   in the same run, single-threaded (BLAS, OpenMP and numba limited to one thread
   before numpy is imported). Fast and reference calls alternate clip by clip, so
   load from other processes hits both alike; each clip's time is the median over
   the rounds. Both are checked against the published Kaggle rows (the test's rule:
   2 % relative, or 5 % of the column's std for the two near-zero means).
2. ``extract()`` over a folder of clips (``--folder``, default the same clips): cold (empty cache) with the process pool
   and in-process, then warm (cache hits only), in this process and as a fresh
   process would see it (file-hash memo cleared).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import platform
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import numpy as np
import pandas as pd

from core.audio import is_audio_path, load_audio
from core import filehash
from core.corpus import FEATURE_NAMES, Corpus
from core.cache import FeatureCache
from core.features.extract import extract
from core.features.gtzan57 import gtzan57, gtzan57_reference

extract_module = importlib.import_module("core.features.extract")  # the package's `extract` is the function

SHARED = ROOT.parent / "shared" / "data"
NEAR_ZERO = ("harmony_mean", "perceptr_mean")


def parity(values: np.ndarray, published: np.ndarray, std: np.ndarray) -> tuple[bool, float]:
    """(passes the test's rule, worst relative error over the non-near-zero values)."""
    near = np.isin(FEATURE_NAMES, NEAR_ZERO)
    rel = np.abs(values - published) / np.abs(published)
    ok = np.where(near, np.abs(values - published) <= 0.05 * std, rel <= 0.02)
    return bool(ok.all()), float(rel[~near].max())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=Path, default=SHARED / "gtzan_clips", help="folder of GTZAN .wav clips")
    ap.add_argument("--table", type=Path, default=SHARED / "features" / "gtzan_kaggle_30s.csv")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per clip and implementation")
    ap.add_argument("--folder", type=Path, default=None,
                    help="folder of audio for the cold/warm extract() timing (default: --clips)")
    args = ap.parse_args()

    files = sorted(args.clips.glob("*.wav"))
    if not files:
        print(f"no .wav clips in {args.clips}", file=sys.stderr)
        return 1
    table = pd.read_csv(args.table).set_index("filename")
    std = table[list(FEATURE_NAMES)].std().to_numpy()
    clips = {f.name: load_audio(f) for f in files}

    import librosa
    import numba

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}, numpy {np.__version__}, librosa {librosa.__version__}, "
          f"numba {numba.__version__}; BLAS/OpenMP/numba threads = 1")
    first = next(iter(clips.values()))
    t0 = time.perf_counter()
    gtzan57(y=first)
    warm_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    gtzan57_reference(y=first)
    warm_ref = time.perf_counter() - t0
    print(f"first call (imports, JIT/cache load): fast {warm_fast:.2f} s, reference {warm_ref:.2f} s (not counted)")

    times = {name: {"fast": [], "reference": []} for name in clips}
    results = {}
    for _ in range(args.rounds):
        for name, y in clips.items():
            for impl, fn in (("fast", gtzan57), ("reference", gtzan57_reference)):
                t0 = time.perf_counter()
                v = fn(y=y)
                times[name][impl].append(time.perf_counter() - t0)
                results[(name, impl)] = v

    print(f"\n## gtzan57 vs gtzan57_reference ({len(clips)} clips, median of {args.rounds} rounds, one thread)\n")
    print("| clip | samples | reference s | fast s | speed-up | parity ref (worst rel) | parity fast (worst rel) |")
    print("|---|---:|---:|---:|---:|---|---|")
    tot_f = tot_r = 0.0
    all_ok = True
    for name, y in clips.items():
        tf = statistics.median(times[name]["fast"])
        tr = statistics.median(times[name]["reference"])
        tot_f += tf
        tot_r += tr
        cells = []
        for impl in ("reference", "fast"):
            if name in table.index:
                ok, worst = parity(results[(name, impl)], table.loc[name, list(FEATURE_NAMES)].to_numpy(float), std)
                all_ok &= ok
                cells.append(f"{'pass' if ok else 'FAIL'} ({100 * worst:.2f} %)")
            else:
                cells.append("no published row")
        print(f"| {name} | {len(y)} | {tr:.3f} | {tf:.3f} | {tr / tf:.1f}x | {cells[0]} | {cells[1]} |")
    agree = max(float(np.max(np.abs(results[(n, 'fast')] - results[(n, 'reference')])
                             / np.maximum(np.abs(results[(n, 'reference')]), 1e-12))) for n in clips)
    print(f"| **total** | | {tot_r:.2f} | {tot_f:.2f} | **{tot_r / tot_f:.2f}x** | | |")
    print(f"\nthroughput: reference {len(clips) / tot_r:.2f} clips/s, fast {len(clips) / tot_f:.2f} clips/s "
          f"-> ratio {tot_r / tot_f:.2f}x; fast vs reference max relative difference {agree:.1e}; "
          f"parity {'PASS' if all_ok else 'FAIL'}")

    folder = args.folder or args.clips
    audio = sorted(f for f in folder.iterdir() if is_audio_path(f))
    print(f"\n## extract() on {folder} ({len(audio)} clips, {os.cpu_count()} cores)\n")
    corpus = Corpus(pd.DataFrame({"track_id": [f.stem for f in audio], "path": [str(f) for f in audio]}))
    default_max = extract_module.IN_PROCESS_MAX
    print("| run | seconds |")
    print("|---|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        # alternate the two cold set-ups twice: load from other processes drifts over minutes
        runs = (("cold, in-process", 1), ("cold, process pool of 2 (worker start-up included)", None)) * 2
        for i, (label, n_jobs) in enumerate(runs):
            cache = FeatureCache(Path(tmp) / f"run{i}")
            extract_module.IN_PROCESS_MAX = 0 if n_jobs is None else default_max  # force the pool
            t0 = time.perf_counter()
            fs = extract(corpus, kind="gtzan57", cache=cache, n_jobs=n_jobs)
            print(f"| {label}, try {i // 2 + 1} | {time.perf_counter() - t0:.2f} |")
            assert not fs.skipped, fs.skipped
        extract_module.IN_PROCESS_MAX = default_max
        t0 = time.perf_counter()
        extract(corpus, kind="gtzan57", cache=cache, n_jobs=1)
        print(f"| warm, same process | {time.perf_counter() - t0:.3f} |")
        filehash._MEMO.clear()
        t0 = time.perf_counter()
        extract(corpus, kind="gtzan57", cache=FeatureCache(cache.root), n_jobs=1)
        print(f"| warm, fresh process (hash memo read from disk) | {time.perf_counter() - t0:.3f} |")
    return 0 if all_ok else 1


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

"""Benchmark: synthesising the demo corpus, same run, same plans.

Run:  .venv/bin/python -m bench.bench_demo [--quick]

1. Whole corpus: ``core.demo.generate`` with the default worker pool
   (2 processes on a 2-core machine) against the reference, the same call with
   ``workers=1`` (everything in this process). Both write byte-identical files,
   which the script checks.
2. Additive tones: the wavetable ``_additive`` used by the synthesiser against
   the reference, a direct sum of ``sin(k * phase)`` per harmonic, for a
   10-harmonic 10-second drone (the most expensive voice) with vibrato; the
   largest sample difference is printed too.

--quick renders 55 tracks instead of the default 220.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from core import demo
from core.demo import synth

ROOT = Path(__file__).resolve().parent.parent


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.wav")) + [folder / demo.MANIFEST]:
        h.update(p.read_bytes())
    return h.hexdigest()


def direct_additive(freq, n, sr, amps, *, vibrato=0.0, vib_rate=5.5):
    t = np.arange(n) / sr
    inst = 2 * np.pi * freq * (t + (vibrato / (2 * np.pi * vib_rate)) * np.sin(2 * np.pi * vib_rate * t))
    out = np.zeros(n)
    for k, a in enumerate(amps, start=1):
        if a and k * freq < sr / 2 - 200:
            out += a * np.sin(k * inst)
    return out


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="55 tracks instead of 220")
    args = ap.parse_args()
    n_tracks = 55 if args.quick else demo.DEFAULT_TRACKS

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        load = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        demo.generate(tmp / "serial", n_tracks=n_tracks, workers=1)
        serial, serial_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), _children_cpu() + time.process_time()
        demo.generate(tmp / "pool", n_tracks=n_tracks)
        pool, pool_cpu = time.perf_counter() - t0, _children_cpu() + time.process_time() - c0
        same = digest(tmp / "serial") == digest(tmp / "pool")
        size = sum(p.stat().st_size for p in (tmp / "pool").rglob("*")) / 2**20
    print(f"demo corpus: {n_tracks} tracks x {demo.DEFAULT_SECONDS:g} s ({size:.0f} MiB)")
    print(f"  load average before the run: {load:.1f} on {os.cpu_count()} cores")
    per_track = serial_cpu / n_tracks * 1e3
    print(f"  reference workers=1     {serial:7.1f} s wall, {serial_cpu:.1f} s CPU ({per_track:.0f} ms/track)")
    print(f"  default pool            {pool:7.1f} s wall, {pool_cpu:.1f} s CPU in all processes"
          f"   speed-up x{serial / pool:.2f}   identical bytes: {same}")

    sr, n = demo.DEFAULT_SR, int(10 * demo.DEFAULT_SR)
    amps = [1, 0.7, 0.6, 0.5, 0.45, 0.35, 0.3, 0.25, 0.2, 0.15]
    ref = direct_additive(146.8, n, sr, amps, vibrato=0.01)
    ours = synth.additive(146.8, n, sr, amps, vibrato=0.01)
    t_ref = best_of(lambda: direct_additive(146.8, n, sr, amps, vibrato=0.01), 5)
    t_ours = best_of(lambda: synth.additive(146.8, n, sr, amps, vibrato=0.01), 5)
    err = float(np.max(np.abs(ref - ours)) / np.max(np.abs(ref)))
    print("10-harmonic 10 s tone:")
    print(f"  reference sum of sines  {t_ref * 1e3:7.1f} ms")
    print(f"  wavetable               {t_ours * 1e3:7.1f} ms   speed-up x{t_ref / t_ours:.2f}"
          f"   max |diff| / peak {err:.1e}")


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

"""Benchmark: core.projections.project against plain umap.UMAP() and sklearn.manifold.TSNE(), same data, same run.

Run:  .venv/bin/python -m bench.bench_projections [--quick]

Data: the study's 2,617-track feature table (../shared/data), standardised (57 dims),
and its first 8 principal components (a stand-in for an 8-dim latent space).
Every method is warmed up once on 200 points first (numba compilation, imports), so
the timings are "after the first call", as the dashboard sees them; a fresh process
is also timed for the cold first call of ours. Quality: trustworthiness (k=10) of each
embedding, computed the same way for ours and the reference. The disk cache is off.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, trustworthiness
from sklearn.preprocessing import StandardScaler
import umap  # the reference (bench/__init__.py sets NUMBA_CACHE_DIR before numba loads)

from core.projections import project

ROOT = Path(__file__).resolve().parent.parent
warnings.filterwarnings("ignore")

TABLE = ROOT.parent / "shared" / "data" / "features" / "gtzan_banglabeats_30s.csv"


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="only the 8-dim data set")
    args = ap.parse_args()
    df = pd.read_csv(TABLE)
    X57 = StandardScaler().fit_transform(df.iloc[:, 2:59].to_numpy(dtype=np.float64))
    X8 = PCA(8, random_state=0).fit_transform(X57)
    sets = {"latent-like (2617x8)": X8} if args.quick else {"latent-like (2617x8)": X8, "features (2617x57)": X57}

    warm = X8[:200]
    project(warm, method="umap", cache=False)
    project(warm, method="tsne", cache=False)
    umap.UMAP().fit_transform(warm)
    TSNE(random_state=0).fit_transform(warm)

    rows = []
    for name, X in sets.items():
        ref_umap, t_ref_umap = timed(lambda: umap.UMAP(random_state=0).fit_transform(X))
        our_umap, t_our_umap = timed(lambda: project(X, method="umap", random_state=0, cache=False))
        ref_tsne, t_ref_tsne = timed(lambda: TSNE(random_state=0).fit_transform(X))
        our_tsne, t_our_tsne = timed(lambda: project(X, method="tsne", random_state=0, cache=False))
        our_umap3, t_our_umap3 = timed(lambda: project(X, method="umap", dim=3, random_state=0, cache=False))
        our_tsne3, t_our_tsne3 = timed(lambda: project(X, method="tsne", dim=3, random_state=0, cache=False))
        tw = lambda Y: trustworthiness(X, Y, n_neighbors=10)  # noqa: E731
        rows += [
            (name, "UMAP 2-D", t_ref_umap, t_our_umap, tw(ref_umap), tw(our_umap)),
            (name, "t-SNE 2-D", t_ref_tsne, t_our_tsne, tw(ref_tsne), tw(our_tsne)),
            (name, "UMAP 3-D (ours only)", float("nan"), t_our_umap3, float("nan"), tw(our_umap3)),
            (name, "t-SNE 3-D (ours only)", float("nan"), t_our_tsne3, float("nan"), tw(our_tsne3)),
        ]
    print(f"{'data':24s} {'method':22s} {'ref s':>7s} {'ours s':>7s} {'speed-up':>8s} {'trust ref':>9s} {'trust ours':>10s}")
    for name, method, tr, to, qr, qo in rows:
        print(f"{name:24s} {method:22s} {tr:7.2f} {to:7.2f} {tr / to:7.1f}x {qr:9.4f} {qo:10.4f}")

    code = ("import time,numpy as np; t=time.perf_counter();"
            "from core.projections import project; X=np.random.default_rng(0).normal(size=(2617, 8));"
            "project(X, method='umap', cache=False); print(f'{time.perf_counter()-t:.2f}')")
    # `python -c` puts its working directory first on sys.path: the root makes `core` importable
    cold = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, cwd=ROOT)
    print(f"cold process, first UMAP call incl. imports (numba cache on disk): {cold.stdout.strip() or cold.stderr[-300:]} s")


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

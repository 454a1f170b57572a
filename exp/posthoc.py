"""Label-free post-processing of saved track embeddings before K-Means (no retraining):

    python -m exp.posthoc RESULTS.npz DATA_DIR [corpus]

For each run and aggregation: raw (as core.evaluate clusters today), ``z`` (each latent dimension
standardised over the corpus), ``l2`` (each track's embedding scaled to unit norm after ``z``) and
``white`` (PCA whitening, all components). Labels enter only in the score.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from exp.score import nmi_kmeans


def standardise(Z: np.ndarray) -> np.ndarray:
    """Each column to zero mean, unit variance over the tracks (a constant column stays 0)."""
    Z = np.asarray(Z, dtype=np.float64)
    sd = Z.std(0)
    return (Z - Z.mean(0)) / np.where(sd > 1e-12, sd, 1.0)


def l2rows(Z: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(Z, axis=1, keepdims=True)
    return Z / np.where(n > 1e-12, n, 1.0)


def whiten(Z: np.ndarray) -> np.ndarray:
    Zc = np.asarray(Z, dtype=np.float64) - Z.mean(0)
    U, S, _ = np.linalg.svd(Zc, full_matrices=False)
    keep = S > 1e-9 * S[0]
    return U[:, keep] * np.sqrt(len(Z))


TRANSFORMS = {"raw": lambda Z: np.asarray(Z, np.float64), "z": standardise,
              "zl2": lambda Z: l2rows(standardise(Z)), "white": whiten}


def main(res_path: str, data_dir: str, corpus_only: str = "gtzan", aggs=("mean", "poe", "meanstd")) -> None:
    d = np.load(res_path, allow_pickle=False)
    runs = defaultdict(dict)
    for key in d.files:
        run, arr = key.split("::")
        runs[run][arr] = d[key]
    labels = {}
    table = defaultdict(list)
    for run, arrs in sorted(runs.items()):
        corpus, name, seed = run.split("__")
        if corpus != corpus_only:
            continue
        if corpus not in labels:
            labels[corpus] = np.load(Path(data_dir) / f"{corpus}.npz", allow_pickle=False)["genre"]
        for a in aggs:
            if a not in arrs:
                continue
            for t, f in TRANSFORMS.items():
                table[(name, a, t)].append(nmi_kmeans(f(arrs[a]), labels[corpus], seed=int(seed))[0])
    names = sorted({k[0] for k in table})
    for name in names:
        for a in aggs:
            cells = []
            for t in TRANSFORMS:
                v = np.array(table.get((name, a, t), []))
                cells.append(f"{t}={v.mean():.3f}±{v.std():.3f}" if len(v) else f"{t}=-")
            print(f"{name:10s} {a:8s} n={len(table.get((name, a, 'raw'), []))} " + " ".join(cells), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])

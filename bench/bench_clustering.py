"""Benchmark: one eps-slider move (DBSCAN + internal metrics), ours vs plain sklearn, same data, same run.

Run:  .venv/bin/python -m bench.bench_clustering [--quick]

Data: generated latents, a mixture of 18 Gaussians in 2 and 8 dimensions, at
2,617 points (the study's corpus) and 100,000 points. A "slider move" is
DBSCAN at one eps + silhouette + Calinski-Harabasz + Davies-Bouldin on the
non-noise points. Reference: ``sklearn.cluster.DBSCAN(eps).fit`` and the sklearn
metric functions, called fresh each time. Ours: ``core.clustering.cluster`` with
one ``NeighbourIndex`` reused across moves (built once, timed separately; it also
holds the dense distance matrix up to 4,000 points, whose one-off cost is in the first
move), through ``core.scoring.cluster_and_score(..., index=...)``, the path the Clusters page
runs. Both use exact silhouette up to ``core.scoring.SILHOUETTE_EXACT_MAX`` (4,000) points and
a sample of that size above (sklearn's ``sample_size``), so the work is the same.
The eps values sweep down from the largest (the first move builds the radius
graph, the others filter it); the median and the worst move are reported.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import DBSCAN
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from core.clustering import NeighbourIndex, cluster, suggest_eps
from core.scoring import SILHOUETTE_EXACT_MAX, cluster_and_score

ROOT = Path(__file__).resolve().parent.parent


def latents(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(18, d))
    return centres[rng.integers(0, 18, size=n)] + rng.normal(0, 1, size=(n, d))


def reference_move(Z, eps, min_samples):
    labels = DBSCAN(eps=eps, min_samples=min_samples).fit(Z).labels_
    keep = labels >= 0
    Zk, lk = Z[keep], labels[keep]
    if len(set(lk)) >= 2:
        sample = SILHOUETTE_EXACT_MAX if len(lk) > SILHOUETTE_EXACT_MAX else None
        silhouette_score(Zk, lk, sample_size=sample, random_state=0)
        calinski_harabasz_score(Zk, lk)
        davies_bouldin_score(Zk, lk)
    return labels


def our_move(Z, index, eps, min_samples):
    res, _ = cluster_and_score(Z, clusterer="dbscan", params={"eps": eps, "min_samples": min_samples}, index=index)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="2,617 points only")
    args = ap.parse_args()
    sizes = [2617] if args.quick else [2617, 100_000]
    print(f"{'n':>7s} {'d':>2s} {'index s':>8s} {'ref median ms':>13s} {'ours median ms':>14s} {'ratio':>6s} "
          f"{'ref worst ms':>12s} {'ours worst ms':>13s} {'noise':>6s} {'clusters':>8s}")
    for n in sizes:
        for d in (2, 8):
            Z = latents(n, d)
            min_samples = 5
            knee = suggest_eps(Z, k=min_samples - 1)
            eps_values = knee * np.array([2.0, 1.6, 1.3, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5])
            t = time.perf_counter()
            index = NeighbourIndex(Z)
            t_index = time.perf_counter() - t
            ref_t, our_t = [], []
            for eps in eps_values:
                t = time.perf_counter()
                ref = reference_move(Z, eps, min_samples)
                ref_t.append(time.perf_counter() - t)
                t = time.perf_counter()
                ours = our_move(Z, index, eps, min_samples)
                our_t.append(time.perf_counter() - t)
                assert np.array_equal(ours.labels < 0, ref < 0)
            at_knee = cluster("dbscan", Z, index=index, eps=knee, min_samples=min_samples)
            rm, om = np.median(ref_t) * 1e3, np.median(our_t) * 1e3
            print(f"{n:7d} {d:2d} {t_index:8.3f} {rm:13.1f} {om:14.1f} {rm / om:5.1f}x "
                  f"{max(ref_t) * 1e3:12.1f} {max(our_t) * 1e3:13.1f} {at_knee.noise_fraction:6.3f} "
                  f"{at_knee.n_clusters:8d}")


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

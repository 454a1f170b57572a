"""Label-free baselines on the cached corpora (scored with core's K-Means settings):
TF-IDF of the lyrics alone, and per-band statistics of the standardised log-mel.

    python -m exp.baselines DATA_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler

from exp.score import nmi_kmeans
from exp.train import band_stats, load


def mel_stats(data: dict) -> np.ndarray:
    """(N, 2F) per-band mean and std over time of the corpus-standardised log-mel, standardised per column."""
    m = data["mel"].astype(np.float32)
    mean, std = band_stats(m)
    x = (m - mean[None, :, None]) / std[None, :, None]
    return StandardScaler().fit_transform(np.hstack([np.nanmean(x, 2), np.nanstd(x, 2)]))


def main(data_dir: str) -> None:
    for corpus in ("gtzan", "demo"):
        d = load(str(Path(data_dir) / f"{corpus}.npz"))
        reps = {"mel band mean+std (standardised)": mel_stats(d)}
        if d["lyr"].shape[1]:
            reps["TF-IDF lyrics alone"] = d["lyr"].astype(np.float32)
        for name, Z in reps.items():
            for col in ("genre", "language"):
                if not d[col][0]:
                    continue
                v = [nmi_kmeans(Z, d[col], seed=s)[0] for s in range(3)]
                print(f"{corpus:5s} {name:34s} {col:8s} NMI {np.mean(v):.3f}±{np.std(v):.3f}")


if __name__ == "__main__":
    main(sys.argv[1])

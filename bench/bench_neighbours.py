"""A research probe, not a product path: why do the spectrogram VAE's neighbours trail the 57 features?

For the corpus given it scores, with ``bench_quality``'s one scoring path (K-Means NMI against genre over
seeds, leave-one-out 5-NN agreement), label-free summaries of the log-mel the spectrogram VAE reads, each
z-scored per column as the 57 features are:

* ``band means``: each mel band's mean over the whole clip (F values);
* ``cepstra N``: the mean and variance over the clip's frames of the first N cepstral coefficients (an
  orthonormal DCT over the bands of each frame: MFCC-like, computed from the very same log-mel);
* for comparison, the 57 features and their 40 MFCC columns alone (z-scored), and the MFCC columns with each
  other group of the 57 added (a group is a measure's mean and variance: ``zero_crossing_rate``, ``tempo``, ...),
  which says where the 57 features' lead over cepstral statistics lies.

and, for each checkpoint given (a spectrogram VAE), its track block pooled over the clip's crops in three ways
(``poe``: the product of the crop posteriors, what ``encode`` gives; ``mean``: their mean; ``mean+std``: their
mean and spread), and how much of the track block's variance three broadband numbers of each clip explain
(its level, the top 16 bands and the lowest 32 against the middle ones) with 5-NN agreement once they are
regressed out. No label enters a representation; labels only score::

    python -m bench.bench_neighbours gtzan:../shared/data/gtzan_mini g.pt --seeds 3
    python -m bench.bench_neighbours manifest:../shared/data/hybrid_en_de_dev/manifest.csv h.pt --seeds 3
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from scipy.fft import dct
from sklearn.preprocessing import StandardScaler

from bench.bench_quality import score_row
from core import checkpoint
from core.corpus import FEATURE_NAMES, load_sources
from core.features.melstore import crop_starts
from core.inputs import build_inputs
from core.latents import input_params
from core.models.conv import product_of_posteriors
from core.scoring import label_table

#: Cepstral coefficients kept per frame (13 and 20: the usual MFCC counts).
CEPSTRA = (13, 20)
#: The 57 features' MFCC columns (the means and variances of 20 coefficients).
MFCC_COLUMNS = [i for i, name in enumerate(FEATURE_NAMES) if name.startswith("mfcc")]


def feature_groups() -> dict[str, list[int]]:
    """The 57 features' columns other than the MFCCs, grouped by measure (its mean and variance; tempo alone)."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(FEATURE_NAMES):
        if i not in MFCC_COLUMNS:
            groups.setdefault(name.removesuffix("_mean").removesuffix("_var"), []).append(i)
    return groups


def whole_clip(clips, i: int) -> np.ndarray:
    """(F, frames) dB of clip ``i`` of a whole-clip store."""
    return clips.crops(np.array([i]), np.array([0]), int(clips.lengths[i]))[0].astype(np.float64)


def mel_summaries(clips) -> dict[str, np.ndarray]:
    """Label-free per-clip summaries of a whole-clip store: ``band means`` (n, F) and ``cepstra N`` (n, 2N)."""
    out: dict[str, list] = {"band means": [], **{f"cepstra {n}": [] for n in CEPSTRA}}
    for i in range(len(clips.lengths)):
        M = whole_clip(clips, i)
        C = dct(M, type=2, axis=0, norm="ortho")
        out["band means"].append(M.mean(1))
        for n in CEPSTRA:
            out[f"cepstra {n}"].append(np.concatenate([C[:n].mean(1), C[:n].var(1)]))
    return {k: np.asarray(v) for k, v in out.items()}


@torch.no_grad()
def pooled_track_blocks(model, inputs) -> dict[str, np.ndarray]:
    """The track block of each clip, (n, d_track), pooled over its crops (every ``eval_hop`` frames) three ways."""
    module, prep = model.module_.eval(), model.prep_
    d = module.d_track or module.d_static
    out: dict[str, list] = {"poe": [], "mean": [], "mean+std": []}
    for i in range(len(inputs)):
        starts = crop_starts(int(inputs.clips.lengths[i]), prep.crop, model.config.eval_hop)
        x = torch.from_numpy(prep.standardise(inputs.clips.crops(np.full(len(starts), i), starts, prep.crop)))
        mu, logvar = module.audio_posterior(x)
        mu, logvar = mu[:, :d], logvar[:, :d]
        out["poe"].append(product_of_posteriors(mu, logvar).numpy())
        out["mean"].append(mu.mean(0).numpy())
        out["mean+std"].append(torch.cat([mu.mean(0), mu.std(0, unbiased=False)]).numpy())
    return {k: np.asarray(v) for k, v in out.items()}


def broadband(clips) -> np.ndarray:
    """(n, 3) each clip's level, and its top 16 bands and lowest quarter of bands (32 of 128) against its middle
    half (dB)."""
    rows = []
    for i in range(len(clips.lengths)):
        bands = whole_clip(clips, i).mean(1)
        F = len(bands)
        middle = bands[F // 4:3 * F // 4].mean()
        rows.append([bands.mean(), bands[-16:].mean() - middle, bands[:F // 4].mean() - middle])
    return np.asarray(rows)


def explained(Z: np.ndarray, covariates: np.ndarray) -> tuple[float, np.ndarray]:
    """(share of the variance of ``Z`` that a linear fit on ``covariates`` explains, the residual)."""
    A = np.c_[np.ones(len(Z)), covariates]
    coef, *_ = np.linalg.lstsq(A, Z, rcond=None)
    residual = Z - A @ coef
    return 1.0 - float((residual ** 2).sum() / ((Z - Z.mean(0)) ** 2).sum()), residual


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", help="a data source spec, e.g. gtzan:../shared/data/gtzan_mini")
    ap.add_argument("checkpoints", nargs="*", help="spectrogram VAE checkpoints to probe")
    ap.add_argument("--seeds", type=int, default=3, help="K-Means seeds")
    args = ap.parse_args(argv)
    corpus = load_sources([args.source])
    inputs, _ = build_inputs(corpus, needs={"clips"})
    truth = label_table(corpus, ["genre"], track_ids=inputs.track_ids)

    def report(name: str, Z: np.ndarray, truth=truth) -> None:
        rows = [score_row(Z, truth, seed=s) for s in range(args.seeds)]
        nmi = np.array([r["nmi_genre"] for r in rows])
        print(f"| {name} | {Z.shape[1]} | {nmi.mean():.3f} ± {nmi.std():.3f} | {rows[0]['knn_genre']:.3f} |", flush=True)

    zscored = StandardScaler().fit_transform  # refitted on each table it is given
    print("| representation | dims | NMI genre | 5-NN genre |\n|---|---|---|---|")
    features, _ = build_inputs(corpus, needs={"features"})
    if list(features.track_ids) == list(inputs.track_ids):
        report("57 features (z-scored)", zscored(features.features))
        report("57 features: the MFCC means and variances alone (z-scored)", zscored(features.features[:, MFCC_COLUMNS]))
        for group, columns in feature_groups().items():
            report(f"57 features: MFCCs + {group} (z-scored)", zscored(features.features[:, MFCC_COLUMNS + columns]))
    for name, Z in mel_summaries(inputs.clips).items():
        report(f"log-mel, {name} (z-scored)", zscored(Z))
    for path in args.checkpoints:
        model = checkpoint.load(path)
        # the clips as this model reads them (its own mel settings), and the labels in their order
        mine, _ = build_inputs(corpus, needs=set(model.needs), **input_params(model))
        truth_here = label_table(corpus, ["genre"], track_ids=mine.track_ids)
        pooled = pooled_track_blocks(model, mine)
        for name, Z in pooled.items():
            report(f"{path}: track block, {name}", Z, truth_here)
        share, residual = explained(pooled["poe"], broadband(mine.clips))
        report(f"{path}: track block less level and tilts ({share:.0%} of its variance)", residual, truth_here)


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

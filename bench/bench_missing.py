"""Benchmark: what the 57 features know about a corpus's genres that a checkpoint's latents miss.

Run:  .venv/bin/python -m bench.bench_missing --corpora hybrid --checkpoint FILE [--checkpoint FILE ...]
          [--weight 0.5] [--out data/bench_missing.csv]

For each checkpoint (several files: seeds of one recipe) the track embedding is encoded as ``bench_quality``
encodes it, and its leave-one-out 5-NN agreement against genre is measured alone and with one more group of
values beside it: each group of the 57 features (both statistics of a feature, e.g. ``perceptr`` = the mean and
variance of the percussive signal; the 20 MFCC means; the 20 MFCC variances), and the percussive shares of four
band groups that ``core.models.conv.PercussiveView`` reads off the mel (mean over a track's crops). Both sides are
centred and scaled to a mean squared norm of 1, the group standardised per value first and weighted ``--weight``,
so that a group adds what it knows without outweighing the latents.

A group that raises the agreement carries genre information the latents lack, in a form neighbours can use.
This reads the labels: what it finds is a lead, and a model change it leads to is a label-aware choice. The
percussive shares are there because this table found the ``perceptr`` group to be the one that lifted a
hybrid_en_de_dev checkpoint's 5-NN agreement most (RESULTS.md, "How percussive").
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench.bench_quality import CORPORA, KNN, ROOT
from core import checkpoint
from core.blocks import unit_variance
from core.corpus import FEATURE_NAMES, load_sources
from core.features.melstore import crop_starts
from core.inputs import build_inputs
from core.io import atomic_write
from core.latents import encode_corpus, input_params
from core.metrics import neighbour_agreement
from core.models.conv import PercussiveView
from core.scoring import label_table

#: Band groups of the percussive shares.
SHARE_GROUPS = 4


def feature_groups(names=FEATURE_NAMES) -> dict[str, list[int]]:
    """The 57 features' columns by feature: ``{"chroma_stft": [mean, var], ..., "mfcc_mean": 20, "mfcc_var": 20}``."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if name.startswith("mfcc"):
            key = "mfcc_mean" if name.endswith("_mean") else "mfcc_var"
        else:
            key = name.removesuffix("_mean").removesuffix("_var")
        groups.setdefault(key, []).append(i)
    return groups


def standardised(X: np.ndarray) -> np.ndarray:
    """(n, d) -> each column centred and scaled to std 1 (a constant column stays 0)."""
    X = np.asarray(X, np.float64) - np.mean(X, 0)
    return X / np.where(X.std(0) > 0, X.std(0), 1.0)


def beside(Z: np.ndarray, group: np.ndarray, *, weight: float) -> np.ndarray:
    """``Z`` with ``group`` beside it, each centred and scaled to a mean squared norm of 1
    (:func:`core.blocks.unit_variance`), the group standardised first and weighted ``weight``."""
    return np.concatenate([unit_variance(np.asarray(Z, np.float64)), weight * unit_variance(standardised(group))], 1)


@torch.no_grad()
def percussive_shares(model, inputs, *, groups: int = SHARE_GROUPS) -> np.ndarray:
    """(n, groups) mean percussive share per band group over each track's non-overlapping crops."""
    prep = model.prep_
    view = PercussiveView(prep.band_mean, prep.band_std, groups)
    T = prep.crop
    out = np.zeros((len(inputs), groups))
    for i in range(len(inputs)):
        starts = crop_starts(int(inputs.clips.lengths[i]), T, T)
        x = torch.from_numpy(prep.standardise(inputs.clips.crops(np.full(len(starts), i), starts, T)))
        out[i] = view.shares(x).mean(0).numpy()
    return out


def run(name: str, source: str, paths: list[str], *, weight: float) -> list[dict]:
    corpus = load_sources([source])
    features, _ = build_inputs(corpus, needs={"features"})
    where = {t: i for i, t in enumerate(features.track_ids)}
    rows, shares = [], None
    for path in paths:
        model = checkpoint.load(path)
        encoded, Z = encode_corpus(model, corpus)
        keep = [i for i, t in enumerate(encoded) if t in where]  # tracks with both latents and features
        ids, Z = [encoded[i] for i in keep], Z[keep]
        truth = label_table(corpus, ["genre"], track_ids=ids)["genre"].to_numpy()
        X = features.features[[where[t] for t in ids]]
        if shares is None:  # of the mel alone: the same for every file of one corpus (their band levels aside)
            clips, _ = build_inputs(corpus, needs={"clips"}, **input_params(model))
            shares = dict(zip(clips.track_ids, percussive_shares(model, clips)))
        groups = {"(latents alone)": None, **{g: X[:, cols] for g, cols in feature_groups().items()},
                  "percussive shares (mel)": np.array([shares[t] for t in ids])}
        for group, values in groups.items():
            Zg = Z if values is None else beside(Z, values, weight=weight)
            rows.append({"corpus": name, "checkpoint": Path(path).name, "beside": group,
                         "knn_genre": neighbour_agreement(Zg, truth, k=KNN).value,
                         "group_alone": None if values is None else
                         neighbour_agreement(standardised(values), truth, k=KNN).value})
        print(f"  {name} {Path(path).name}: latents alone {rows[-len(groups)]['knn_genre']:.3f}", flush=True)
    return rows


def table(df: pd.DataFrame) -> str:
    lines = ["| corpus | beside the latents | 5-NN agreement (mean ± std over files) | the group alone |",
             "|---|---|---|---|"]
    for (corpus, group), part in df.groupby(["corpus", "beside"], sort=False):
        alone = part["group_alone"].dropna()
        lines.append(f"| {corpus} | {group} | {part['knn_genre'].mean():.3f} ± {part['knn_genre'].std(ddof=0):.3f} | "
                     + (f"{alone.mean():.3f} |" if len(alone) else "– |"))
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpora", default="hybrid", help="comma list of " + ", ".join(CORPORA))
    p.add_argument("--checkpoint", action="append", required=True, metavar="FILE",
                   help="a spectrogram checkpoint (repeatable: the files are seeds of one recipe)")
    p.add_argument("--weight", type=float, default=0.5, help="weight of the group beside the latents")
    p.add_argument("--out", default=str(ROOT / "data" / "bench_missing.csv"), help="per-file rows (CSV)")
    args = p.parse_args()
    command = "python -m bench.bench_missing " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print("command:", command, flush=True)
    t0 = time.perf_counter()
    rows = []
    for name in [c.strip() for c in args.corpora.split(",") if c.strip()]:
        if name not in CORPORA:
            raise SystemExit(f"--corpora: unknown corpus {name!r}; choose from {sorted(CORPORA)}")
        kind, folder = CORPORA[name]
        if not Path(folder).exists():
            raise SystemExit(f"--corpora: {folder} not found (the {name} corpus)")
        rows += run(name, f"{kind}:{folder}", args.checkpoint, weight=args.weight)
    df = pd.DataFrame(rows)
    atomic_write(args.out, df.to_csv(index=False))
    print(f"\n{command}\n(total {time.perf_counter() - t0:.0f} s; per-file rows in {args.out})\n")
    print(table(df))


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

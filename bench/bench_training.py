"""Benchmark: the training loop against a plain PyTorch reference loop, same networks, same run.

Run:  .venv/bin/python -m bench.bench_training [--skip-conv] [--skip-demo]

1. Basic VAE, study configuration (57→32→16→z=2, 120 epochs, batch 32, Adam 1e-3)
   on the study's 2,617-track table (``../shared/data``). Ours: ``create("basic").fit``
   (standardiser, 10 % validation every epoch, best weights kept). Reference: the
   same ``MLPVAE`` and loss trained on the same 2,355 training rows with
   ``DataLoader(TensorDataset(x), batch_size=32, shuffle=True)`` and Adam, no
   validation, first with torch's default thread count, then with ours.
2. ConvVAE (default width, audio block) one epoch on 2,617
   random 128×128 standardised crops: ours (``core.training.train``, incl. validation) vs the
   same DataLoader reference on the same training rows.
3. Demo corpus (``load_demo()``): the default ConvVAE (mel + lyrics) fit time, and
   the quality of its latent space (K-Means with k = number of genres: ARI against
   genre, silhouette) next to the raw mel summary and PCA-on-mel baselines.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, TensorDataset

from core.corpus import load_demo
from core.inputs import ModelInputs, build_inputs
from core.models import create
from core.models.conv import ConvVAEModule
from core.models.losses import VAELoss
from core.models.vae import MLPVAE
from core.scoring import label_table, score
from core.training import TrainConfig, split_indices, train

ROOT = Path(__file__).resolve().parent.parent

SHARED = Path(os.environ.get("SONGSCAPE_SHARED", ROOT.parent / "shared" / "data"))
DEFAULT_THREADS = torch.get_num_threads()


def reference_loop(module, x: torch.Tensor, *, epochs: int, batch_size: int, lr: float = 1e-3,
                   threads: int) -> float:
    """A plain PyTorch training loop (DataLoader, default settings). Returns seconds."""
    torch.set_num_threads(threads)
    loss_fn = VAELoss()
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    loader = DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=True)
    key = "x"
    extra = {} if isinstance(module, MLPVAE) else {"lyr": torch.zeros(0), "lmask": torch.zeros(0)}
    t = time.perf_counter()
    module.train()
    for _ in range(epochs):
        for (xb,) in loader:
            batch = {key: xb, **extra}
            out = module(batch)
            loss = loss_fn(module.reconstruction_error(out, batch), out["mu"], out["logvar"])["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - t


def bench_basic(rows: list[str], rounds: int) -> None:
    """Ours and the same-thread reference alternate ``rounds`` times (both see the same load); median."""
    df = pd.read_csv(SHARED / "features" / "gtzan_banglabeats_30s.csv")
    X = df.iloc[:, 2:59].to_numpy(np.float32)
    inputs = ModelInputs(df["filename"].tolist(), features=X)
    Xs = torch.from_numpy((X - X.mean(0)) / X.std(0))
    tr, _ = split_indices(len(X), val_fraction=0.1, random_state=0)
    ours, ref_same = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        model = create("basic").fit(inputs)
        ours.append(time.perf_counter() - t)
        threads = torch.get_num_threads()
        torch.manual_seed(0)
        ref_same.append(reference_loop(MLPVAE(57, (32, 16), 2), Xs[tr], epochs=120, batch_size=32, threads=threads))
    torch.manual_seed(0)
    ref_default = reference_loop(MLPVAE(57, (32, 16), 2), Xs[tr], epochs=120, batch_size=32, threads=DEFAULT_THREADS)
    o, r = float(np.median(ours)), float(np.median(ref_same))
    rows.append(f"| Basic VAE, 120 epochs × 2,617 tracks, median of {rounds} (ours: {threads} thread; "
                f"runs {', '.join(f'{x:.1f}' for x in ours)} s) | {o:.2f} s "
                f"| {r:.2f} s (DataLoader, {threads} thread; runs {', '.join(f'{x:.1f}' for x in ref_same)} s) "
                f"| {r / o:.2f}× |")
    rows.append(f"| same, reference with torch's default {DEFAULT_THREADS} threads (1 run) | {o:.2f} s "
                f"| {ref_default:.2f} s | {ref_default / o:.2f}× |")
    print(f"basic: ours {ours} (val loss {model.history_[-1]['val_loss']:.2f}), reference same threads {ref_same}, "
          f"default threads {ref_default:.1f}", flush=True)


def bench_conv(rows: list[str]) -> None:
    n = 2617
    g = torch.Generator().manual_seed(0)
    mel = torch.randn(n, 128, 128, generator=g)  # standardised 128-frame crops
    data = {"x": mel, "lyr": torch.zeros(n, 0), "lmask": torch.zeros(n, dtype=torch.bool)}
    cfg = create("conv").config

    def module():
        torch.manual_seed(0)
        return ConvVAEModule(n_mels=128, crop_frames=cfg.crop_frames, width=cfg.width, latent_dim=cfg.latent_dim,
                             lyrics_dim=0, lyrics_latent_dim=0, modality="audio")

    t = time.perf_counter()
    train(module(), VAELoss(), data, TrainConfig(epochs=1, batch_size=32, val_fraction=0.1), random_state=0)
    ours = time.perf_counter() - t
    threads = torch.get_num_threads()
    tr, _ = split_indices(n, val_fraction=0.1, random_state=0)
    ref_same = reference_loop(module(), mel[tr], epochs=1, batch_size=32, threads=threads)
    ref_default = reference_loop(module(), mel[tr], epochs=1, batch_size=32, threads=DEFAULT_THREADS)
    ch = f"width {cfg.width}"
    rows.append(f"| ConvVAE {ch}, 1 epoch × 2,617 random 128×128 (ours: {threads} thread, incl. validation) "
                f"| {ours:.1f} s | {ref_default:.1f} s ({DEFAULT_THREADS} threads) | {ref_default / ours:.2f}× |")
    rows.append(f"| same, reference with our thread count ({threads}) | {ours:.1f} s | {ref_same:.1f} s "
                f"| {ref_same / ours:.2f}× |")
    print(f"conv: ours {ours:.1f}s, reference same threads {ref_same:.1f}s, default threads {ref_default:.1f}s",
          flush=True)


def bench_demo(rows: list[str]) -> None:
    """Train each model on the demo corpus and score it through core.scoring (K-Means, k = #classes)."""
    corpus = load_demo()
    results = []
    for name, params in (("conv", {}), ("raw", {"inputs": "mel"}), ("pca", {"inputs": "mel", "latent_dim": 8})):
        model = create(name, **params)
        inputs, _ = build_inputs(corpus, needs=model.needs)  # features are cached: not timed
        t = time.perf_counter()
        model.fit(inputs)
        seconds = time.perf_counter() - t
        Z = model.encode(inputs)
        labels = label_table(corpus, ["genre", "language"], track_ids=inputs.track_ids)
        labels["both"] = labels["language"].astype(str) + labels["genre"].astype(str)
        k, kb = labels["genre"].nunique(), labels["both"].nunique()
        by_genre = score(Z, clusterer="kmeans", params={"n_clusters": k}, labels=labels[["genre"]])
        ari, sil = by_genre["ari_genre"], by_genre["silhouette"]
        ari_lang = score(Z, clusterer="kmeans", params={"n_clusters": 2}, labels=labels[["language"]])["ari_language"]
        ari_both = score(Z, clusterer="kmeans", params={"n_clusters": kb}, labels=labels[["both"]])["ari_both"]
        epochs = len(model.history_) or "-"
        results.append((name, params, seconds, epochs, ari, sil, k, ari_lang, ari_both, kb))
        print(f"demo {name} {params}: {seconds:.1f}s, {epochs} epochs, ARI genre {ari:.3f}, silhouette {sil:.3f}, "
              f"ARI language {ari_lang:.3f}, ARI language×genre {ari_both:.3f}", flush=True)
    for name, params, seconds, epochs, ari, sil, k, ari_lang, ari_both, kb in results:
        label = name + (f" ({', '.join(f'{a}={b}' for a, b in params.items())})" if params else " (default)")
        rows.append(f"| demo corpus ({len(corpus)} tracks): {label}, {epochs} epochs | {seconds:.1f} s "
                    f"| K-Means ARI: genre (k={k}) {ari:.3f}, language (k=2) {ari_lang:.3f}, "
                    f"language×genre (k={kb}) {ari_both:.3f}; silhouette (k={k}) {sil:.3f} | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-conv", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the Basic VAE timing")
    args = parser.parse_args()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, default torch threads {DEFAULT_THREADS}, "
          f"load average {load:.1f}", flush=True)
    rows = ["| what | ours | reference | reference / ours |", "|---|---|---|---|"]
    bench_basic(rows, args.rounds)
    if not args.skip_conv:
        bench_conv(rows)
    if not args.skip_demo:
        bench_demo(rows)
    print("\n".join(rows))


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

"""Run named recipes x seeds on cached corpora; one small .npz per run, then ``pack`` them into one file.

    python -m exp.sweep run  DATA_DIR RESULT_DIR WORKER N_WORKERS BUDGET_S [device [plan]]
    python -m exp.sweep pack RESULT_DIR OUT.npz

Runs are dealt round robin to the workers in the priority order of ``PLAN``; a worker skips what is
left once BUDGET_S has passed, so the sweep always returns what finished.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from exp.train import Recipe, embed, load, recipe_dict, recon_measures, reconstruct_centre, train

BASE = Recipe(name="base")
RECIPES = {
    "base": BASE,
    "beta4": replace(BASE, beta=4.0, name="beta4"),
    "d16": replace(BASE, latent_dim=16, name="d16"),
    "w128": replace(BASE, width=128, name="w128"),
    "long": replace(BASE, steps=6000, warmup_steps=2000, name="long"),
    "centre": replace(BASE, crops="centre", name="centre"),
    "peak": replace(BASE, scaling="peak", name="peak"),
    "fb0": replace(BASE, free_bits=0.0, name="fb0"),
    "both": replace(BASE, modality="both", name="both"),
    "lyrics": replace(BASE, modality="lyrics", name="lyrics", steps=1500),
    "beta4both": replace(BASE, beta=4.0, modality="both", name="beta4both"),
    # second GPU call: the demo corpus (10 s clips, 1500 steps) and 256-frame (11.9 s) crops
    "base1500": replace(BASE, steps=1500, warmup_steps=500, name="base1500"),
    "both1500": replace(BASE, modality="both", steps=1500, warmup_steps=500, name="both1500"),
    # CPU check of the demo corpus (1 thread, contended 2-core machine): narrower and shorter
    "cpu_audio": replace(BASE, width=128, steps=500, warmup_steps=150, name="cpu_audio"),
    "cpu_both": replace(BASE, width=128, modality="both", steps=500, warmup_steps=150, name="cpu_both"),
    "c256": replace(BASE, crop=256, eval_hop=64, steps=1000, warmup_steps=400, name="c256"),
    # third GPU call (SCI-2B): temporal-modulation pooling / modulation likelihood, 256-frame crops
    "mod": replace(BASE, pool="mod", name="mod"),
    "modrec": replace(BASE, pool="mod", mod_weight=1.0, name="modrec"),
    "beta4modrec": replace(BASE, beta=4.0, pool="mod", mod_weight=1.0, name="beta4modrec"),
    "c256b": replace(BASE, crop=256, eval_hop=64, name="c256b"),
}
SEEDS = (0, 1, 2)
#: (corpus, recipe) in priority order
PLAN = ([("gtzan", r) for r in ("base", "beta4", "w128", "d16", "centre", "peak", "long", "fb0")]
        + [("demo", r) for r in ("base", "both", "lyrics", "beta4both")])
PLANS = {"1": PLAN,
         "cpu": [("demo", r) for r in ("lyrics", "cpu_audio", "cpu_both")],
         "3": [("gtzan", r) for r in ("mod", "modrec", "c256b")],
         "2": [("demo", r) for r in ("base1500", "both1500", "lyrics")] + [("gtzan", "c256")]}


def run_one(data: dict, corpus: str, name: str, seed: int, device: str, out_dir: Path) -> None:
    recipe = RECIPES[name]
    if os.environ.get("EXP_STEPS"):  # smoke test of the sweep itself
        recipe = replace(recipe, steps=int(os.environ["EXP_STEPS"]), eval_hop=256)
    if os.environ.get("EXP_MAX_S"):  # wall-clock cap per run (a capped run is flagged in its warnings)
        recipe = replace(recipe, max_seconds=float(os.environ["EXP_MAX_S"]))
    model, stats, hist = train(data, recipe, seed=seed, device=device, verbose=False)
    t = time.perf_counter()
    emb = embed(model, data, recipe, stats, device=device)
    meas = {}
    if model.use_audio:
        orig, rec = reconstruct_centre(model, data, recipe, stats, device=device)
        meas = recon_measures(orig, rec)
    meta = {"corpus": corpus, "recipe": recipe_dict(recipe), "seed": seed, "device": device,
            "train_s": hist["train_s"], "embed_s": time.perf_counter() - t, "warnings": hist["warnings"],
            "hist": {k: v for k, v in hist.items() if k not in ("train_s", "warnings")}, **meas}
    if model.use_audio:
        meta["sigma_band_mean"] = float(torch.exp(model.log_sigma.detach()).mean())
    np.savez(out_dir / f"{corpus}__{name}__{seed}.npz", meta=json.dumps(meta),
             **{k: v for k, v in emb.items()})
    print(f"done {corpus} {name} s{seed} train {hist['train_s']:.1f}s {meas}", flush=True)


def run(data_dir: str, out_dir: str, worker: int, n_workers: int, budget_s: float, device: str = "cuda",
        plan: str = "1") -> None:
    t0 = time.perf_counter()
    if device == "cpu":
        torch.set_num_threads(1)  # 1 thread is 10x faster than 2 on the shared, contended 2-core machine
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(c, r, s) for c, r in PLANS[plan] for s in SEEDS][worker::n_workers]
    cache = {}
    for corpus, name, seed in jobs:
        if time.perf_counter() - t0 > budget_s:
            print(f"worker {worker}: budget spent, skipping {corpus} {name} s{seed}", flush=True)
            continue
        if corpus not in cache:
            cache[corpus] = load(str(Path(data_dir) / f"{corpus}.npz"))
        try:
            run_one(cache[corpus], corpus, name, seed, device, out)
        except Exception as exc:  # a sweep must return what finished
            print(f"FAILED {corpus} {name} s{seed}: {exc!r}", flush=True)


def pack(res_dir: str, out: str) -> None:
    arrays = {}
    for p in sorted(Path(res_dir).glob("*.npz")):
        d = np.load(p, allow_pickle=False)
        for k in d.files:
            arrays[f"{p.stem}::{k}"] = d[k]
    np.savez_compressed(out, **arrays)
    print("packed", len(arrays), "arrays into", out)


if __name__ == "__main__":
    if sys.argv[1] == "run":
        a = sys.argv[2:]
        run(a[0], a[1], int(a[2]), int(a[3]), float(a[4]), *(a[5:7] or ["cuda"]))
    else:
        pack(sys.argv[2], sys.argv[3])

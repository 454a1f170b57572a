"""Score packed sweep results (labels enter here only): python -m exp.report RESULTS.npz DATA_DIR"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from exp.score import active_units, nmi_kmeans

AGGS = ("mean", "poe", "meanstd", "centre")


def main(res_path: str, data_dir: str) -> None:
    d = np.load(res_path, allow_pickle=False)
    runs = defaultdict(dict)
    for key in d.files:
        run, arr = key.split("::")
        runs[run][arr] = d[key]
    labels = {}
    rows = defaultdict(list)
    for run, arrs in sorted(runs.items()):
        corpus, name, seed = run.split("__")
        if corpus not in labels:
            lab = np.load(Path(data_dir) / f"{corpus}.npz", allow_pickle=False)
            labels[corpus] = {"genre": lab["genre"], "language": lab["language"]}
        meta = json.loads(str(arrs["meta"]))
        row = {"seed": int(seed), "train_s": meta["train_s"], "sr": meta.get("self_retrieval", np.nan),
               "d_rec": meta.get("dist_recon_db", np.nan), "d_mean": meta.get("dist_corpus_mean_db", np.nan),
               "warn": len(meta["warnings"]), "kl": meta["hist"]["kl"][-1]}
        row["au_var"], row["au_kl"] = active_units(arrs["mean"], arrs["kl_dims"])
        for a in AGGS:
            row[f"g_{a}"] = nmi_kmeans(arrs[a], labels[corpus]["genre"], seed=int(seed))[0]
            if corpus == "demo":
                row[f"l_{a}"] = nmi_kmeans(arrs[a], labels[corpus]["language"], seed=int(seed))[0]
        rows[(corpus, name)].append(row)
    for (corpus, name), rs in rows.items():
        def ms(k):
            v = np.array([r[k] for r in rs], dtype=float)
            return f"{v.mean():.3f}±{v.std():.3f}"
        genre = " ".join(f"{a}={ms('g_' + a)}" for a in AGGS)
        lang = (" | lang " + " ".join(f"{a}={ms('l_' + a)}" for a in AGGS)) if corpus == "demo" else ""
        print(f"{corpus:5s} {name:10s} n={len(rs)} genre {genre}{lang} | selfret {ms('sr')} d_rec {ms('d_rec')} "
              f"d_mean {ms('d_mean')} AU(var) {ms('au_var')} AU(kl) {ms('au_kl')} KL {ms('kl')} "
              f"train_s {ms('train_s')} warn {sum(r['warn'] for r in rs)}")


if __name__ == "__main__":
    main(*sys.argv[1:3])

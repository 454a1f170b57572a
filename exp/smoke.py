"""Tiny CPU run of the whole pipeline: python -m exp.smoke DATA.npz [steps] [key=value ...]"""
import sys, time
import numpy as np
from exp.train import Recipe, train, embed, reconstruct_centre, recon_measures
from exp.score import nmi_kmeans, active_units

path = sys.argv[1]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
kw = dict(a.split("=", 1) for a in sys.argv[3:])
r = Recipe(steps=steps, warmup_steps=max(1, steps // 3), name="smoke")
for k, v in kw.items():
    setattr(r, k, type(getattr(r, k))(v))
d = np.load(path, allow_pickle=False)
data = {k: d[k] for k in d.files}
t = time.perf_counter()
model, stats, hist = train(data, r, seed=0, log_every=max(1, steps // 5))
print("train s", round(hist["train_s"], 1), "per step", round(hist["train_s"] / steps, 3), hist["warnings"])
emb = embed(model, data, r, stats)
o, rec = reconstruct_centre(model, data, r, stats)
print(recon_measures(o, rec))
for k in ("mean", "poe", "meanstd", "centre"):
    print(k, "genre NMI/ARI", np.round(nmi_kmeans(emb[k], data["genre"], seed=0), 3),
          *(["lang", np.round(nmi_kmeans(emb[k], data["language"], seed=0), 3)] if data["language"][0] else []))
print("active", active_units(emb["mean"], emb["kl_dims"]), "total s", round(time.perf_counter() - t, 1))

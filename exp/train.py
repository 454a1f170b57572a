"""Training loop, track embeddings from crop posteriors, reconstruction measures. numpy + torch only.

Labels are never read here: ``load`` returns them apart and only :mod:`exp.score` uses them.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from exp.model import CropVAE, vae_loss


@dataclass
class Recipe:
    """Every hyper-parameter of one run (saved next to the results)."""

    latent_dim: int = 32
    width: int = 256
    beta: float = 1.0
    free_bits: float = 0.25          #: nats per latent dimension
    warmup_steps: int = 1000         #: β ramps linearly 0 -> β over these optimisation steps
    steps: int = 3000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    clip_norm: float = 1.0
    crop: int = 128
    scaling: str = "band"            #: "band": (dB - band mean)/band std over the corpus; "peak": old [0, 1]
    crops: str = "random"            #: "random": any 128 frames of the clip; "centre": the centre crop only
    modality: str = "audio"
    lyrics_weight: float = 1.0
    eval_hop: int = 32               #: frames between the crops a track is encoded from
    pool: str = "meanstd"            #: encoder pooling: "meanstd" or "mod" (+ temporal-modulation spectrum)
    mod_weight: float = 0.0          #: weight of the modulation-spectrum likelihood term (0: none)
    max_seconds: float = 0.0         #: wall-clock cap on training (0: none); a capped run says so in warnings
    name: str = ""


def load(path: str) -> dict:
    """The .npz of :mod:`exp.prep` as float32 arrays (NaN padding kept, lengths alongside)."""
    d = np.load(path, allow_pickle=False)
    return {k: d[k] for k in d.files}


def band_stats(mel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and std (each (F,)) of the dB log-mels (N, F, T) over every valid frame."""
    m = mel.astype(np.float32)
    mean = np.nanmean(m, axis=(0, 2))
    std = np.sqrt(np.nanmean((m - mean[None, :, None]) ** 2, axis=(0, 2)))
    return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)


def scale(mel_db: np.ndarray, recipe: Recipe, stats) -> np.ndarray:
    """dB crops (..., F, T) -> network input. "peak": old scaling (re. crop peak, floor -80 dB, to [0, 1])."""
    if recipe.scaling == "band":
        mean, std = stats
        return (mel_db - mean[:, None]) / std[:, None]
    peak = np.nanmax(mel_db, axis=(-2, -1), keepdims=True)
    return np.clip((mel_db - peak + 80.0) / 80.0, 0.0, 1.0)


def unscale(x: np.ndarray, recipe: Recipe, stats, peak: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`scale` back to dB (for "peak", re-anchored at the given crop peaks)."""
    if recipe.scaling == "band":
        mean, std = stats
        return x * std[:, None] + mean[:, None]
    return x * 80.0 - 80.0 + peak


def crop_starts(length: int, crop: int, hop: int) -> np.ndarray:
    """Starts of the evaluation crops: every ``hop`` frames, the last one flush with the end."""
    if length <= crop:
        return np.zeros(1, dtype=int)
    starts = np.arange(0, length - crop + 1, hop)
    if starts[-1] != length - crop:
        starts = np.append(starts, length - crop)
    return starts


def _pad_mel(mel: np.ndarray, lengths: np.ndarray, crop: int) -> np.ndarray:
    """Float32 copy with NaN padding replaced by each band's floor and at least ``crop`` frames."""
    N, Fb, T = mel.shape
    out = np.full((N, Fb, max(T, crop)), -100.0, dtype=np.float32)
    out[:, :, :T] = np.nan_to_num(mel.astype(np.float32), nan=-100.0)
    return out


def train(data: dict, recipe: Recipe, *, seed: int, device: str = "cpu", log_every: int = 500,
          verbose: bool = True) -> tuple[CropVAE, dict, dict]:
    """Fit a :class:`CropVAE` on every track of ``data`` (no labels). Returns (model, stats, history)."""
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)  # parameter init; experiment script only (core must use a local generator)
    mel, lengths = data["mel"], data["lengths"]
    stats = band_stats(mel)
    full = _pad_mel(mel, lengths, recipe.crop)
    # "peak": keep dB/80 here, each crop is re-anchored at its own peak below
    Xn = scale(full, recipe, stats) if recipe.scaling == "band" else full / 80.0
    X = torch.from_numpy(Xn.astype(np.float32)).to(device)                               # (N, F, T)
    lyr = torch.from_numpy(data["lyr"].astype(np.float32)).to(device)
    lmask = torch.from_numpy(data["lmask"].astype(bool)).to(device)
    N = X.shape[0]
    vocab = lyr.shape[1]
    model = CropVAE(n_frames=recipe.crop, latent_dim=recipe.latent_dim, width=recipe.width, vocab=vocab,
                    modality=recipe.modality, pool=recipe.pool, mod_weight=recipe.mod_weight).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 200) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / recipe.steps))))
    max_start = torch.from_numpy(np.maximum(lengths - recipe.crop, 0)).to(device)
    centre = (max_start // 2)
    ar = torch.arange(recipe.crop, device=device)
    hist = {"step": [], "loss": [], "kl": [], "mse": [], "grad_norm": [], "warnings": []}
    t0 = time.perf_counter()
    model.train()
    for step in range(recipe.steps):
        if recipe.max_seconds and time.perf_counter() - t0 > recipe.max_seconds:
            hist["warnings"].append(f"time cap: stopped after {step} of {recipe.steps} steps")
            break
        idx = torch.from_numpy(rng.integers(0, N, recipe.batch_size)).to(device)
        if recipe.crops == "random":
            u = torch.rand(recipe.batch_size, generator=gen).to(device)
            start = (u * (max_start[idx] + 1)).long()
        else:
            start = centre[idx]
        cols = (start[:, None] + ar[None, :])                               # (B, T)
        xb = torch.gather(X[idx], 2, cols[:, None, :].expand(-1, X.shape[1], -1))
        if recipe.scaling == "peak":  # re-anchor each crop at its own peak (the old input scale)
            xb = xb - xb.amax(dim=(1, 2), keepdim=True) + 1.0
            xb = xb.clamp(0.0, 1.0)
        batch = {"x": xb, "lyr": lyr[idx], "lmask": lmask[idx]}
        beta_t = recipe.beta * min(1.0, step / max(1, recipe.warmup_steps))
        loss, parts = vae_loss(model, batch, beta=beta_t, free_bits=recipe.free_bits,
                               lyrics_weight=recipe.lyrics_weight)
        if not torch.isfinite(loss):
            hist["warnings"].append(f"diverged: non-finite loss at step {step}")
            break
        opt.zero_grad(set_to_none=True)
        # optimise nats per mel element (Adam is scale-free; this keeps clip_norm meaningful)
        (loss / (xb[0].numel() if model.use_audio else 1.0)).backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_norm)
        opt.step()
        sched.step()
        if step % log_every == 0 or step == recipe.steps - 1:
            hist["step"].append(step)
            hist["loss"].append(float(loss.detach()))
            hist["kl"].append(float(parts["kl"]))
            hist["mse"].append(float(parts.get("mse", float("nan"))))
            hist["grad_norm"].append(float(gn))
            if verbose:
                print(f"  [{recipe.name} s{seed}] step {step} loss {float(loss.detach()):.1f} kl {float(parts['kl']):.1f} "
                      f"mse {hist['mse'][-1]:.3f} gn {float(gn):.1f}", flush=True)
    hist["train_s"] = time.perf_counter() - t0
    return model, stats, hist


@torch.no_grad()
def embed(model: CropVAE, data: dict, recipe: Recipe, stats, *, device: str = "cpu") -> dict:
    """Track embeddings from the posteriors of crops every ``eval_hop`` frames over the whole clip.

    Returns (each (N, d) unless noted):
      ``mean``    mean of the crop posterior means
      ``poe``     precision-weighted product of the crop posteriors (with the prior):
                  prec = 1 + sum_i 1/var_i, mu = sum_i (mu_i/var_i) / prec
      ``meanstd`` (N, 2d) [mean, std] of the crop posterior means
      ``centre``  posterior mean of the centre crop alone
      ``kl_dims`` (d,) mean KL per dimension over all crops;  ``crop_mu`` list of (n_i, d)
    """
    model.eval()
    full = _pad_mel(data["mel"], data["lengths"], recipe.crop)
    lyr_all = torch.from_numpy(data["lyr"].astype(np.float32)).to(device)
    lm_all = torch.from_numpy(data["lmask"].astype(bool)).to(device)
    out = {k: [] for k in ("mean", "poe", "meanstd", "centre")}
    crop_mu, crop_lv = [], []
    kl_sum, n_crops = 0.0, 0
    for i in range(full.shape[0]):
        L = int(data["lengths"][i])
        starts = crop_starts(L, recipe.crop, recipe.eval_hop)
        crops = np.stack([full[i, :, s:s + recipe.crop] for s in starts])
        x = scale(crops, recipe, stats).astype(np.float32)
        xt = torch.from_numpy(x).to(device)
        n = len(starts)
        mu, lv = model.encode(xt, lyr_all[i:i + 1].expand(n, -1), lm_all[i:i + 1].expand(n))
        c_mu, _ = model.encode(torch.from_numpy(scale(full[i:i + 1, :, _centre(L, recipe.crop):][..., :recipe.crop],
                                                      recipe, stats).astype(np.float32)).to(device),
                               lyr_all[i:i + 1], lm_all[i:i + 1])
        crop_mu.append(mu.cpu().numpy())
        crop_lv.append(lv.cpu().numpy())
        kl_sum = kl_sum + (0.5 * (mu ** 2 + lv.exp() - lv - 1)).sum(0)
        n_crops += n
        prec = 1.0 + torch.exp(-lv).sum(0)
        out["mean"].append(mu.mean(0))
        out["poe"].append((mu * torch.exp(-lv)).sum(0) / prec)
        out["meanstd"].append(torch.cat([mu.mean(0), mu.std(0) if n > 1 else torch.zeros_like(mu[0])]))
        out["centre"].append(c_mu[0])
    res = {k: torch.stack(v).cpu().numpy() for k, v in out.items()}
    res["kl_dims"] = (kl_sum / n_crops).cpu().numpy()
    res["crop_n"] = np.array([len(m) for m in crop_mu])
    res["crop_mu"] = np.concatenate(crop_mu).astype(np.float32)
    res["crop_lv"] = np.concatenate(crop_lv).astype(np.float32)
    return res


def _centre(length: int, crop: int) -> int:
    return max(length - crop, 0) // 2


@torch.no_grad()
def reconstruct_centre(model: CropVAE, data: dict, recipe: Recipe, stats, *, device: str = "cpu"
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(originals, reconstructions) of each track's centre crop in dB, each (N, F, T).

    The reconstruction is the decoder mean at the posterior mean of that crop (lyrics included where
    the model has them).
    """
    model.eval()
    full = _pad_mel(data["mel"], data["lengths"], recipe.crop)
    orig = np.stack([full[i, :, _centre(int(L), recipe.crop):][:, :recipe.crop]
                     for i, L in enumerate(data["lengths"])])
    x = scale(orig, recipe, stats).astype(np.float32)
    lyr = torch.from_numpy(data["lyr"].astype(np.float32)).to(device)
    lm = torch.from_numpy(data["lmask"].astype(bool)).to(device)
    mu, _ = model.encode(torch.from_numpy(x).to(device), lyr, lm)
    xr = model.decode(mu)["x"].cpu().numpy()
    peak = orig.max(axis=(1, 2), keepdims=True)
    return orig, unscale(xr, recipe, stats, peak)


def recon_measures(orig: np.ndarray, recon: np.ndarray) -> dict:
    """Log-mel distances (RMS dB over the crop) and self-retrieval.

    orig, recon : (N, F, T) in dB. Self-retrieval: share of tracks whose reconstruction is nearer
    to their own crop than to any other track's crop (chance 1/N).
    """
    N = orig.shape[0]
    o = orig.reshape(N, -1).astype(np.float64)
    r = recon.reshape(N, -1).astype(np.float64)
    D = np.sqrt(np.maximum((r ** 2).sum(1)[:, None] + (o ** 2).sum(1)[None, :] - 2 * r @ o.T, 0) / o.shape[1])
    mean_spec = o.mean(0)
    return {
        "self_retrieval": float(np.mean(D.argmin(1) == np.arange(N))),
        "dist_recon_db": float(np.mean(np.diag(D))),
        "dist_corpus_mean_db": float(np.mean(np.sqrt(((o - mean_spec) ** 2).mean(1)))),
    }


def recipe_dict(recipe: Recipe) -> dict:
    return asdict(recipe)

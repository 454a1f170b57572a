"""Crop VAE on standardised log-mels, fused with a lyrics branch; β-VAE is the same net (a loss setting).

Written to be ported nearly verbatim into core/models (torch only; no project imports).

Data (see :mod:`exp.prep`, :func:`band_stats`)::

    log-mel in dB re. power 1 (NOT re. the clip's peak): loudness and spectral balance are kept
    x = (dB - band_mean) / band_std      per mel band, mean/std over every frame of the training corpus
    a crop = 128 consecutive frames (5.9 s at hop 1024, 22,050 Hz); a 30 s clip has ~646 frames

Network (``C = width``, ``d = latent_dim``, ``F = n_mels = 128``, ``T = 128`` frames)::

    AudioEncoder:  x (B, F, T), mel bands as channels
        Conv1d(F -> C, k3) + GroupNorm + GELU
        3 x [Conv1d(C -> C, k4, stride 2) + GroupNorm + GELU]           T -> T/8
        2 x [Conv1d(C -> C, k3) + GroupNorm + GELU]
        global pooling over time: [mean_t, std_t] (B, 2C)               -> time-invariant
        Linear(2C -> 2d) -> mu_a, logvar_a
    LyricsEncoder: TF-IDF (B, V) -> Linear(V, h) + GELU -> Linear(h, 2d) -> mu_l, logvar_l
    fusion: product of Gaussian experts with the prior N(0, I), masked per track:
        prec = 1 + 1/var_a + m/var_l,  mu = (mu_a/var_a + m·mu_l/var_l) / prec
        (m = 1 if the track has lyrics; a track without lyrics is encoded from audio alone)
    AudioDecoder:  z (B, d)
        static  = Linear(d -> F)                                (B, F, 1)  spectral envelope
        dynamic = Linear(d -> C·T/8) -> (B, C, T/8)
                  3 x [Upsample x2 + Conv1d(C -> C, k3) + GroupNorm + GELU] -> Conv1d(C -> F, k1)
        mean = static + dynamic                                 (B, F, T)  (standardised units)
    LyricsDecoder: z -> Linear(d, h) + GELU -> Linear(h, V)

Loss (per crop, summed over elements, averaged over the batch; see :func:`vae_loss`)::

    NLL_mel = sum_{f,t} 0.5·((x - mean)/σ_f)^2 + log σ_f + 0.5·log 2π     σ_f learned per mel band
    NLL_lyr = lyrics_weight · (F·T / V) · Gaussian NLL with one learned σ, tracks with lyrics only
    KL_j    = batch mean of KL(q(z_j|x) || N(0,1))                      per latent dimension j
    loss    = NLL_mel + NLL_lyr + β_t · sum_j max(KL_j, free_bits)
    β_t     = β · min(1, step / warmup_steps)                             per optimisation step
    β_norm  = β · d / (F·T)    (Higgins et al.'s normalised β, reported next to β)
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)


def _block(c_in: int, c_out: int, *, k: int = 3, stride: int = 1, groups: int = 8) -> nn.Sequential:
    """Conv1d + GroupNorm + GELU; ``k=4, stride=2`` halves the time axis, ``k=3`` keeps it."""
    pad = 1 if k in (3, 4) else k // 2
    return nn.Sequential(nn.Conv1d(c_in, c_out, k, stride=stride, padding=pad),
                         nn.GroupNorm(groups, c_out), nn.GELU())


N_MOD = 12        #: log-spaced temporal-modulation bands (DC excluded) of :func:`modulation_spectrum`
MOD_GROUPS = 16   #: mel-band groups of the modulation target (8 adjacent bands each for 128 bands)


def _mod_pool_matrix(T: int, n_mod: int, device, dtype) -> torch.Tensor:
    """(T//2 + 1, n_mod) row-normalised pooling of rfft bins 1..T//2 into log-spaced bands (bin 0 dropped)."""
    edges = np.round(np.geomspace(1, T // 2 + 1, n_mod + 1)).astype(int)
    for i in range(1, len(edges)):
        edges[i] = max(edges[i], edges[i - 1] + 1)
    W = np.zeros((T // 2 + 1, n_mod), dtype=np.float32)
    for m in range(n_mod):
        lo, hi = edges[m], min(edges[m + 1], T // 2 + 1)
        if hi > lo:
            W[lo:hi, m] = 1.0 / (hi - lo)
    return torch.from_numpy(W).to(device=device, dtype=dtype)


def modulation_spectrum(h: torch.Tensor, *, n_mod: int = N_MOD) -> torch.Tensor:
    """Log power of the temporal modulations of each channel, pooled into log-spaced bands.

    h : (B, C, T) -> (B, C, n_mod). Shift-invariant in time (the magnitude of an FFT over the crop):
    with hop 1024 at 22,050 Hz and T = 128 the bands span 0.17 .. 10.8 Hz (tempo and rhythm rates).
    """
    T = h.shape[-1]
    spec = torch.fft.rfft(h - h.mean(-1, keepdim=True), dim=-1).abs() ** 2 / T       # (B, C, T//2+1)
    pooled = spec @ _mod_pool_matrix(T, n_mod, h.device, spec.dtype)
    return torch.log(pooled + 1e-3)


def modulation_target(x: torch.Tensor) -> torch.Tensor:
    """(B, F, T) standardised crop -> (B, MOD_GROUPS * N_MOD): the band-group modulation spectrum."""
    B, Fb, T = x.shape
    g = x.view(B, MOD_GROUPS, Fb // MOD_GROUPS, T).mean(2)
    return modulation_spectrum(g).flatten(1)


class AudioEncoder(nn.Module):
    """(B, n_mels, T) standardised log-mel crop -> (mu, logvar), each (B, d). Time-invariant (global pooling).

    ``pool="meanstd"``: [mean_t, std_t] of the last block. ``pool="mod"`` adds the modulation spectrum
    (:func:`modulation_spectrum`) of ``mod_ch`` 1x1 projections of the first block's full-rate output,
    layer-normalised, so the posterior can see rhythm periodicities the pooled statistics blur.
    """

    def __init__(self, *, n_mels: int = 128, width: int = 256, latent_dim: int = 32, n_down: int = 3,
                 pool: str = "meanstd", mod_ch: int = 32):
        super().__init__()
        if pool not in ("meanstd", "mod"):
            raise ValueError(f"pool must be meanstd or mod, got {pool!r}")
        self.pool = pool
        self.stem = _block(n_mels, width)
        layers = [_block(width, width, k=4, stride=2) for _ in range(n_down)]
        layers += [_block(width, width), _block(width, width)]
        self.body = nn.Sequential(*layers)
        n_in = 2 * width
        if pool == "mod":
            self.mod_proj = nn.Conv1d(width, mod_ch, 1)
            self.mod_norm = nn.LayerNorm(mod_ch * N_MOD)
            n_in += mod_ch * N_MOD
        self.head = nn.Linear(n_in, 2 * latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h0 = self.stem(x)                                  # (B, C, T)
        h = self.body(h0)                                  # (B, C, T/8)
        feats = [h.mean(-1), h.std(-1)]                    # (B, 2C)
        if self.pool == "mod":
            feats.append(self.mod_norm(modulation_spectrum(self.mod_proj(h0)).flatten(1)))
        mu, logvar = self.head(torch.cat(feats, -1)).chunk(2, -1)
        return mu, logvar.clamp(-12.0, 8.0)


class AudioDecoder(nn.Module):
    """z (B, d) -> mean of the standardised log-mel crop (B, n_mels, T)."""

    def __init__(self, *, n_mels: int = 128, n_frames: int = 128, width: int = 256, latent_dim: int = 32,
                 n_up: int = 3):
        super().__init__()
        if n_frames % (2 ** n_up):
            raise ValueError(f"n_frames={n_frames} must be divisible by 2**n_up={2 ** n_up}")
        self.width, self.t0 = width, n_frames // (2 ** n_up)
        self.static = nn.Linear(latent_dim, n_mels)
        self.seed = nn.Linear(latent_dim, width * self.t0)
        self.up = nn.ModuleList([_block(width, width) for _ in range(n_up)])
        self.out = nn.Conv1d(width, n_mels, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.seed(z)).view(-1, self.width, self.t0)
        for block in self.up:
            h = block(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.static(z)[:, :, None] + self.out(h)


class LyricsEncoder(nn.Module):
    """TF-IDF (B, V) -> (mu, logvar), each (B, d)."""

    def __init__(self, *, vocab: int, hidden: int = 128, latent_dim: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(vocab, hidden), nn.GELU(), nn.Linear(hidden, 2 * latent_dim))

    def forward(self, lyr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.net(lyr).chunk(2, -1)
        return mu, logvar.clamp(-12.0, 8.0)


def product_of_experts(mu_a: torch.Tensor, lv_a: torch.Tensor, mu_l: torch.Tensor | None,
                       lv_l: torch.Tensor | None, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fuse audio and lyrics Gaussians with the prior N(0, I); rows where ``mask`` is False use audio only.

    mu_*, lv_* : (B, d); mask : (B,) bool or None. Returns (mu, logvar), each (B, d).
    """
    prec = 1.0 + torch.exp(-lv_a)
    num = mu_a * torch.exp(-lv_a)
    if mu_l is not None:
        m = mask.to(mu_a.dtype)[:, None]
        p_l = torch.where(mask[:, None], torch.exp(-lv_l), torch.zeros_like(lv_l))
        mu_l = torch.where(mask[:, None], mu_l, torch.zeros_like(mu_l))
        prec = prec + m * p_l
        num = num + m * mu_l * p_l
    return num / prec, -torch.log(prec)


class CropVAE(nn.Module):
    """Audio crop encoder/decoder (+ optional lyrics branch) with learned Gaussian σ per mel band.

    Batches: ``x`` (B, F, T) standardised log-mel crops; ``lyr`` (B, V) TF-IDF or None; ``lmask`` (B,) bool.
    ``modality``: "audio" (no lyrics branch), "both", or "lyrics" (lyrics encoder/decoder only).
    """

    def __init__(self, *, n_mels: int = 128, n_frames: int = 128, width: int = 256, latent_dim: int = 32,
                 vocab: int = 0, lyrics_hidden: int = 128, modality: str = "audio", pool: str = "meanstd",
                 mod_weight: float = 0.0):
        super().__init__()
        if modality not in ("audio", "both", "lyrics"):
            raise ValueError(f"modality must be audio, both or lyrics, got {modality!r}")
        if modality != "audio" and vocab <= 0:
            raise ValueError(f"modality={modality!r} needs a lyrics vocabulary, got vocab={vocab}")
        self.modality, self.latent_dim = modality, latent_dim
        self.use_audio, self.use_lyrics = modality != "lyrics", modality != "audio"
        if self.use_audio:
            self.enc = AudioEncoder(n_mels=n_mels, width=width, latent_dim=latent_dim, pool=pool)
            self.dec = AudioDecoder(n_mels=n_mels, n_frames=n_frames, width=width, latent_dim=latent_dim)
            self.log_sigma = nn.Parameter(torch.zeros(n_mels))          # per-band σ, standardised units
        self.mod_weight = mod_weight if self.use_audio else 0.0
        if self.mod_weight > 0:  # second likelihood term: the crop's band-group modulation spectrum
            n_mod = MOD_GROUPS * N_MOD
            self.mod_dec = nn.Sequential(nn.Linear(latent_dim, 256), nn.GELU(), nn.Linear(256, n_mod))
            self.log_sigma_mod = nn.Parameter(torch.zeros(n_mod))
        if self.use_lyrics:
            self.lenc = LyricsEncoder(vocab=vocab, hidden=lyrics_hidden, latent_dim=latent_dim)
            self.ldec = nn.Sequential(nn.Linear(latent_dim, lyrics_hidden), nn.GELU(),
                                      nn.Linear(lyrics_hidden, vocab))
            self.log_sigma_lyr = nn.Parameter(torch.tensor(-2.0))

    def encode(self, x: torch.Tensor | None, lyr: torch.Tensor | None = None,
               lmask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior (mu, logvar), each (B, d)."""
        if not self.use_audio:
            mu_l, lv_l = self.lenc(lyr)
            zero = torch.zeros_like(mu_l)
            return product_of_experts(zero, torch.full_like(lv_l, 30.0), mu_l, lv_l, lmask)
        mu_a, lv_a = self.enc(x)
        if not self.use_lyrics:
            return mu_a, lv_a
        mu_l, lv_l = self.lenc(lyr)
        return product_of_experts(mu_a, lv_a, mu_l, lv_l, lmask)

    def decode(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        if self.use_audio:
            out["x"] = self.dec(z)
        if self.mod_weight > 0:
            out["mod"] = self.mod_dec(z)
        if self.use_lyrics:
            out["lyr"] = self.ldec(z)
        return out

    def forward(self, x, lyr=None, lmask=None):
        mu, logvar = self.encode(x, lyr, lmask)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decode(z), mu, logvar


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """Per-example Gaussian negative log-likelihood summed over every non-batch axis (nats), shape (B,).

    ``log_sigma`` broadcasts against ``x`` (e.g. (F, 1) for one σ per mel band).
    """
    nll = 0.5 * ((x - mean) * torch.exp(-log_sigma)) ** 2 + log_sigma + 0.5 * LOG_2PI
    return nll.flatten(1).sum(1)


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Batch-mean KL(N(mu, e^logvar) || N(0, 1)) of each latent dimension (nats), shape (d,)."""
    return (0.5 * (mu ** 2 + torch.exp(logvar) - logvar - 1.0)).mean(0)


def vae_loss(model: CropVAE, batch: dict, *, beta: float, free_bits: float, lyrics_weight: float = 1.0,
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total loss (scalar) and its parts; ``beta`` is this step's (already warmed-up) β.

    Free bits: each dimension's KL counts at least ``free_bits`` nats (Kingma et al. 2016), so the
    optimiser gains nothing by pushing a dimension to exactly 0 -- no dimension is driven to collapse.
    """
    out, mu, logvar = model(batch.get("x"), batch.get("lyr"), batch.get("lmask"))
    nll = torch.zeros((), device=mu.device)
    parts = {}
    if "x" in out:
        x = batch["x"]
        nll_mel = gaussian_nll(x, out["x"], model.log_sigma[:, None]).mean()
        nll = nll + nll_mel
        parts["nll_mel"] = nll_mel.detach()
        parts["mse"] = F.mse_loss(out["x"], x).detach()
    if "mod" in out:
        target = modulation_target(batch["x"]).detach()
        w = model.mod_weight * batch["x"][0].numel() / target.shape[1]
        nll_mod = w * gaussian_nll(target, out["mod"], model.log_sigma_mod).mean()
        nll = nll + nll_mod
        parts["nll_mod"] = nll_mod.detach()
    if "lyr" in out:
        m = batch["lmask"]
        n_mel = 128 * 128 if "x" not in out else batch["x"][0].numel()
        w = lyrics_weight * n_mel / batch["lyr"].shape[1]
        per = gaussian_nll(batch["lyr"], out["lyr"], model.log_sigma_lyr)
        nll_lyr = w * (per * m).sum() / batch["lyr"].shape[0]
        nll = nll + nll_lyr
        parts["nll_lyr"] = nll_lyr.detach()
    kl = kl_per_dim(mu, logvar)
    loss = nll + beta * torch.clamp(kl, min=free_bits).sum()
    parts.update(kl=kl.sum().detach(), kl_dims=kl.detach())
    return loss, parts

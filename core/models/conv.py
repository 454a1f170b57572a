"""ConvVAE on the 128×128 log-mel, fused with a lyrics branch; β-VAE is the same network.

Architecture (``channels = (c1, c2, c3, c4)``, ``latent_dim = d``)::

    mel (1×128×128, dB → [0, 1] by ``to_unit``)
      → 4 × [Conv2d k4 s2 p1 + LeakyReLU]  (c1..c4 channels, 128 → 8 pixels)
      → Linear → audio expert N(mu_a, var_a)
    lyrics TF-IDF (V) → Linear(V, h) + ReLU → lyrics expert N(mu_l, var_l)

    fusion: product of experts with the prior N(0, I):
        precision = 1 + 1/var_a + m·1/var_l,   mu = (mu_a/var_a + m·mu_l/var_l) / precision
    where m is the MODALITY MASK (1 = the track has lyrics). A track without
    lyrics is encoded from its audio alone: its lyrics row is never read
    (``torch.where``), so zeros or garbage there change nothing.

    decoder: z → Linear → c4×8×8 → 4 × ConvTranspose2d → sigmoid mel (1×128×128)
             z → Linear(d, h) + ReLU → Linear(h, V) → sigmoid lyrics TF-IDF

The reconstruction error is the sum of squared errors of the mel (in [0, 1])
plus ``lyrics_weight · (mel pixels / V)`` times that of the lyrics, masked to
the tracks that have lyrics, so both modalities weigh alike per element.
``modality="audio"`` or ``"lyrics"`` keeps one branch only.

:class:`BetaVAE` (``"beta"``) is :class:`ConvVAE` with β = 4 by default; KL
warm-up and the capacity schedule are options of the loss (see
:mod:`core.models.losses`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.errors import BadInputError
from core.latents import ModelInputs
from core.models.base import TorchModel, VAESettings
from core.models.losses import squared_error

MODALITIES = ("both", "audio", "lyrics")


@dataclass
class ConvVAEConfig(VAESettings):
    """Settings of :class:`ConvVAE`.

    Defaults chosen on the demo corpus (220 tracks, 2-core CPU, see BENCHMARKS.md): 40 epochs
    take about a minute, and ``lyrics_weight=5`` lets the lyrics shape the latent space
    (K-Means k=2 vs language: ARI 0.73, against 0.00 with weight 1 or audio alone).
    """

    latent_dim: int = 8
    channels: tuple[int, ...] = (16, 32, 64, 128)
    modality: str = "both"
    lyrics_features: int = 512
    lyrics_min_df: int = 1
    lyrics_hidden: int = 128
    lyrics_weight: float = 5.0
    mel_params: dict | None = None
    epochs: int | None = 40
    patience: int | None = 8


@dataclass
class BetaVAEConfig(ConvVAEConfig):
    """:class:`ConvVAEConfig` with β = 4."""

    beta: float = 4.0


class ConvVAEModule(nn.Module):
    """The torch network (see the module docstring). ``variational=False`` = plain autoencoder.

    Batches are dicts with ``mel`` (n, 1, H, W) in [0, 1], ``lyr`` (n, V) and ``lmask`` (n,) bool.
    """

    def __init__(self, *, mel_shape: tuple[int, int], channels: tuple[int, ...], latent_dim: int,
                 lyrics_dim: int, lyrics_hidden: int = 128, modality: str = "both",
                 lyrics_weight: float = 1.0, variational: bool = True):
        super().__init__()
        if modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
        H, W = mel_shape
        scale = 2 ** len(channels)
        if H % scale or W % scale:
            raise BadInputError(None, f"mel shape {H}×{W} is not divisible by {scale} ({len(channels)} conv layers)")
        self.variational = variational
        self.use_audio = modality in ("both", "audio")
        self.use_lyrics = modality in ("both", "lyrics") and lyrics_dim > 0
        self.mel_shape = (H, W)
        self.lyrics_dim = lyrics_dim
        self.lyrics_scale = lyrics_weight * (H * W) / max(1, lyrics_dim)
        self.latent_dim = latent_dim
        n_heads = 2 if variational else 1
        if self.use_audio:
            layers, c_in = [], 1
            for c in channels:
                layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
                c_in = c
            self.enc_audio = nn.Sequential(*layers, nn.Flatten())
            self.bottom = (channels[-1], H // scale, W // scale)
            flat = channels[-1] * (H // scale) * (W // scale)
            self.head_audio = nn.Linear(flat, n_heads * latent_dim)
            self.dec_fc = nn.Linear(latent_dim, flat)
            layers = []
            rev = list(channels[::-1]) + [1]
            for i, (a, b) in enumerate(zip(rev[:-1], rev[1:])):
                layers.append(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1))
                layers.append(nn.LeakyReLU(0.2) if i < len(channels) - 1 else nn.Sigmoid())
            self.dec_audio = nn.Sequential(*layers)
        if self.use_lyrics:
            self.enc_lyrics = nn.Sequential(nn.Linear(lyrics_dim, lyrics_hidden), nn.ReLU())
            self.head_lyrics = nn.Linear(lyrics_hidden, n_heads * latent_dim)
            self.dec_lyrics = nn.Sequential(nn.Linear(latent_dim, lyrics_hidden), nn.ReLU(),
                                            nn.Linear(lyrics_hidden, lyrics_dim), nn.Sigmoid())

    # ---- encoder: one expert per modality, fused by a product of Gaussians
    def _experts(self, batch: dict) -> list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]]:
        """[(mu, logvar, mask (n, 1) float)] of the modalities in use."""
        experts = []
        d = self.latent_dim
        if self.use_audio:
            h = self.head_audio(self.enc_audio(batch["mel"]))
            mask = torch.ones(len(h), 1, device=h.device, dtype=h.dtype)
            experts.append((h[:, :d], h[:, d:] if self.variational else None, mask))
        if self.use_lyrics:
            present = batch["lmask"].bool()
            x = torch.where(present[:, None], batch["lyr"], torch.zeros_like(batch["lyr"]))
            h = self.head_lyrics(self.enc_lyrics(x))
            mask = present[:, None].to(h.dtype)
            experts.append((h[:, :d], h[:, d:] if self.variational else None, mask))
        return experts

    def _fuse(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        experts = self._experts(batch)
        n = len(experts[0][0])
        ref = experts[0][0]
        if not self.variational:  # average of the experts that are present
            total = torch.zeros_like(ref)
            count = torch.zeros(n, 1, device=ref.device, dtype=ref.dtype)
            for mu, _, m in experts:
                total = total + torch.where(m > 0, mu, torch.zeros_like(mu))
                count = count + m
            return total / count.clamp_min(1.0), None
        precision = torch.ones_like(ref)  # the prior N(0, I)
        weighted = torch.zeros_like(ref)
        for mu, logvar, m in experts:
            logvar = logvar.clamp(-10.0, 10.0)
            p = torch.exp(-logvar)
            precision = precision + torch.where(m > 0, p, torch.zeros_like(p))
            weighted = weighted + torch.where(m > 0, mu * p, torch.zeros_like(mu))
        return weighted / precision, -torch.log(precision)

    def encode_mean(self, batch: dict) -> torch.Tensor:
        return self._fuse(batch)[0]

    def decode(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        if self.use_audio:
            out["mel_hat"] = self.dec_audio(self.dec_fc(z).view(len(z), *self.bottom))
        if self.use_lyrics:
            out["lyr_hat"] = self.dec_lyrics(z)
        return out

    def forward(self, batch: dict, *, generator: torch.Generator | None = None) -> dict:
        mu, logvar = self._fuse(batch)
        if logvar is None:
            return {"mu": mu, "logvar": None, **self.decode(mu)}
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar) if (self.training or generator is not None) else mu
        return {"mu": mu, "logvar": logvar, **self.decode(z)}

    def reconstruction_error(self, out: dict, batch: dict) -> torch.Tensor:
        err = None
        if self.use_audio:
            err = squared_error(out["mel_hat"], batch["mel"])
        if self.use_lyrics:
            lyr = squared_error(out["lyr_hat"], batch["lyr"], mask=batch["lmask"].bool()) * self.lyrics_scale
            err = lyr if err is None else err + lyr
        return err


def _mel_params_obj(d: dict | None):
    from core.features.mel import MelParams

    return MelParams.from_dict(d) if d else MelParams()


class ConvVAE(TorchModel):
    """ConvVAE on the log-mel with a lyrics branch and a modality mask."""

    name = "conv"
    config_class = ConvVAEConfig
    variational = True

    @property
    def needs(self) -> set[str]:
        return {"both": {"mel", "lyrics"}, "audio": {"mel"}, "lyrics": {"lyrics"}}[self.config.modality]

    # ---- preprocessing: mel → [0, 1], lyrics → TF-IDF (+ mask)
    def _fit_preprocessing(self, inputs: ModelInputs) -> None:
        if self.config.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.config.modality!r}")
        self.mel_params_, self.mel_shape_ = None, (128, 128)
        if "mel" in self.needs:
            self.mel_params_ = inputs.mel_params or self.config.mel_params or _mel_params_obj(None).to_dict()
            self.mel_shape_ = tuple(int(s) for s in inputs.mel.shape[1:])
        self.tfidf_ = None
        if "lyrics" in self.needs:
            from core.lyrics import LyricsTfidf

            self.tfidf_ = LyricsTfidf(max_features=self.config.lyrics_features,
                                      min_df=self.config.lyrics_min_df).fit(inputs.lyrics)
        self.lyrics_dim_ = 0 if self.tfidf_ is None else len(self.tfidf_.vocabulary_)

    def _tensors(self, inputs: ModelInputs) -> dict[str, torch.Tensor]:
        n = len(inputs)
        data: dict[str, torch.Tensor] = {}
        if "mel" in self.needs:
            M = np.asarray(inputs.mel, dtype=np.float32)
            if M.ndim != 3 or tuple(M.shape[1:]) != tuple(self.mel_shape_):
                raise BadInputError(None, f"the model was trained on {self.mel_shape_[0]}×{self.mel_shape_[1]} "
                                          f"log-mels, the data has shape {M.shape[1:]}")
            if inputs.mel_params is not None and inputs.mel_params != self.mel_params_:
                raise BadInputError(None, "the mel inputs were computed with other mel parameters than the model's")
            if not np.isfinite(M).all():
                raise BadInputError(None, "mel spectrograms contain NaN or infinite values")
            from core.features.mel import to_unit

            U = np.asarray(to_unit(M, _mel_params_obj(self.mel_params_)), dtype=np.float32)
            data["mel"] = torch.from_numpy(np.ascontiguousarray(U[:, None]))
        if self.lyrics_dim_ > 0:
            X, mask = self.tfidf_.transform(inputs.lyrics)
            data["lyr"] = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
            data["lmask"] = torch.from_numpy(np.asarray(mask, dtype=bool))
        else:
            data["lyr"] = torch.zeros(n, 0)
            data["lmask"] = torch.zeros(n, dtype=torch.bool)
        if "mel" not in self.needs and self.lyrics_dim_ == 0:
            raise BadInputError(None, "modality 'lyrics' needs lyrics, and no track had any usable lyrics")
        return data

    def _outputs(self, out: dict[str, torch.Tensor]) -> ModelInputs:
        n = len(next(iter(out.values())))
        mel = None
        if "mel_hat" in out:
            from core.features.mel import from_unit

            mel = np.asarray(from_unit(out["mel_hat"][:, 0].numpy(), _mel_params_obj(self.mel_params_)),
                             dtype=np.float32)
        return ModelInputs(track_ids=[f"z{i}" for i in range(n)], mel=mel, mel_params=self.mel_params_)

    def _build_module(self) -> nn.Module:
        c = self.config
        return ConvVAEModule(mel_shape=self.mel_shape_, channels=tuple(c.channels), latent_dim=c.latent_dim,
                             lyrics_dim=self.lyrics_dim_, lyrics_hidden=c.lyrics_hidden, modality=c.modality,
                             lyrics_weight=c.lyrics_weight, variational=self.variational)

    def _feature_params(self) -> dict:
        return mel_feature_params(self, lyrics_dim=int(self.lyrics_dim_))

    def _set_feature_params(self, d: dict) -> None:
        set_mel_feature_params(self, d)
        self.lyrics_dim_ = int(d["lyrics_dim"])

    def input_spec(self) -> dict:
        self._check_fitted()
        spec = {"modality": self.config.modality, "lyrics_dim": int(self.lyrics_dim_)}
        if "mel" in self.needs:
            spec["mel_shape"] = list(self.mel_shape_)
            spec["mel_params"] = self.mel_params_
        return spec


class BetaVAE(ConvVAE):
    """The ConvVAE trained with β = 4 (a loss setting): ``create("beta")``."""

    name = "beta"
    config_class = BetaVAEConfig


def mel_feature_params(model, *, lyrics_dim: int) -> dict:
    """The checkpoint form of a mel model's preprocessing: MelParams, mel shape, lyrics TF-IDF."""
    return {"kind": "mel", "mel_params": model.mel_params_, "mel_shape": list(model.mel_shape_),
            "lyrics": None if model.tfidf_ is None else model.tfidf_.get_state(),
            "lyrics_dim": int(lyrics_dim)}


def set_mel_feature_params(model, d: dict) -> None:
    """Restore what :func:`mel_feature_params` saved onto ``model``."""
    model.mel_params_ = d["mel_params"]
    model.mel_shape_ = tuple(int(s) for s in d["mel_shape"])
    model.tfidf_ = None
    if d.get("lyrics"):
        from core.lyrics import LyricsTfidf

        model.tfidf_ = LyricsTfidf.from_state(d["lyrics"])

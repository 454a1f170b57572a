"""ConvVAE on the 128×128 log-mel, fused with a lyrics branch; β-VAE is the same network.

Architecture (``channels = (c1, c2, c3, c4)``, ``latent_dim = d``), one small module per part::

    MelEncoder      mel (1×128×128, dB → [0, 1] by ``to_unit``)
                      → 4 × [Conv2d k4 s2 p1 + LeakyReLU]  (c1..c4 channels, 128 → 8 pixels)
                      → Linear → audio expert N(mu_a, var_a)
    LyricsEncoder   lyrics TF-IDF (V) → Linear(V, h) + ReLU → Linear → lyrics expert N(mu_l, var_l)

    fusion: product of experts with the prior N(0, I):
        precision = 1 + 1/var_a + m·1/var_l,   mu = (mu_a/var_a + m·mu_l/var_l) / precision
    where m is the MODALITY MASK (1 = the track has lyrics). A track without
    lyrics is encoded from its audio alone: its lyrics row is never read
    (``torch.where``), so zeros or garbage there change nothing.

    MelDecoder      z → Linear → c4×8×8 → 4 × ConvTranspose2d → sigmoid mel (1×128×128)
    LyricsDecoder   z → Linear(d, h) + ReLU → Linear(h, V) → sigmoid lyrics TF-IDF

The reconstruction error is the sum of squared errors of the mel (in [0, 1])
plus ``lyrics_weight · (mel pixels / V)`` times that of the lyrics, masked to
the tracks that have lyrics, so both modalities weigh alike per element.
``modality="audio"`` or ``"lyrics"`` keeps one branch only.

:class:`BetaVAE` (``"beta"``) is :class:`ConvVAE` with β = 4 by default; KL
warm-up and the capacity schedule are options of the loss (see
:mod:`core.models.losses`).
"""

from __future__ import annotations

import torch
from torch import nn

from core.errors import BadInputError
from core.inputs import ModelInputs
from core.models.base import TorchModel
from core.models.configs import ConvVAEConfig, VAETrainConfig
from core.models.losses import squared_error
from core.models.preprocessing import MelPrep

MODALITIES = ("both", "audio", "lyrics")


class MelEncoder(nn.Module):
    """(n, 1, H, W) mel in [0, 1] -> (n, heads·d): the audio expert's mean (and log-variance)."""

    def __init__(self, mel_shape: tuple[int, int], channels: tuple[int, ...], out_dim: int):
        super().__init__()
        layers, c_in = [], 1
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in = c
        self.convs = nn.Sequential(*layers, nn.Flatten())
        scale = 2 ** len(channels)
        self.head = nn.Linear(channels[-1] * (mel_shape[0] // scale) * (mel_shape[1] // scale), out_dim)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(mel))


class MelDecoder(nn.Module):
    """(n, d) latents -> (n, 1, H, W) mel in [0, 1] (the mirror of :class:`MelEncoder`)."""

    def __init__(self, mel_shape: tuple[int, int], channels: tuple[int, ...], latent_dim: int):
        super().__init__()
        scale = 2 ** len(channels)
        self.bottom = (channels[-1], mel_shape[0] // scale, mel_shape[1] // scale)
        self.fc = nn.Linear(latent_dim, self.bottom[0] * self.bottom[1] * self.bottom[2])
        layers = []
        rev = list(channels[::-1]) + [1]
        for i, (a, b) in enumerate(zip(rev[:-1], rev[1:])):
            layers.append(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1))
            layers.append(nn.LeakyReLU(0.2) if i < len(channels) - 1 else nn.Sigmoid())
        self.deconvs = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconvs(self.fc(z).view(len(z), *self.bottom))


class LyricsEncoder(nn.Module):
    """(n, V) TF-IDF -> (n, heads·d): the lyrics expert's mean (and log-variance)."""

    def __init__(self, lyrics_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(lyrics_dim, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class LyricsDecoder(nn.Module):
    """(n, d) latents -> (n, V) TF-IDF in [0, 1]."""

    def __init__(self, lyrics_dim: int, hidden: int, latent_dim: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, lyrics_dim),
                                  nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z)


class ConvVAEModule(nn.Module):
    """The torch network (see the module docstring). ``variational=False`` = plain autoencoder.

    Batches are dicts with ``mel`` (n, 1, H, W) in [0, 1], ``lyr`` (n, V) and ``lmask`` (n,) bool.
    """

    def __init__(self, *, mel_shape: tuple[int, int] | None, channels: tuple[int, ...], latent_dim: int,
                 lyrics_dim: int, lyrics_hidden: int = 128, modality: str = "both",
                 lyrics_weight: float = 1.0, variational: bool = True):
        super().__init__()
        if modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
        self.variational = variational
        self.use_audio = modality in ("both", "audio")
        self.use_lyrics = modality in ("both", "lyrics") and lyrics_dim > 0
        self.latent_dim = latent_dim
        heads = (2 if variational else 1) * latent_dim
        if self.use_audio:
            H, W = mel_shape
            scale = 2 ** len(channels)
            if H % scale or W % scale:
                raise BadInputError(None, f"mel shape {H}×{W} is not divisible by {scale} "
                                          f"({len(channels)} conv layers)")
            self.mel_encoder = MelEncoder((H, W), tuple(channels), heads)
            self.mel_decoder = MelDecoder((H, W), tuple(channels), latent_dim)
            self.lyrics_scale = lyrics_weight * (H * W) / max(1, lyrics_dim)
        else:
            self.lyrics_scale = float(lyrics_weight)
        if self.use_lyrics:
            self.lyrics_encoder = LyricsEncoder(lyrics_dim, lyrics_hidden, heads)
            self.lyrics_decoder = LyricsDecoder(lyrics_dim, lyrics_hidden, latent_dim)

    # ---- encoder: one expert per modality, fused by a product of Gaussians
    def _experts(self, batch: dict) -> list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]]:
        """[(mu, logvar, mask (n, 1) float)] of the modalities in use."""
        experts = []
        d = self.latent_dim
        if self.use_audio:
            h = self.mel_encoder(batch["mel"])
            mask = torch.ones(len(h), 1, device=h.device, dtype=h.dtype)
            experts.append((h[:, :d], h[:, d:] if self.variational else None, mask))
        if self.use_lyrics:
            present = batch["lmask"].bool()
            x = torch.where(present[:, None], batch["lyr"], torch.zeros_like(batch["lyr"]))
            h = self.lyrics_encoder(x)
            mask = present[:, None].to(h.dtype)
            experts.append((h[:, :d], h[:, d:] if self.variational else None, mask))
        return experts

    def _fuse(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        experts = self._experts(batch)
        ref = experts[0][0]
        if not self.variational:  # average of the experts that are present
            total = torch.zeros_like(ref)
            count = torch.zeros(len(ref), 1, device=ref.device, dtype=ref.dtype)
            for mu, _, m in experts:
                total = total + torch.where(m > 0, mu, torch.zeros_like(mu))
                count = count + m
            return total / count.clamp_min(1.0), None
        precision = torch.ones_like(ref)  # the prior N(0, I)
        weighted = torch.zeros_like(ref)
        for mu, logvar, m in experts:
            p = torch.exp(-logvar.clamp(-10.0, 10.0))
            precision = precision + torch.where(m > 0, p, torch.zeros_like(p))
            weighted = weighted + torch.where(m > 0, mu * p, torch.zeros_like(mu))
        return weighted / precision, -torch.log(precision)

    def encode_mean(self, batch: dict) -> torch.Tensor:
        return self._fuse(batch)[0]

    def decode(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        if self.use_audio:
            out["mel_hat"] = self.mel_decoder(z)
        if self.use_lyrics:
            out["lyr_hat"] = self.lyrics_decoder(z)
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


def mel_needs(modality: str) -> set[str]:
    """The inputs a mel model with ``modality`` uses."""
    return {"both": {"mel", "lyrics"}, "audio": {"mel"}, "lyrics": {"lyrics"}}[modality]


def fit_mel_prep(config, inputs: ModelInputs, *, needs: set[str]) -> MelPrep:
    """Mel scaling and lyrics TF-IDF of a mel model with ``config`` that uses the inputs ``needs``."""
    lyrics = None
    if "lyrics" in needs:
        lyrics = {"max_features": config.lyrics_features, "min_df": getattr(config, "lyrics_min_df", 1)}
    return MelPrep.fit(inputs, use_mel="mel" in needs, lyrics=lyrics, mel_params=config.mel_params)


def conv_network(config, prep: MelPrep, *, variational: bool) -> ConvVAEModule:
    """The ConvVAE network of ``config`` on ``prep``'s mel shape and vocabulary."""
    return ConvVAEModule(mel_shape=prep.mel_shape, channels=tuple(config.channels), latent_dim=config.latent_dim,
                         lyrics_dim=prep.lyrics_dim, lyrics_hidden=config.lyrics_hidden, modality=config.modality,
                         lyrics_weight=config.lyrics_weight, variational=variational)


class ConvVAE(TorchModel):
    """ConvVAE on the log-mel with a lyrics branch and a modality mask."""

    name = "conv"
    config_class = ConvVAEConfig
    training_class = VAETrainConfig
    training_defaults = {"epochs": 40, "patience": 8}
    variational = True
    cuda_pays_off = True  # CUDA is 5x (batch 32) to 17x (batch 256) faster (core.training.device)

    @property
    def needs(self) -> set[str]:
        return mel_needs(self.config.modality)

    def _fit_preprocessing(self, inputs: ModelInputs) -> MelPrep:
        return fit_mel_prep(self.config, inputs, needs=self.needs)

    def _network(self) -> nn.Module:
        return conv_network(self.config, self.prep_, variational=self.variational)

    def input_spec(self) -> dict:
        return {"modality": self.config.modality, **super().input_spec()}


class BetaVAE(ConvVAE):
    """The ConvVAE trained with β = 4 (a loss setting): ``create("beta")``."""

    name = "beta"
    training_defaults = {**ConvVAE.training_defaults, "beta": 4.0}

"""The Basic VAE: a dense VAE on the standardised 57-value GTZAN vector.

The defaults are the study's configuration: 57 → 32 → 16 → z=2 (ReLU), a
mirrored decoder, 120 epochs, batch 32, Adam (lr 1e-3), β = 1. The
standardiser is fitted on the training data and saved with the model.
"""

from __future__ import annotations

import torch
from torch import nn

from core.inputs import ModelInputs
from core.models.base import TorchModel
from core.models.configs import BasicVAEConfig, VAETrainConfig
from core.models.losses import squared_error
from core.models.preprocessing import FeaturePrep


class MLPVAE(nn.Module):
    """Dense encoder / decoder. ``variational=False`` gives a plain autoencoder (no sampling, no KL).

    Batches are dicts with ``x``: (n, n_in) standardised features.
    """

    def __init__(self, n_in: int, hidden: tuple[int, ...], latent_dim: int, *, variational: bool = True):
        super().__init__()
        self.variational = variational
        layers, width = [], n_in
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.encoder = nn.Sequential(*layers)
        self.mu = nn.Linear(width, latent_dim)
        self.logvar = nn.Linear(width, latent_dim) if variational else None
        layers, width = [], latent_dim
        for h in reversed(hidden):
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_in))
        self.decoder = nn.Sequential(*layers)

    def encode_mean(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.mu(self.encoder(batch["x"]))

    def decode(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"x_hat": self.decoder(z)}

    def forward(self, batch: dict[str, torch.Tensor], *, generator: torch.Generator | None = None) -> dict:
        h = self.encoder(batch["x"])
        mu = self.mu(h)
        if not self.variational:
            return {"mu": mu, "logvar": None, **self.decode(mu)}
        logvar = self.logvar(h)
        if self.training or generator is not None:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + eps * torch.exp(0.5 * logvar)
        else:
            z = mu
        return {"mu": mu, "logvar": logvar, **self.decode(z)}

    @staticmethod
    def reconstruction_error(out: dict, batch: dict) -> torch.Tensor:
        return squared_error(out["x_hat"], batch["x"])


def mlp_network(config, prep: FeaturePrep, *, variational: bool) -> MLPVAE:
    """The dense network of ``config`` (``hidden``, ``latent_dim``) on ``prep``'s features."""
    return MLPVAE(prep.n_features, tuple(config.hidden), config.latent_dim, variational=variational)


class BasicVAE(TorchModel):
    """Dense VAE on the standardised 57-value vector (the study's Basic VAE)."""

    name = "basic"
    label = "Basic VAE"
    config_class = BasicVAEConfig
    training_class = VAETrainConfig
    training_defaults = {"epochs": 120}
    variational = True
    cuda_pays_off = False  # CUDA is 2.7x slower than the CPU here (core.training.device)

    @property
    def needs(self) -> set[str]:
        return {"features"}

    def _fit_preprocessing(self, inputs: ModelInputs) -> FeaturePrep:
        return FeaturePrep.fit(inputs)

    def _network(self) -> nn.Module:
        return mlp_network(self.config, self.prep_, variational=self.variational)

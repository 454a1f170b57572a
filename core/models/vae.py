"""The Basic VAE: a dense VAE on the standardised 57-value GTZAN vector.

The defaults are the study's configuration: 57 → 32 → 16 → z=2 (ReLU), a
mirrored decoder, 120 epochs, batch 32, Adam (lr 1e-3), β = 1. The
StandardScaler is fitted on the training data and saved with the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.latents import ModelInputs
from core.models.base import Standardiser, TorchModel, VAESettings, check_features
from core.models.losses import squared_error


@dataclass
class BasicVAEConfig(VAESettings):
    """Settings of :class:`BasicVAE` (defaults = the study's configuration: 120 epochs, batch 32)."""

    latent_dim: int = 2
    hidden: tuple[int, ...] = (32, 16)


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


class FeatureModelMixin:
    """Preprocessing shared by the models on the 57-value vector: the standardiser."""

    def _fit_preprocessing(self, inputs: ModelInputs) -> None:
        X = check_features(inputs.features, None)
        self.scaler_ = Standardiser.fit(X)
        self.n_features_ = X.shape[1]

    def _tensors(self, inputs: ModelInputs) -> dict[str, torch.Tensor]:
        X = check_features(inputs.features, self.n_features_)
        return {"x": torch.from_numpy(self.scaler_.transform(X))}

    def _outputs(self, out: dict[str, torch.Tensor]) -> ModelInputs:
        X = self.scaler_.inverse(out["x_hat"].numpy())
        return ModelInputs(track_ids=[f"z{i}" for i in range(len(X))], features=X)

    def _feature_params(self) -> dict:
        return {"kind": "features", "scaler": self.scaler_.to_dict(), "n_features": int(self.n_features_),
                "feature_names": feature_names(self.n_features_)}

    def _set_feature_params(self, d: dict) -> None:
        self.scaler_ = Standardiser.from_dict(d["scaler"])
        self.n_features_ = int(d["n_features"])

    def input_spec(self) -> dict:
        self._check_fitted()
        return {"n_features": int(self.n_features_)}


def feature_names(n: int) -> list[str]:
    """The GTZAN feature names when there are 57 columns, else ``f0, f1, ...``."""
    try:
        from core.features.gtzan57 import FEATURE_NAMES
    except ImportError:
        FEATURE_NAMES = None
    if FEATURE_NAMES is not None and len(FEATURE_NAMES) == n:
        return list(FEATURE_NAMES)
    return [f"f{i}" for i in range(n)]


class BasicVAE(FeatureModelMixin, TorchModel):
    """Dense VAE on the standardised 57-value vector (the study's Basic VAE)."""

    name = "basic"
    config_class = BasicVAEConfig
    variational = True

    @property
    def needs(self) -> set[str]:
        return {"features"}

    def _build_module(self) -> nn.Module:
        return MLPVAE(self.n_features_, tuple(self.config.hidden), self.config.latent_dim,
                      variational=self.variational)

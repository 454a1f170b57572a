"""The models, ONE registry: three VAEs and three baselines under the same interface.

=======  ==========================================================================
basic    dense VAE on the standardised 57-value vector (the study's Basic VAE)
conv     ConvVAE on the 128×128 log-mel, fused with a lyrics TF-IDF branch
beta     the same network as ``conv`` trained with β = 4 (β-VAE is a loss setting)
ae       plain autoencoder: basic's or conv's network without the KL term
pca      PCA on the standardised features, or on the flattened mel (+ lyrics)
raw      the standardised features themselves, or a mean/std-pooled mel summary
=======  ==========================================================================

Every model has ``name``, ``needs`` (the :class:`~core.latents.ModelInputs`
fields it uses), ``config`` (its dataclass), ``fit(inputs, *, callback, stop)``,
``encode(inputs) -> (n, d)`` and ``reconstruct(inputs) -> ModelInputs``; the
VAEs and ``ae`` also ``decode(z)`` and the VAEs ``sample(n)``. Save and load
them with :mod:`core.checkpoint`.
"""

from __future__ import annotations

from typing import Any

from core.models.base import Model
from core.models.baselines import AutoEncoder, PCAModel, RawModel
from core.models.conv import BetaVAE, ConvVAE
from core.models.vae import BasicVAE

#: The registry: name -> model class.
MODELS: dict[str, type[Model]] = {
    "basic": BasicVAE,
    "conv": ConvVAE,
    "beta": BetaVAE,
    "ae": AutoEncoder,
    "pca": PCAModel,
    "raw": RawModel,
}


def create(name: str, *, config: Any = None, **params: Any) -> Model:
    """A new, unfitted model ``name`` with its default config overridden by ``params``.

    >>> create("basic", latent_dim=8, beta=2.0).config.latent_dim
    8
    """
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
    return cls(config, **params)


__all__ = ["MODELS", "Model", "create", "BasicVAE", "ConvVAE", "BetaVAE", "AutoEncoder", "PCAModel", "RawModel"]

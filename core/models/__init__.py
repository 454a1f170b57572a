"""The models, ONE registry: three VAEs and three baselines under the same interface.

============  ==========================================================================
basic         dense VAE on the standardised 57-value vector (the study's Basic VAE)
conv          spectrogram VAE on crops of whole-clip log-mels, with a concatenated lyrics block
beta          the same network as ``conv`` trained with β = 4 (β-VAE is a loss setting)
ae            plain autoencoder: basic's or conv's network without the KL term
pca           PCA on the standardised features, or on the flattened mel (+ lyrics)
raw           the standardised features themselves, or a mean/std-pooled mel summary
tfidf         the lyrics TF-IDF rows themselves (the lyrics-only baseline)
pca_balanced  PCA on mel + lyrics with each block scaled to unit total variance
============  ==========================================================================

Every model is an estimator with the parameters ``config`` (architecture, see
:mod:`core.models.configs`), ``training`` (None for pca / raw), ``random_state`` and
``device``; ``get_params()`` lists every setting of the two configs and the estimator in one
flat dict, whose names are those of :data:`core.params.SPECS` (each setting's type, range and
help). It has ``name``, ``label`` (its name for a person), ``needs`` (the :class:`~core.inputs.ModelInputs` fields it
uses), ``fit(inputs, *, callback, stop) -> self``, ``encode(inputs) -> (n, d)`` and
``reconstruct(inputs) -> ModelInputs``; the torch models also ``decode(z)`` and the VAEs
``sample(n)``. Save and load them with :mod:`core.checkpoint`.

Modules: ``configs`` (the three groups of settings), ``preprocessing`` (standardiser, mel /
lyrics scaling), ``base`` (the estimator), ``losses``, ``vae`` / ``conv`` / ``baselines``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from core.models.base import Model, TorchModel
from core.models.baselines import AutoEncoder, BalancedPCAModel, PCAModel, RawModel, TfidfModel
from core.models.configs import split_params
from core.models.conv import BetaVAE, ConvVAE
from core.models.vae import BasicVAE
from core.params import check_settings

#: The registry: name -> model class.
MODELS: dict[str, type[Model]] = {
    "basic": BasicVAE,
    "conv": ConvVAE,
    "beta": BetaVAE,
    "ae": AutoEncoder,
    "pca": PCAModel,
    "raw": RawModel,
    "tfidf": TfidfModel,
    "pca_balanced": BalancedPCAModel,
}


def create(name: str, *, config: Any = None, training: Any = None, random_state: int = 0, device: str = "auto",
           **params: Any) -> Model:
    """A new, unfitted model ``name``; ``params`` override fields of its model or training config.

    Every number given (``params`` and ``random_state``) is checked against its range in
    :data:`core.params.SPECS`: ValueError names the first out of range (``epochs must be a whole number
    from 1 to 100000, got 0``). Choices (``modality``...) are checked by ``fit``, as every estimator's.

    >>> m = create("basic", latent_dim=8, beta=2.0, random_state=3)
    >>> (m.config.latent_dim, m.training.beta, m.random_state)
    (8, 2.0, 3)
    """
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
    model_params, train_params = split_params(params, config_class=cls.config_class,
                                              training_class=cls.training_class, owner=name)
    check_settings({**params, "random_state": random_state})
    config = (config or cls.config_class)
    config = config(**model_params) if isinstance(config, type) else _replace(config, model_params)
    if cls.training_class is not None:
        base = training if training is not None else cls.training_class(**cls.training_defaults)
        training = _replace(base, train_params)
    return cls(config, training, random_state=random_state, device=device)


def _replace(config: Any, changes: dict) -> Any:
    return dataclasses.replace(config, **changes) if changes else config


__all__ = ["MODELS", "Model", "TorchModel", "create", "BasicVAE", "ConvVAE", "BetaVAE", "AutoEncoder",
           "PCAModel", "RawModel", "TfidfModel", "BalancedPCAModel"]

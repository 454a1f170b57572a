"""Baselines under the same interface as the VAEs: ``pca``, ``ae`` and ``raw``.

``inputs="features"`` (default) works on the standardised 57-value vector,
``inputs="mel"`` on the 128×128 log-mel mapped to [0, 1] by ``to_unit``.

* ``pca``: sklearn PCA (``random_state`` passed down). On features: StandardScaler
  → PCA, the study's PCA row. On mel: the flattened mel, plus the lyrics TF-IDF
  row when ``modality="both"`` (a track without lyrics gets zeros there: PCA has
  no modality mask). Its state (components, mean) is saved as tensors.
* ``ae``: a plain autoencoder, the Basic VAE's dense network (features) or the
  ConvVAE's network (mel, with its modality mask), without sampling and KL.
* ``raw``: no learning beyond standardisation. On features: the standardised 57
  values. On mel: a cheap summary, the mean and the standard deviation over time
  of every mel band (2 × n_mels values, standardised); its reconstruction
  repeats each band's mean over time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.errors import BadInputError
from core.latents import ModelInputs
from core.models.base import Model, Standardiser, TorchModel, TrainSettings, check_features
from core.models.conv import ConvVAE, _mel_params_obj, mel_feature_params, set_mel_feature_params
from core.models.vae import FeatureModelMixin, MLPVAE, feature_names

INPUTS = ("features", "mel")


def _check_inputs_kind(value: str) -> str:
    if value not in INPUTS:
        raise ValueError(f"inputs must be one of {INPUTS}, got {value!r}")
    return value


# ============================================================================ ae
@dataclass
class AEConfig(TrainSettings):
    """Settings of :class:`AutoEncoder`; the network settings of ``basic`` or ``conv`` apply."""

    inputs: str = "features"
    latent_dim: int = 2
    hidden: tuple[int, ...] = (32, 16)
    channels: tuple[int, ...] = (16, 32, 64, 128)
    modality: str = "audio"
    lyrics_features: int = 512
    lyrics_min_df: int = 1
    lyrics_hidden: int = 128
    lyrics_weight: float = 5.0
    mel_params: dict | None = None
    epochs: int | None = None  # None: 120 on features, 40 on mel


class AutoEncoder(TorchModel):
    """Plain autoencoder: ``create("ae", inputs="features" | "mel")``."""

    name = "ae"
    config_class = AEConfig
    variational = False

    def __new__(cls, config=None, **params):
        if cls is AutoEncoder:
            inputs = params.get("inputs", getattr(config, "inputs", "features"))
            cls = _FeatureAE if _check_inputs_kind(inputs) == "features" else _MelAE
        return super().__new__(cls)

    def fit(self, inputs: ModelInputs, **kwargs) -> "AutoEncoder":
        if self.config.epochs is None:
            self.config.epochs = self.default_epochs
        return super().fit(inputs, **kwargs)


class _FeatureAE(FeatureModelMixin, AutoEncoder):
    default_epochs = 120

    @property
    def needs(self) -> set[str]:
        return {"features"}

    def _build_module(self) -> nn.Module:
        return MLPVAE(self.n_features_, tuple(self.config.hidden), self.config.latent_dim, variational=False)


class _MelAE(AutoEncoder, ConvVAE):
    default_epochs = 40


# ============================================================= shared: mel inputs
class _MelSummaryMixin:
    """Mel (+ lyrics) preprocessing of the non-torch baselines."""

    def _fit_mel_params(self, inputs: ModelInputs, *, with_lyrics: bool) -> None:
        self.mel_params_ = inputs.mel_params or self.config.mel_params or _mel_params_obj(None).to_dict()
        self.mel_shape_ = tuple(int(s) for s in np.asarray(inputs.mel).shape[1:])
        self.tfidf_ = None
        if with_lyrics:
            from core.lyrics import LyricsTfidf

            self.tfidf_ = LyricsTfidf(max_features=self.config.lyrics_features).fit(inputs.lyrics)

    def _unit_mel(self, inputs: ModelInputs) -> np.ndarray:
        M = np.asarray(inputs.mel, dtype=np.float32)
        if M.ndim != 3 or tuple(M.shape[1:]) != tuple(self.mel_shape_):
            raise BadInputError(None, f"the model was trained on {self.mel_shape_[0]}×{self.mel_shape_[1]} "
                                      f"log-mels, the data has shape {M.shape[1:]}")
        if inputs.mel_params is not None and inputs.mel_params != self.mel_params_:
            raise BadInputError(None, "the mel inputs were computed with other mel parameters than the model's")
        from core.features.mel import to_unit

        return np.asarray(to_unit(M, _mel_params_obj(self.mel_params_)), dtype=np.float32)

    def _mel_feature_params(self) -> dict:
        return mel_feature_params(self, lyrics_dim=0 if self.tfidf_ is None else len(self.tfidf_.vocabulary_))

    def _set_mel_feature_params(self, d: dict) -> None:
        set_mel_feature_params(self, d)

    def _mel_spec(self) -> dict:
        return {"mel_shape": list(self.mel_shape_), "mel_params": self.mel_params_,
                "lyrics_dim": 0 if self.tfidf_ is None else len(self.tfidf_.vocabulary_)}


def _to_mel_inputs(U: np.ndarray, mel_params: dict) -> ModelInputs:
    from core.features.mel import from_unit

    M = np.asarray(from_unit(np.clip(U, 0.0, 1.0), _mel_params_obj(mel_params)), dtype=np.float32)
    return ModelInputs(track_ids=[f"z{i}" for i in range(len(M))], mel=M, mel_params=mel_params)


# ============================================================================ pca
@dataclass
class PCAConfig:
    """Settings of :class:`PCAModel`."""

    inputs: str = "features"
    latent_dim: int = 2
    modality: str = "audio"  # mel inputs: "both" appends the lyrics TF-IDF
    lyrics_features: int = 512
    random_state: int = 0
    mel_params: dict | None = None


class PCAModel(_MelSummaryMixin, Model):
    """PCA on standardised features (the study's baseline) or on the flattened mel (+ lyrics)."""

    name = "pca"
    config_class = PCAConfig

    def __init__(self, config=None, **params):
        super().__init__(config, **params)
        _check_inputs_kind(self.config.inputs)
        self.components_: np.ndarray | None = None

    @property
    def needs(self) -> set[str]:
        if self.config.inputs == "features":
            return {"features"}
        return {"mel", "lyrics"} if self.config.modality == "both" else {"mel"}

    def is_fitted(self) -> bool:
        return self.components_ is not None

    def _matrix(self, inputs: ModelInputs) -> np.ndarray:
        if self.config.inputs == "features":
            return self.scaler_.transform(check_features(inputs.features, self.n_features_))
        U = self._unit_mel(inputs).reshape(len(inputs), -1)
        if self.tfidf_ is not None:
            X, _ = self.tfidf_.transform(inputs.lyrics)
            U = np.hstack([U, X])
        return U

    def fit(self, inputs: ModelInputs, *, callback=None, stop=None, **_ignored) -> "PCAModel":
        """Fit the scaler (features) or the mel parameters, then PCA. ``callback``/``stop`` are accepted and unused."""
        from sklearn.decomposition import PCA

        self._check_needs(inputs)
        if self.config.inputs == "features":
            X = check_features(inputs.features, None)
            self.scaler_ = Standardiser.fit(X)
            self.n_features_ = X.shape[1]
        else:
            self._fit_mel_params(inputs, with_lyrics=self.config.modality == "both")
        A = self._matrix(inputs)
        k = min(self.config.latent_dim, *A.shape)
        pca = PCA(n_components=k, random_state=self.config.random_state).fit(A)
        self.components_ = pca.components_.astype(np.float32)
        self.mean_ = pca.mean_.astype(np.float32)
        self.explained_variance_ratio_ = pca.explained_variance_ratio_.astype(np.float32)
        self.history_ = []
        return self

    def encode(self, inputs: ModelInputs) -> np.ndarray:
        """(n, latent_dim) principal-component scores."""
        self._check_fitted()
        self._check_needs(inputs)
        return ((self._matrix(inputs) - self.mean_) @ self.components_.T).astype(np.float32)

    def decode(self, z: np.ndarray) -> ModelInputs:
        """Back-project scores ``z`` (n, d) to features (unscaled) or mel (dB)."""
        self._check_fitted()
        A = np.asarray(z, dtype=np.float32) @ self.components_ + self.mean_
        if self.config.inputs == "features":
            return ModelInputs(track_ids=[f"z{i}" for i in range(len(A))], features=self.scaler_.inverse(A))
        n_pix = int(np.prod(self.mel_shape_))
        return _to_mel_inputs(A[:, :n_pix].reshape(len(A), *self.mel_shape_), self.mel_params_)

    def reconstruct(self, inputs: ModelInputs) -> ModelInputs:
        out = self.decode(self.encode(inputs))
        out.track_ids = list(inputs.track_ids)
        return out

    def get_state(self) -> dict:
        self._check_fitted()
        weights = {"components": torch.from_numpy(self.components_), "mean": torch.from_numpy(self.mean_),
                   "explained_variance_ratio": torch.from_numpy(self.explained_variance_ratio_)}
        if self.config.inputs == "features":
            fp = {"kind": "features", "scaler": self.scaler_.to_dict(), "n_features": int(self.n_features_),
                  "feature_names": feature_names(self.n_features_)}
        else:
            fp = self._mel_feature_params()
        return {"weights": weights, "feature_params": fp}

    def set_state(self, weights: dict, feature_params: dict) -> None:
        if self.config.inputs == "features":
            self.scaler_ = Standardiser.from_dict(feature_params["scaler"])
            self.n_features_ = int(feature_params["n_features"])
        else:
            self._set_mel_feature_params(feature_params)
        self.components_ = weights["components"].numpy().astype(np.float32)
        self.mean_ = weights["mean"].numpy().astype(np.float32)
        self.explained_variance_ratio_ = weights["explained_variance_ratio"].numpy().astype(np.float32)
        if self.components_.shape[1] != len(self.mean_):
            raise ValueError("PCA components and mean have different sizes")

    def input_spec(self) -> dict:
        self._check_fitted()
        if self.config.inputs == "features":
            return {"n_features": int(self.n_features_)}
        return self._mel_spec()

    @property
    def latent_dim(self) -> int:
        return int(self.components_.shape[0]) if self.components_ is not None else int(self.config.latent_dim)


# ============================================================================ raw
@dataclass
class RawConfig:
    """Settings of :class:`RawModel`."""

    inputs: str = "features"
    mel_params: dict | None = None


class RawModel(_MelSummaryMixin, Model):
    """The standardised inputs themselves (or, for mel, the per-band mean/std over time)."""

    name = "raw"
    config_class = RawConfig

    def __init__(self, config=None, **params):
        super().__init__(config, **params)
        _check_inputs_kind(self.config.inputs)
        self.scaler_: Standardiser | None = None

    @property
    def needs(self) -> set[str]:
        return {self.config.inputs}

    @property
    def latent_dim(self) -> int:
        if self.scaler_ is None:
            raise RuntimeError("RawModel is not fitted yet: call fit() first")
        return len(self.scaler_.mean)

    def is_fitted(self) -> bool:
        return self.scaler_ is not None

    def _summary(self, inputs: ModelInputs) -> np.ndarray:
        """(n, f) features, or (n, 2 * n_mels) per-band [mean over time, std over time]."""
        if self.config.inputs == "features":
            return check_features(inputs.features, getattr(self, "n_features_", None))
        U = self._unit_mel(inputs)
        return np.hstack([U.mean(axis=2), U.std(axis=2)]).astype(np.float32)

    def fit(self, inputs: ModelInputs, *, callback=None, stop=None, **_ignored) -> "RawModel":
        """Fit the standardisation. ``callback``/``stop`` are accepted and unused."""
        self._check_needs(inputs)
        if self.config.inputs == "mel":
            self._fit_mel_params(inputs, with_lyrics=False)
        A = self._summary(inputs)
        self.n_features_ = A.shape[1]
        self.scaler_ = Standardiser.fit(A)
        self.history_ = []
        return self

    def encode(self, inputs: ModelInputs) -> np.ndarray:
        self._check_fitted()
        self._check_needs(inputs)
        return self.scaler_.transform(self._summary(inputs))

    def reconstruct(self, inputs: ModelInputs) -> ModelInputs:
        """Features: the inputs themselves. Mel: each band's mean repeated over time."""
        self._check_fitted()
        if self.config.inputs == "features":
            X = check_features(inputs.features, self.n_features_)
            return ModelInputs(track_ids=list(inputs.track_ids), features=X.copy())
        U = self._unit_mel(inputs)
        mean = U.mean(axis=2, keepdims=True)
        out = _to_mel_inputs(np.broadcast_to(mean, U.shape).copy(), self.mel_params_)
        out.track_ids = list(inputs.track_ids)
        return out

    def get_state(self) -> dict:
        self._check_fitted()
        fp = {"kind": self.config.inputs, "scaler": self.scaler_.to_dict(), "n_features": int(self.n_features_)}
        if self.config.inputs == "features":
            fp["feature_names"] = feature_names(self.n_features_)
        else:
            fp.update({k: v for k, v in self._mel_feature_params().items() if k != "kind"})
        return {"weights": {}, "feature_params": fp}

    def set_state(self, weights: dict, feature_params: dict) -> None:
        self.scaler_ = Standardiser.from_dict(feature_params["scaler"])
        self.n_features_ = int(feature_params["n_features"])
        if self.config.inputs == "mel":
            self._set_mel_feature_params(feature_params)

    def input_spec(self) -> dict:
        self._check_fitted()
        if self.config.inputs == "features":
            return {"n_features": int(self.n_features_)}
        return self._mel_spec()

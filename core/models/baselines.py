"""Baselines under the same interface as the VAEs: ``ae``, ``pca`` and ``raw``.

``inputs="features"`` (default) works on the standardised 57-value vector,
``inputs="mel"`` on the 128×128 centre log-mel mapped to [0, 1] by ``to_unit`` (pca, raw)
or, for ``ae``, on crops of the whole clips like the spectrogram VAE.

* ``ae``: a plain autoencoder, the Basic VAE's dense network (features) or the
  spectrogram VAE's network (whole-clip crops, lyrics block), without sampling and KL;
  a track's code on mel is the mean of its crops' codes.
* ``pca``: sklearn PCA (``random_state`` passed down). On features: StandardScaler
  → PCA, the study's PCA row. On mel: the flattened mel, plus the lyrics TF-IDF
  row when ``modality="both"`` (a track without lyrics gets zeros there: PCA has
  no modality mask). Its state (components, mean) is saved as tensors.
* ``raw``: no learning beyond standardisation. On features: the standardised 57
  values. On mel: a cheap summary, the mean and the standard deviation over time
  of every mel band (2 × n_mels values, standardised); its reconstruction
  repeats each band's mean over time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.decomposition import PCA
from torch import nn

from core.errors import BadInputError
from core.inputs import ModelInputs
from core.models.base import Model, TorchModel
from core.models.configs import AEConfig, PCAConfig, RawConfig, TrainConfig
from core.models.conv import clip_needs, conv_network, encode_clips, excerpt, fit_clip_prep, reconstruct_excerpt
from core.models.preprocessing import ClipPrep, FeaturePrep, MelPrep, Standardiser, prep_from_state
from core.models.vae import mlp_network


# ============================================================================ ae
class AutoEncoder(TorchModel):
    """Plain autoencoder: ``create("ae", inputs="features" | "mel")``."""

    name = "ae"
    label = "Autoencoder"
    config_class = AEConfig
    training_class = TrainConfig
    training_defaults = {"epochs": None}  # 120 on features, 40 on mel (the networks' own defaults)
    variational = False

    @property
    def cuda_pays_off(self) -> bool:  # the dense network is faster on CPU, the conv network on CUDA
        return self.config.inputs == "mel"

    @property
    def cuda_batch_size(self) -> int | None:
        return 256 if self.config.inputs == "mel" else None

    @property
    def default_epochs(self) -> int:
        return 30 if self.config.inputs == "mel" else 120

    @property
    def needs(self) -> set[str]:
        return clip_needs(self.config.modality) if self.config.inputs == "mel" else {"features"}

    @property
    def latent_dim(self) -> int:
        if self.config.inputs == "mel" and self.is_fitted():
            return int(self.module_.latent_dim)
        return int(self.config.latent_dim)

    def _fit_preprocessing(self, inputs: ModelInputs) -> FeaturePrep | ClipPrep:
        if self.config.inputs == "mel":
            return fit_clip_prep(self.config, inputs, needs=self.needs)
        return FeaturePrep.fit(inputs)

    def _network(self) -> nn.Module:
        build = conv_network if self.config.inputs == "mel" else mlp_network
        return build(self.config, self.prep_, variational=False)

    def encode(self, inputs: ModelInputs) -> np.ndarray:
        if self.config.inputs != "mel":
            return super().encode(inputs)
        self._check_fitted()
        self._check_needs(inputs)
        return encode_clips(self.module_, self.prep_, inputs, hop=self.config.eval_hop)

    def excerpt(self, inputs: ModelInputs) -> tuple[np.ndarray, np.ndarray]:
        """On mel: the centre excerpt that :meth:`reconstruct` rebuilds (see ``ConvVAE.excerpt``)."""
        self._check_fitted()
        if self.config.inputs != "mel":
            raise ValueError("an autoencoder on features has no spectrogram excerpt")
        return excerpt(self.prep_, inputs)

    def reconstruct(self, inputs: ModelInputs) -> ModelInputs:
        if self.config.inputs != "mel":
            return super().reconstruct(inputs)
        self._check_fitted()
        self._check_needs(inputs)
        return reconstruct_excerpt(self.module_, self.prep_, inputs)


# ============================================================================ pca
class PCAModel(Model):
    """PCA on standardised features (the study's baseline) or on the flattened mel (+ lyrics)."""

    name = "pca"
    label = "PCA"
    config_class = PCAConfig

    @property
    def needs(self) -> set[str]:
        if self.config.inputs == "features":
            return {"features"}
        return {"mel", "lyrics"} if self.config.modality == "both" else {"mel"}

    def is_fitted(self) -> bool:
        return getattr(self, "components_", None) is not None

    def _matrix(self, inputs: ModelInputs) -> np.ndarray:
        if isinstance(self.prep_, FeaturePrep):
            return self.prep_.matrix(inputs)
        A = self.prep_.unit_mel(inputs).reshape(len(inputs), -1)
        if self.prep_.tfidf is not None:
            A = np.hstack([A, self.prep_.lyrics_matrix(inputs)[0]])
        return A

    def fit(self, inputs: ModelInputs, *, callback=None, stop=None, **_ignored) -> "PCAModel":
        """Fit the scaler (features) or the mel parameters, then PCA. ``callback``/``stop`` are accepted and unused."""
        self.validate()
        self._check_needs(inputs)
        if self.config.inputs == "features":
            self.prep_ = FeaturePrep.fit(inputs)
        else:
            lyrics = {"max_features": self.config.lyrics_features, "min_df": 1} if "lyrics" in self.needs else None
            self.prep_ = MelPrep.fit(inputs, use_mel=True, lyrics=lyrics, mel_params=self.config.mel_params)
        A = self._matrix(inputs)
        pca = PCA(n_components=min(self.config.latent_dim, *A.shape), random_state=self.random_state).fit(A)
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
        if isinstance(self.prep_, FeaturePrep):
            return self.prep_.to_inputs(A)
        n_pix = int(np.prod(self.prep_.mel_shape))
        return self.prep_.to_inputs(A[:, :n_pix].reshape(len(A), *self.prep_.mel_shape))

    def reconstruct(self, inputs: ModelInputs) -> ModelInputs:
        out = self.decode(self.encode(inputs))
        out.track_ids = list(inputs.track_ids)
        return out

    def get_state(self) -> dict:
        self._check_fitted()
        weights = {"components": torch.from_numpy(self.components_), "mean": torch.from_numpy(self.mean_),
                   "explained_variance_ratio": torch.from_numpy(self.explained_variance_ratio_)}
        return {"weights": weights, "feature_params": self.prep_.state()}

    def set_state(self, weights: dict, feature_params: dict) -> None:
        self.prep_ = prep_from_state(feature_params)
        self.components_ = weights["components"].numpy().astype(np.float32)
        self.mean_ = weights["mean"].numpy().astype(np.float32)
        self.explained_variance_ratio_ = weights["explained_variance_ratio"].numpy().astype(np.float32)
        if self.components_.shape[1] != len(self.mean_):
            raise ValueError("PCA components and mean have different sizes")

    @property
    def latent_dim(self) -> int:
        return int(self.components_.shape[0]) if self.is_fitted() else int(self.config.latent_dim)


# ============================================================================ raw
class RawModel(Model):
    """The standardised inputs themselves (or, for mel, the per-band mean/std over time)."""

    name = "raw"
    label = "Raw inputs"
    config_class = RawConfig

    @property
    def needs(self) -> set[str]:
        return {self.config.inputs}

    @property
    def latent_dim(self) -> int:
        self._check_fitted()
        return len(self.scaler_.mean)

    def is_fitted(self) -> bool:
        return getattr(self, "scaler_", None) is not None

    def _summary(self, inputs: ModelInputs) -> np.ndarray:
        """(n, 2 * n_mels) per-band [mean over time, std over time] of the mel in [0, 1]."""
        U = self.prep_.unit_mel(inputs)
        return np.hstack([U.mean(axis=2), U.std(axis=2)]).astype(np.float32)

    def fit(self, inputs: ModelInputs, *, callback=None, stop=None, **_ignored) -> "RawModel":
        """Fit the standardisation. ``callback``/``stop`` are accepted and unused."""
        self.validate()
        self._check_needs(inputs)
        if self.config.inputs == "features":
            self.prep_ = FeaturePrep.fit(inputs)
            self.scaler_ = self.prep_.scaler
        else:
            self.prep_ = MelPrep.fit(inputs, use_mel=True, lyrics=None, mel_params=self.config.mel_params)
            self.scaler_ = Standardiser.fit(self._summary(inputs))
        self.history_ = []
        return self

    def encode(self, inputs: ModelInputs) -> np.ndarray:
        self._check_fitted()
        self._check_needs(inputs)
        if isinstance(self.prep_, FeaturePrep):
            return self.prep_.matrix(inputs)
        return self.scaler_.transform(self._summary(inputs))

    def reconstruct(self, inputs: ModelInputs) -> ModelInputs:
        """Features: the inputs themselves. Mel: each band's mean repeated over time."""
        self._check_fitted()
        if isinstance(self.prep_, FeaturePrep):
            out = self.prep_.to_inputs(self.prep_.matrix(inputs))
        else:
            U = self.prep_.unit_mel(inputs)
            out = self.prep_.to_inputs(np.broadcast_to(U.mean(axis=2, keepdims=True), U.shape).copy())
        out.track_ids = list(inputs.track_ids)
        return out

    def get_state(self) -> dict:
        self._check_fitted()
        return {"weights": {}, "feature_params": {**self.prep_.state(), "summary_scaler": self.scaler_.to_dict()}}

    def set_state(self, weights: dict, feature_params: dict) -> None:
        self.prep_ = prep_from_state(feature_params)
        self.scaler_ = Standardiser.from_dict(feature_params["summary_scaler"])


# ====================================================================== tfidf
@dataclass(frozen=True)
class TfidfConfig:
    """The lyrics TF-IDF (:class:`core.lyrics.LyricsTfidf` settings) used as the latent itself."""

    lyrics_features: int = 512
    lyrics_min_df: int = 1


class TfidfModel(Model):
    """``tfidf``: the TF-IDF row of each track's lyrics, no learning beyond the vocabulary.

    The lyrics-only baseline a multimodal claim is measured against: if K-Means on
    these rows finds the languages as well as a fused model does, the audio adds nothing.
    A track without lyrics gets a row of zeros. It reconstructs no audio.
    """

    name = "tfidf"
    label = "TF-IDF lyrics"
    config_class = TfidfConfig

    @property
    def needs(self) -> set[str]:
        return {"lyrics"}

    @property
    def latent_dim(self) -> int:
        return self.prep_.lyrics_dim if self.is_fitted() else int(self.config.lyrics_features)

    def fit(self, inputs: ModelInputs, *, callback=None, stop=None, **_ignored) -> "TfidfModel":
        """Fit the vocabulary and IDF weights. ``callback``/``stop`` are accepted and unused."""
        self.validate()
        self._check_needs(inputs)
        lyrics = {"max_features": self.config.lyrics_features, "min_df": self.config.lyrics_min_df}
        self.prep_ = MelPrep.fit(inputs, use_mel=False, lyrics=lyrics)
        if self.prep_.lyrics_dim == 0:
            raise BadInputError(None, "model 'tfidf' needs lyrics, and no track had any usable lyrics")
        self.history_ = []
        return self

    def encode(self, inputs: ModelInputs) -> np.ndarray:
        """(n, V) TF-IDF rows (zeros for a track without lyrics)."""
        self._check_fitted()
        self._check_needs(inputs)
        return self.prep_.lyrics_matrix(inputs)[0]

    def reconstruct(self, inputs: ModelInputs) -> ModelInputs:
        """Nothing to reconstruct: the ids alone (no mel)."""
        self._check_fitted()
        return ModelInputs(track_ids=list(inputs.track_ids))

    def get_state(self) -> dict:
        self._check_fitted()
        return {"weights": {}, "feature_params": self.prep_.state()}

    def set_state(self, weights: dict, feature_params: dict) -> None:
        self.prep_ = prep_from_state(feature_params)


# =============================================================== pca_balanced
@dataclass(frozen=True)
class BalancedPCAConfig(PCAConfig):
    """PCA on the mel + lyrics with each block first scaled to unit total variance."""

    inputs: str = "mel"
    modality: str = "both"


class BalancedPCAModel(PCAModel):
    """``pca_balanced``: PCA on [mel block, lyrics block], each block scaled to unit total variance.

    The plain ``pca`` on mel + lyrics concatenates 16,384 mel values in [0, 1] with 512 TF-IDF
    values, so the mel's variance decides every component and the lyrics count for nothing
    (language NMI 0.001 on the demo corpus). Here each block is divided by the square root of its total
    variance (sum of its column variances over the training tracks, learned at ``fit`` and
    saved as ``block_scales_``), so both modalities carry the same weight before PCA.
    """

    name = "pca_balanced"
    label = "PCA, balanced blocks"
    config_class = BalancedPCAConfig

    def validate(self) -> None:
        super().validate()
        if self.config.inputs != "mel":
            raise ValueError(f"BalancedPCAModel: inputs must be 'mel', got {self.config.inputs!r}")

    def _blocks(self, inputs: ModelInputs) -> list[np.ndarray]:
        blocks = []
        if self.prep_.mel_shape is not None:
            blocks.append(self.prep_.unit_mel(inputs).reshape(len(inputs), -1))
        if self.prep_.tfidf is not None:
            blocks.append(self.prep_.lyrics_matrix(inputs)[0])
        return blocks

    def _matrix(self, inputs: ModelInputs) -> np.ndarray:
        blocks = self._blocks(inputs)
        if self.block_scales_ is None:  # inside fit: learn each block's scale on the training tracks
            self.block_scales_ = np.array([1.0 / np.sqrt(max(float(B.var(axis=0).sum()), 1e-12)) for B in blocks],
                                          dtype=np.float32)
        return np.hstack([B * s for B, s in zip(blocks, self.block_scales_)]).astype(np.float32)

    def fit(self, inputs: ModelInputs, *, callback=None, stop=None, **_ignored) -> "BalancedPCAModel":
        """Fit the mel/lyrics preprocessing, the block scales, then PCA."""
        self.block_scales_ = None
        return super().fit(inputs)

    def decode(self, z: np.ndarray) -> ModelInputs:
        """Back-project scores ``z`` (n, d) to the mel (dB), undoing the mel block's scale."""
        self._check_fitted()
        A = np.asarray(z, dtype=np.float32) @ self.components_ + self.mean_
        if self.prep_.mel_shape is None:
            return ModelInputs(track_ids=[f"z{i}" for i in range(len(A))])
        n_pix = int(np.prod(self.prep_.mel_shape))
        U = A[:, :n_pix] / self.block_scales_[0]
        return self.prep_.to_inputs(U.reshape(len(A), *self.prep_.mel_shape))

    def get_state(self) -> dict:
        state = super().get_state()
        state["weights"]["block_scales"] = torch.from_numpy(np.asarray(self.block_scales_, dtype=np.float32))
        return state

    def set_state(self, weights: dict, feature_params: dict) -> None:
        super().set_state({k: v for k, v in weights.items() if k != "block_scales"}, feature_params)
        self.block_scales_ = weights["block_scales"].numpy().astype(np.float32)

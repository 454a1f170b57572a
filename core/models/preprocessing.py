"""What a model learns about its inputs before the network: fitted on the training data, saved with it.

* :class:`FeaturePrep` -- the 57-value vector, standardised (StandardScaler's arithmetic);
* :class:`MelPrep` -- the centre log-mel window mapped to [0, 1] by ``to_unit`` (the MelParams it was
  computed with) and the lyrics TF-IDF with its modality mask (the pca / raw baselines on mel);
* :class:`ClipPrep` -- the spectrogram VAEs': whole-clip log-mels (dB re. full scale) standardised per
  mel band with the training corpus' mean and std, read as crops (:class:`CropBatches`), and the
  lyrics TF-IDF with its mask.

Each turns :class:`~core.inputs.ModelInputs` into arrays / tensors and model outputs back
into ``ModelInputs`` in input units, and round-trips through ``state()`` / :func:`prep_from_state`
(plain types only, as a checkpoint's ``feature_params``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy import sparse
from sklearn.preprocessing import StandardScaler

from core.errors import BadInputError
from core.corpus import FEATURE_NAMES
from core.features.mel import CLIP_PARAMS, MelParams, from_unit, to_unit
from core.features.melstore import MelClips, centre_start
from core.inputs import ModelInputs
from core.lyrics import LyricsTfidf


def check_features(X: np.ndarray, n_features: int | None) -> np.ndarray:
    """Validate a (n, f) feature matrix: finite, 2-D, ``n_features`` columns. Returns float32."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise BadInputError(None, f"features must be a 2-D (tracks, features) array, got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise BadInputError(None, f"the model was trained on {n_features} features, the data has {X.shape[1]}")
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).any(1).sum())
        raise BadInputError(None, f"{bad} track(s) have NaN or infinite feature values")
    return X


def feature_names(n: int) -> list[str]:
    """The GTZAN feature names when there are 57 columns, else ``f0, f1, ...``."""
    return list(FEATURE_NAMES) if len(FEATURE_NAMES) == n else [f"f{i}" for i in range(n)]


class Standardiser:
    """Per-column mean / scale (StandardScaler's arithmetic), stored as plain lists."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)

    @classmethod
    def fit(cls, X: np.ndarray) -> "Standardiser":
        sc = StandardScaler().fit(X)
        return cls(sc.mean_, sc.scale_)

    def transform(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean) / self.scale).astype(np.float32)

    def inverse(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) * self.scale + self.mean).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Standardiser":
        return cls(np.asarray(d["mean"]), np.asarray(d["scale"]))


def _ids(n: int) -> list[str]:
    return [f"z{i}" for i in range(n)]


# ===================================================================== features
@dataclass
class FeaturePrep:
    """The standardiser of the 57-value vector. Tensors: ``{"x": (n, f)}``; outputs: ``x_hat``."""

    scaler: Standardiser
    n_features: int

    @classmethod
    def fit(cls, inputs: ModelInputs) -> "FeaturePrep":
        X = check_features(inputs.features, None)
        return cls(Standardiser.fit(X), X.shape[1])

    def matrix(self, inputs: ModelInputs) -> np.ndarray:
        """(n, f) float32 standardised features."""
        return self.scaler.transform(check_features(inputs.features, self.n_features))

    def tensors(self, inputs: ModelInputs) -> dict[str, torch.Tensor]:
        return {"x": torch.from_numpy(self.matrix(inputs))}

    training_data = tensors

    def to_inputs(self, Xs: np.ndarray) -> ModelInputs:
        """Standardised rows (n, f) back to raw feature units."""
        return ModelInputs(track_ids=_ids(len(Xs)), features=self.scaler.inverse(Xs))

    def outputs(self, out: dict[str, torch.Tensor]) -> ModelInputs:
        return self.to_inputs(out["x_hat"].numpy())

    def state(self) -> dict:
        return {"kind": "features", "scaler": self.scaler.to_dict(), "n_features": int(self.n_features),
                "feature_names": feature_names(self.n_features)}

    @classmethod
    def from_state(cls, d: dict) -> "FeaturePrep":
        return cls(Standardiser.from_dict(d["scaler"]), int(d["n_features"]))

    def spec(self) -> dict:
        return {"n_features": int(self.n_features)}


# ========================================================================== mel
@dataclass
class MelPrep:
    """Mel scaling (MelParams, shape) and the lyrics TF-IDF.

    Tensors: ``{"mel": (n, 1, H, W) in [0, 1], "lyr": (n, V), "lmask": (n,) bool}`` (``mel``
    only when the mel is used; ``V = 0`` without lyrics); outputs: ``mel_hat``.
    """

    mel_params: dict | None
    mel_shape: tuple[int, int] | None
    tfidf: LyricsTfidf | None

    @classmethod
    def fit(cls, inputs: ModelInputs, *, use_mel: bool, lyrics: dict | None,
            mel_params: dict | None = None) -> "MelPrep":
        """``lyrics``: the LyricsTfidf settings (``max_features``, ``min_df``), or None for no lyrics."""
        params = shape = None
        if use_mel:
            params = inputs.mel_params or mel_params or MelParams().to_dict()
            shape = tuple(int(s) for s in np.asarray(inputs.mel).shape[1:])
        tfidf = LyricsTfidf(**lyrics).fit(inputs.lyrics) if lyrics is not None else None
        return cls(params, shape, tfidf)

    @property
    def lyrics_dim(self) -> int:
        return 0 if self.tfidf is None else len(self.tfidf.vocabulary_)

    def unit_mel(self, inputs: ModelInputs) -> np.ndarray:
        """(n, H, W) float32 mel in [0, 1], after checking shape, parameters and values."""
        M = np.asarray(inputs.mel, dtype=np.float32)
        if M.ndim != 3 or tuple(M.shape[1:]) != tuple(self.mel_shape):
            raise BadInputError(None, f"the model was trained on {self.mel_shape[0]}×{self.mel_shape[1]} "
                                      f"log-mels, the data has shape {M.shape[1:]}")
        if inputs.mel_params is not None and inputs.mel_params != self.mel_params:
            raise BadInputError(None, "the mel inputs were computed with other mel parameters than the model's")
        if not np.isfinite(M).all():
            raise BadInputError(None, "mel spectrograms contain NaN or infinite values")
        return np.asarray(to_unit(M, MelParams.from_dict(self.mel_params)), dtype=np.float32)

    def lyrics_matrix(self, inputs: ModelInputs) -> tuple[np.ndarray, np.ndarray]:
        """(n, V) float32 TF-IDF rows and (n,) bool mask of the tracks that have lyrics."""
        if self.tfidf is None:
            return np.zeros((len(inputs), 0), np.float32), np.zeros(len(inputs), bool)
        X, mask = self.tfidf.transform(inputs.lyrics)
        return np.ascontiguousarray(X, dtype=np.float32), np.asarray(mask, dtype=bool)

    def tensors(self, inputs: ModelInputs) -> dict[str, torch.Tensor]:
        data: dict[str, torch.Tensor] = {}
        if self.mel_shape is not None:
            data["mel"] = torch.from_numpy(np.ascontiguousarray(self.unit_mel(inputs)[:, None]))
        elif self.lyrics_dim == 0:
            raise BadInputError(None, "modality 'lyrics' needs lyrics, and no track had any usable lyrics")
        X, mask = self.lyrics_matrix(inputs)
        data["lyr"], data["lmask"] = torch.from_numpy(X), torch.from_numpy(mask)
        return data

    def to_inputs(self, U: np.ndarray) -> ModelInputs:
        """Mel rows (n, H, W) in [0, 1] back to dB."""
        M = np.asarray(from_unit(np.clip(U, 0.0, 1.0), MelParams.from_dict(self.mel_params)), dtype=np.float32)
        return ModelInputs(track_ids=_ids(len(M)), mel=M, mel_params=self.mel_params)

    def outputs(self, out: dict[str, torch.Tensor]) -> ModelInputs:
        if "mel_hat" not in out:
            return ModelInputs(track_ids=_ids(len(next(iter(out.values())))), mel_params=self.mel_params)
        return self.to_inputs(out["mel_hat"][:, 0].numpy())

    def state(self) -> dict:
        return {"kind": "mel", "mel_params": self.mel_params,
                "mel_shape": None if self.mel_shape is None else list(self.mel_shape),
                "lyrics": None if self.tfidf is None else self.tfidf.get_state(), "lyrics_dim": self.lyrics_dim}

    @classmethod
    def from_state(cls, d: dict) -> "MelPrep":
        shape = None if d["mel_shape"] is None else tuple(int(s) for s in d["mel_shape"])
        return cls(d["mel_params"], shape, LyricsTfidf.from_state(d["lyrics"]) if d.get("lyrics") else None)

    def spec(self) -> dict:
        spec: dict = {"lyrics_dim": self.lyrics_dim}
        if self.mel_shape is not None:
            spec.update(mel_shape=list(self.mel_shape), mel_params=self.mel_params)
        return spec


# ======================================================================== clips
class CropBatches:
    """The training data of a spectrogram VAE: crops of whole clips, read lazily from the mel store.

    Follows the training loop's batch-source protocol: ``len()`` tracks, and
    ``batch(idx, rng=..., device=...)`` -> ``{"x": (B, F, T) standardised, "lyr": (B, V), "lmask": (B,)}``
    with a crop at a uniformly random position of each clip (``rng`` a numpy Generator, every step a
    new one) or, for evaluation (``rng=None``), the centre crop. Only the drawn crops are read, and
    the lyrics TF-IDF is kept sparse (``lyr``, CSR) and made dense a batch at a time: nothing held
    here grows with the corpus but the sparse rows, the mask and the store's index.
    With ``group = K > 1`` a training batch holds the first B/K tracks of ``idx`` with K random crops
    each (a track's crops adjacent) and ``"group": K``, so the model can share a track latent.
    """

    def __init__(self, prep: "ClipPrep", clips: MelClips | None, lyr, lmask: np.ndarray, *, group: int = 1):
        self.prep, self.clips, self.lyr, self.lmask = prep, clips, lyr, lmask
        self.group = max(1, int(group))

    def __len__(self) -> int:
        return len(self.lmask)

    def lyrics(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, V) float32 dense TF-IDF rows and (B,) bool mask of the rows ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        return torch.from_numpy(self.lyr[idx].toarray()), torch.from_numpy(self.lmask[idx])

    def batch(self, idx: np.ndarray, *, rng: np.random.Generator | None = None,
              device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        idx = np.asarray(idx, dtype=np.int64)
        grouped = rng is not None and self.group > 1 and self.clips is not None
        if grouped:  # the first B/K drawn tracks, K random crops each, a track's crops adjacent
            idx = np.repeat(idx[:max(1, len(idx) // self.group)], self.group)
        lyr, lmask = self.lyrics(idx)
        out = {"lyr": lyr.to(device), "lmask": lmask.to(device)}
        if self.clips is not None:
            T = self.prep.crop
            lengths = self.clips.lengths[idx]
            if rng is None:
                starts = np.array([centre_start(n, T) for n in lengths], dtype=np.int64)
            else:
                starts = np.floor(rng.random(len(idx)) * (np.maximum(lengths - T, 0) + 1)).astype(np.int64)
            x = self.prep.standardise(self.clips.crops(idx, starts, T))
            out["x"] = torch.from_numpy(x).to(device)
        if grouped:
            out["group"] = self.group
        return out


@dataclass
class ClipPrep:
    """Whole-clip log-mels standardised per band (corpus mean/std), crops of ``crop`` frames; lyrics TF-IDF.

    ``band_mean`` / ``band_std`` (F,) are fitted over every frame of the training clips; ``modality`` is
    what the model really uses ("audio" when lyrics were asked for but no track had usable lyrics).
    """

    clip_params: dict | None
    crop: int
    band_mean: np.ndarray | None
    band_std: np.ndarray | None
    tfidf: LyricsTfidf | None

    @classmethod
    def fit(cls, inputs: ModelInputs, *, use_audio: bool, lyrics: dict | None, crop: int,
            clip_params: dict | None = None) -> "ClipPrep":
        params = mean = std = None
        if use_audio:
            if inputs.clips is None:
                raise BadInputError(None, "the spectrogram model needs whole-clip log-mels ('clips' inputs)")
            params = inputs.clips.params or clip_params or CLIP_PARAMS.to_dict()
            mean, std = inputs.clips.band_stats()
        tfidf = LyricsTfidf(**lyrics).fit(inputs.lyrics) if lyrics is not None else None
        return cls(params, int(crop), mean, std, tfidf)

    def with_levels(self, band_mean: np.ndarray) -> "ClipPrep":
        """This preprocessing with other per-band levels (band means, (F,) dB) than the training clips'.

        The band spreads are kept. Two collections recorded or encoded differently (MP3 previews that cut the
        top bands, another mastering level) differ by up to 30 dB in a band; subtracting the training
        corpus's levels then shifts every crop of the other one off what the encoder saw.
        """
        band_mean = np.asarray(band_mean, np.float32)
        if band_mean.shape != (self.n_mels,) or not np.isfinite(band_mean).all():
            raise BadInputError(None, f"band levels must be {self.n_mels} finite values, got shape {band_mean.shape}")
        return replace(self, band_mean=band_mean)

    @property
    def use_audio(self) -> bool:
        return self.band_mean is not None

    @property
    def lyrics_dim(self) -> int:
        return 0 if self.tfidf is None else len(self.tfidf.vocabulary_)

    @property
    def n_mels(self) -> int:
        return 0 if self.band_mean is None else len(self.band_mean)

    @property
    def modality(self) -> str:
        if self.use_audio:
            return "both" if self.lyrics_dim else "audio"
        return "lyrics"

    def standardise(self, db: np.ndarray) -> np.ndarray:
        """dB crops (..., F, T) -> (dB - band mean) / band std, float32."""
        return ((db - self.band_mean[:, None]) / self.band_std[:, None]).astype(np.float32)

    def to_db(self, x: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`standardise`."""
        return (np.asarray(x, np.float32) * self.band_std[:, None] + self.band_mean[:, None]).astype(np.float32)

    def lyrics_matrix(self, inputs: ModelInputs) -> tuple[np.ndarray, np.ndarray]:
        """(n, V) float32 TF-IDF rows and (n,) bool mask of the tracks that have lyrics."""
        if self.tfidf is None:
            return np.zeros((len(inputs), 0), np.float32), np.zeros(len(inputs), bool)
        X, mask = self.tfidf.transform(inputs.lyrics)
        return np.ascontiguousarray(X, dtype=np.float32), np.asarray(mask, dtype=bool)

    def check(self, inputs: ModelInputs) -> None:
        if self.use_audio:
            clips = inputs.clips
            if clips is None:
                raise BadInputError(None, "the spectrogram model needs whole-clip log-mels ('clips' inputs)")
            if clips.n_mels != self.n_mels:
                raise BadInputError(None, f"the model was trained on {self.n_mels} mel bands, the data has "
                                          f"{clips.n_mels}")
            if self.clip_params is not None and clips.params != self.clip_params:
                raise BadInputError(None, "the whole-clip mels were computed with other mel parameters than "
                                          "the model's")
        elif self.lyrics_dim == 0:
            raise BadInputError(None, "modality 'lyrics' needs lyrics, and no track had any usable lyrics")

    def training_data(self, inputs: ModelInputs, *, group: int = 1) -> CropBatches:
        """The batch source of ``inputs`` (:class:`CropBatches`; ``group`` crops per track in training)."""
        self.check(inputs)
        if self.tfidf is None:
            lyr, mask = sparse.csr_matrix((len(inputs), 0), dtype=np.float32), np.zeros(len(inputs), bool)
        else:  # inputs without lyrics: every track's lyrics block is then the prior
            lyr, mask = self.tfidf.transform_sparse(inputs.lyrics if inputs.lyrics is not None else [""] * len(inputs))
        return CropBatches(self, inputs.clips if self.use_audio else None, lyr, mask, group=group)

    def outputs(self, out: dict[str, torch.Tensor]) -> ModelInputs:
        """Decoder outputs -> ``ModelInputs`` with ``mel`` (n, F, T) in dB re. full scale."""
        if "x_hat" not in out:
            return ModelInputs(track_ids=_ids(len(next(iter(out.values())))), mel_params=self.clip_params)
        M = self.to_db(out["x_hat"].cpu().numpy())
        return ModelInputs(track_ids=_ids(len(M)), mel=M, mel_params=self.clip_params)

    def state(self) -> dict:
        return {"kind": "clips", "clip_params": self.clip_params, "crop": int(self.crop),
                "band_mean": None if self.band_mean is None else self.band_mean.tolist(),
                "band_std": None if self.band_std is None else self.band_std.tolist(),
                "lyrics": None if self.tfidf is None else self.tfidf.get_state(), "lyrics_dim": self.lyrics_dim,
                "modality": self.modality}

    @classmethod
    def from_state(cls, d: dict) -> "ClipPrep":
        arr = (lambda v: None if v is None else np.asarray(v, dtype=np.float32))
        return cls(d["clip_params"], int(d["crop"]), arr(d["band_mean"]), arr(d["band_std"]),
                   LyricsTfidf.from_state(d["lyrics"]) if d.get("lyrics") else None)

    def spec(self) -> dict:
        spec: dict = {"lyrics_dim": self.lyrics_dim, "modality": self.modality}
        if self.use_audio:
            spec.update(n_mels=self.n_mels, crop=self.crop, clip_params=self.clip_params)
        return spec


def prep_from_state(d: dict) -> FeaturePrep | MelPrep | ClipPrep:
    """The preprocessing saved by ``state()`` (dispatch on its ``kind``)."""
    kinds = {"features": FeaturePrep, "mel": MelPrep, "clips": ClipPrep}
    if d.get("kind") not in kinds:
        raise ValueError(f"unknown preprocessing kind {d.get('kind')!r}")
    return kinds[d["kind"]].from_state(d)

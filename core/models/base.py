"""The interface every model in the registry follows, and the shared torch plumbing.

A model is an estimator (sklearn style): ``__init__`` only stores its config
dataclass, :meth:`Model.fit` learns and returns ``self``, learned state ends in
``_``. What a checkpoint stores is :meth:`Model.get_state` (tensors + plain
Python types) and :meth:`Model.set_state` puts it back.

Torch models (:class:`TorchModel`) wrap an ``nn.Module`` that follows the
protocol of :mod:`core.training`::

    forward(batch, *, generator=None) -> {"mu": (n, d), "logvar": (n, d) | None, ...}
    reconstruction_error(out, batch) -> (n,)
    encode_mean(batch) -> (n, d)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from core.errors import BadInputError
from core.latents import ModelInputs


@dataclasses.dataclass
class TrainSettings:
    """Settings of the training loop (:mod:`core.training`), shared by every torch model's config.

    A model's config subclasses this and adds its network settings; it may redeclare a
    field to change its default (the ConvVAE trains 40 epochs, the Basic VAE 120).
    """

    epochs: int | None = 120
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    val_fraction: float = 0.1
    patience: int | None = None
    metrics_every: int = 0
    n_clusters: int = 2


@dataclasses.dataclass
class VAESettings(TrainSettings):
    """:class:`TrainSettings` plus the β-VAE loss: KL weight, warm-up and capacity schedule."""

    beta: float = 1.0
    warmup_epochs: int = 0
    capacity: float | None = None
    capacity_epochs: int = 0


def config_to_dict(config: Any) -> dict:
    """A config dataclass as a JSON-safe dict (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(cls: type, values: dict) -> Any:
    """Rebuild a config dataclass, ignoring unknown keys and restoring tuples."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in values.items():
        if k not in fields:
            continue
        kwargs[k] = tuple(v) if isinstance(v, list) and "tuple" in str(fields[k].type) else v
    return cls(**kwargs)


class Model:
    """Base class: config handling, input checks, fingerprint."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type]

    def __init__(self, config: Any = None, **params: Any):
        if config is None:
            config = self.config_class(**params)
        elif params:
            config = dataclasses.replace(config, **params)
        self.config = config
        self.history_: list[dict] = []
        self.kl_per_dim_: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"

    # ---------------------------------------------------------------- interface
    @property
    def needs(self) -> set[str]:
        """The :class:`ModelInputs` fields this model uses."""
        raise NotImplementedError

    @property
    def latent_dim(self) -> int:
        return int(self.config.latent_dim)

    def fit(self, inputs: ModelInputs, *, callback=None, stop: threading.Event | None = None,
            state_path: str | Path | None = None, resume: bool = False) -> "Model":
        raise NotImplementedError

    def encode(self, inputs: ModelInputs) -> np.ndarray:
        raise NotImplementedError

    def reconstruct(self, inputs: ModelInputs) -> ModelInputs:
        raise NotImplementedError

    # ------------------------------------------------------------ checkpointing
    def get_state(self) -> dict:
        """``{"weights": {name: tensor}, "feature_params": {...}}`` (tensors and plain types only)."""
        raise NotImplementedError

    def set_state(self, weights: dict, feature_params: dict) -> None:
        raise NotImplementedError

    def input_spec(self) -> dict:
        """What the fitted model expects of its inputs, e.g. ``{"n_features": 57}``.

        :func:`core.checkpoint.load` compares this with its ``expect`` argument.
        """
        raise NotImplementedError

    def is_fitted(self) -> bool:
        raise NotImplementedError

    def fingerprint(self) -> str:
        """A short hash of the config and the learned state (used as the latents cache key)."""
        h = hashlib.sha256()
        h.update(self.name.encode())
        h.update(json.dumps(config_to_dict(self.config), sort_keys=True).encode())
        state = self.get_state()
        h.update(json.dumps(state["feature_params"], sort_keys=True, default=str).encode())
        for key in sorted(state["weights"]):
            t = state["weights"][key]
            h.update(key.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    # --------------------------------------------------------------- helpers
    def _check_fitted(self) -> None:
        if not self.is_fitted():
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit() first")

    def _check_needs(self, inputs: ModelInputs) -> None:
        for field in sorted(self.needs):
            if getattr(inputs, field) is None:
                raise BadInputError(None, f"model '{self.name}' needs '{field}' inputs, which were not given")


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


class Standardiser:
    """Per-column mean / scale (StandardScaler's arithmetic), stored as plain lists."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)

    @classmethod
    def fit(cls, X: np.ndarray) -> "Standardiser":
        from sklearn.preprocessing import StandardScaler

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


class TorchModel(Model):
    """A model trained by :func:`core.training.train`.

    Subclasses implement ``_build_module()``, ``_fit_preprocessing(inputs)``,
    ``_tensors(inputs)`` (ModelInputs -> dict of tensors), ``_outputs(out, n)``
    (module outputs -> ModelInputs), ``_feature_params()`` / ``_set_feature_params(d)``
    and ``input_spec()``.
    """

    #: Whether the model has a KL term (VAEs) or not (plain autoencoder).
    variational: ClassVar[bool] = True

    def __init__(self, config: Any = None, **params: Any):
        super().__init__(config, **params)
        self.module_: torch.nn.Module | None = None

    # ---- to implement
    def _build_module(self) -> torch.nn.Module:
        raise NotImplementedError

    def _fit_preprocessing(self, inputs: ModelInputs) -> None:
        raise NotImplementedError

    def _tensors(self, inputs: ModelInputs) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _outputs(self, out: dict[str, torch.Tensor]) -> ModelInputs:
        raise NotImplementedError

    def _feature_params(self) -> dict:
        raise NotImplementedError

    def _set_feature_params(self, d: dict) -> None:
        raise NotImplementedError

    def loss(self):
        """The :class:`~core.models.losses.VAELoss` this model is trained with."""
        from core.models.losses import VAELoss

        c = self.config
        if not self.variational:
            return VAELoss(beta=0.0)
        return VAELoss(beta=c.beta, warmup_epochs=c.warmup_epochs, capacity=c.capacity,
                       capacity_epochs=c.capacity_epochs)

    # ---- interface
    def is_fitted(self) -> bool:
        return self.module_ is not None

    def fit(self, inputs: ModelInputs, *, callback=None, stop: threading.Event | None = None,
            state_path: str | Path | None = None, resume: bool = False) -> "TorchModel":
        """Fit the preprocessing and the network on ``inputs``.

        With ``state_path`` the checkpoint is written there at the end of every epoch,
        with the training state (optimizer, epoch, history...) while the run is not finished,
        and without it once training has ended normally. ``resume=True`` continues the
        run saved in ``state_path`` (its preprocessing, weights and optimizer) up to
        ``config.epochs``.
        """
        from core import checkpoint
        from core.training import train

        self._check_needs(inputs)
        c = self.config
        torch.manual_seed(c.seed)
        resume_state = None
        if resume:
            if state_path is None or not Path(state_path).exists():
                raise BadInputError(state_path, "nothing to resume: the state file does not exist")
            saved = checkpoint.read(state_path, expect_model=self.name)
            if saved.get("train_state") is None:
                raise checkpoint.CheckpointError(
                    state_path, "has no training state to resume (its training already finished)")
            self._set_feature_params(saved["feature_params"])
            self.module_ = self._build_module()
            resume_state = dict(saved["train_state"])
            resume_state["best_weights"] = saved["weights"]
            if resume_state.get("n_samples") != len(inputs):
                raise checkpoint.CheckpointError(
                    state_path, f"its run was trained on {resume_state.get('n_samples')} tracks, the data has "
                                f"{len(inputs)}: resume needs the same data")
        else:
            self._fit_preprocessing(inputs)
            self.module_ = self._build_module()
        data = self._tensors(inputs)

        save_state = None
        if state_path is not None:
            def save_state(ts: dict) -> None:
                ts = dict(ts)
                best = ts.pop("best_weights")
                self.history_ = list(ts["history"])
                checkpoint.save(self, state_path, weights=best, train_state=ts)

        finished = {"done": False}

        def on_epoch(info):
            finished["done"] = info["epoch"] >= info["epochs"] or info["stopped_early"]

        self.history_ = train(
            self.module_, self.loss(), data, epochs=c.epochs, batch_size=c.batch_size, lr=c.lr,
            seed=c.seed, val_fraction=c.val_fraction, patience=c.patience,
            callback=_Tee(callback, on_epoch), stop=stop, metrics_every=c.metrics_every,
            n_clusters=c.n_clusters, checkpoint=save_state, resume_state=resume_state,
        )
        self.module_.cpu()
        self._update_kl()
        if state_path is not None and (finished["done"] or len(self.history_) >= c.epochs):
            checkpoint.save(self, state_path)
        return self

    def _update_kl(self) -> None:
        best = [h for h in self.history_ if h.get("best")]
        rec = best[-1] if best else (self.history_[-1] if self.history_ else None)
        if self.variational and rec is not None and rec.get("val_kl_per_dim"):
            self.kl_per_dim_ = np.asarray(rec["val_kl_per_dim"], dtype=np.float64)
        else:
            self.kl_per_dim_ = None

    @torch.no_grad()
    def encode(self, inputs: ModelInputs) -> np.ndarray:
        """Latent means, (n, latent_dim) float32."""
        self._check_fitted()
        self._check_needs(inputs)
        data = self._tensors(inputs)
        self.module_.eval()
        parts = [self.module_.encode_mean(_rows(data, s, 512)) for s in range(0, len(inputs), 512)]
        return torch.cat(parts).numpy().astype(np.float32) if parts else np.zeros((0, self.latent_dim), np.float32)

    @torch.no_grad()
    def reconstruct(self, inputs: ModelInputs) -> ModelInputs:
        """Decode the latent means of ``inputs`` (same shapes; lyrics omitted)."""
        return self.decode(self.encode(inputs), track_ids=inputs.track_ids)

    @torch.no_grad()
    def decode(self, z: np.ndarray, *, track_ids: list[str] | None = None) -> ModelInputs:
        """Decode latents ``z`` (n, d) into inputs space (features unscaled / mel in dB)."""
        self._check_fitted()
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise BadInputError(None, f"latents must have shape (n, {self.latent_dim}), got {z.shape}")
        self.module_.eval()
        out = self.module_.decode(torch.from_numpy(z))
        result = self._outputs(out)
        result.track_ids = list(track_ids) if track_ids is not None else [f"z{i}" for i in range(len(z))]
        return result

    def sample(self, n: int, *, random_state: int | None = None) -> ModelInputs:
        """Decode ``n`` draws from the prior N(0, I)."""
        if not self.variational:
            raise NotImplementedError(f"'{self.name}' is not generative: it has no prior to sample from")
        z = np.random.default_rng(random_state).standard_normal((n, self.latent_dim)).astype(np.float32)
        return self.decode(z)

    def get_state(self) -> dict:
        self._check_fitted()
        return {"weights": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()},
                "feature_params": self._feature_params()}

    def set_state(self, weights: dict, feature_params: dict) -> None:
        self._set_feature_params(feature_params)
        module = self._build_module()
        module.load_state_dict(weights)
        module.eval()
        self.module_ = module
        self._update_kl()


def _rows(data: dict[str, torch.Tensor], start: int, size: int) -> dict[str, torch.Tensor]:
    return {k: v[start:start + size] for k, v in data.items()}


class _Tee:
    """Forward callbacks to the user's callback and to an internal on_epoch hook."""

    def __init__(self, user: Any, hook):
        from core.training import _callback_methods

        self._user_batch, self._user_epoch = _callback_methods(user)
        self._hook = hook
        if self._user_batch is not None:
            self.on_batch = self._user_batch

    def on_epoch(self, info: dict) -> None:
        self._hook(info)
        if self._user_epoch is not None:
            self._user_epoch(info)

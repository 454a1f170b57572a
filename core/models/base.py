"""The estimator interface every model in the registry follows, and the torch estimator.

A model is an estimator (scikit-learn style): ``__init__`` only stores its parameters
(``config``: the architecture dataclass, ``training``: the training dataclass or None,
``random_state``, ``device``); :meth:`Model.fit` validates them, learns and returns
``self`` without changing them; learned state ends in ``_`` (``prep_``, ``module_``,
``history_``, ``kl_per_dim_``...). :meth:`Model.get_state` is what a checkpoint stores
(tensors + plain types) and :meth:`Model.set_state` puts it back.

A :class:`TorchModel` builds its ``nn.Module`` and its loss and hands both, with its training config
whole, to :func:`core.training.train`. The module follows the loop's protocol::

    forward(batch, *, generator=None) -> {"mu": (n, d), "logvar": (n, d) | None, ...}
    reconstruction_error(out, batch) -> (n,)
    encode_mean(batch) -> (n, d);  decode(z) -> dict of outputs
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import fields, replace
from typing import Any, Callable, ClassVar

import numpy as np
import torch

from core.blocks import LatentBlock
from core.errors import BadInputError
from core.inputs import ModelInputs
from core.models.configs import config_to_dict
from core.models.losses import VAELoss, run_warmup_steps
from core.models.preprocessing import ClipPrep, FeaturePrep, MelPrep, prep_from_state
from core.params import SPECS
from core.training import (TrainConfig, default_threads, empty_module, resolve_device, seeded_module, torch_threads,
                           train)

#: Rows per forward pass when encoding or decoding outside training.
ENCODE_CHUNK = 512


class Model:
    """Base class: parameters, input checks, fingerprint."""

    name: ClassVar[str] = ""
    #: The model's name for a person ("Basic VAE", "ConvVAE"...): what the dashboard lists.
    label: ClassVar[str] = ""
    config_class: ClassVar[type]
    #: The training config dataclass (None: nothing is trained by gradient descent).
    training_class: ClassVar[type | None] = None
    #: This model's defaults for its training config (e.g. the ConvVAE trains 40 epochs).
    training_defaults: ClassVar[dict] = {}
    #: Whether the model has a KL term (the VAEs) or not (autoencoder, baselines).
    variational: ClassVar[bool] = False
    #: A VAE on random crops of whole-clip log-mels (the ConvVAE and the Beta-VAE): its width, steps per epoch
    #: and free bits shape it as much as its latent size, and its β is reported normalised (β·d/(F·T)).
    spectrogram_vae: ClassVar[bool] = False

    def __init__(self, config: Any = None, training: Any = None, *, random_state: int = 0,
                 device: str = "auto"):
        self.config = config if config is not None else self.config_class()
        if training is None and self.training_class is not None:
            training = self.training_class(**self.training_defaults)
        self.training = training
        self.random_state = random_state
        self.device = device

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config}, {self.training}, random_state={self.random_state})"

    def get_params(self) -> dict:
        """Every setting of the model in one flat dict, scikit-learn style: each field of its model config
        and of its training config (none for a model without training), then ``random_state`` and ``device``.

        A config field holds the value as stored (``epochs=None``: the model's own number, :attr:`epochs`).
        The field names are those of ``core.models.create``'s keyword arguments and of :data:`core.params.SPECS`,
        so a reader never has to know which config holds a setting."""
        out = {}
        for config in (self.config, self.training):
            if config is not None:
                out.update({f.name: getattr(config, f.name) for f in fields(config)})
        return {**out, "random_state": self.random_state, "device": self.device}

    # ---------------------------------------------------------------- interface
    @property
    def needs(self) -> set[str]:
        """The :class:`ModelInputs` fields this model uses."""
        raise NotImplementedError

    @property
    def latent_dim(self) -> int:
        return int(self.config.latent_dim)

    def latent_blocks(self) -> tuple[LatentBlock, ...]:
        """The named blocks of the latent vector (:mod:`core.blocks`); one block unless a model has several."""
        return (LatentBlock("z", "+".join(sorted(self.needs)), 0, self.latent_dim),)

    def training_device(self) -> str:
        """Where :meth:`fit` runs: the CPU, unless a model trains by gradient descent (TorchModel)."""
        return "cpu"

    def fit(self, inputs: ModelInputs, **kwargs) -> "Model":
        raise NotImplementedError

    def encode(self, inputs: ModelInputs) -> np.ndarray:
        raise NotImplementedError

    def reconstruct(self, inputs: ModelInputs) -> ModelInputs:
        raise NotImplementedError

    def validate(self) -> None:
        """Raise ValueError naming a parameter whose value cannot work (called by ``fit``)."""
        for name in ("inputs", "modality"):
            value = getattr(self.config, name, None)
            if value is not None:
                try:
                    SPECS[name].check(value)
                except ValueError as exc:
                    raise ValueError(f"{type(self).__name__}: {exc}") from None

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
        self._check_fitted()
        return self.prep_.spec()

    def is_fitted(self) -> bool:
        return getattr(self, "prep_", None) is not None

    def fingerprint(self) -> str:
        """A short hash of what decides the latents: the model config, the preprocessing and the weights.

        Training and monitoring settings are left out (they only matter through the weights).
        Used as the latents cache key.
        """
        h = hashlib.sha256()
        h.update(self.name.encode())
        h.update(json.dumps(config_to_dict(self.config), sort_keys=True).encode())
        state = self.get_state()
        h.update(json.dumps(state["feature_params"], sort_keys=True, default=str).encode())
        for key in sorted(state["weights"]):
            h.update(key.encode())
            h.update(state["weights"][key].detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    # --------------------------------------------------------------- helpers
    def _check_fitted(self) -> None:
        if not self.is_fitted():
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit() first")

    #: Inputs a model reads when given but can do without (a missing modality encodes as its prior).
    optional_needs: ClassVar[frozenset[str]] = frozenset()

    def _check_needs(self, inputs: ModelInputs) -> None:
        for field in sorted(self.needs - self.optional_needs):
            if getattr(inputs, field) is None:
                raise BadInputError(None, f"model '{self.name}' needs '{field}' inputs, which were not given")


class TorchModel(Model):
    """A model trained by :func:`core.training.train`.

    Subclasses implement ``needs``, ``_fit_preprocessing(inputs) -> prep`` and
    ``_network() -> nn.Module`` (from ``self.config`` and ``self.prep_``).
    """

    variational = True
    #: Whether ``device="auto"`` trains on CUDA (see the measurements in :mod:`core.training.device`).
    cuda_pays_off: ClassVar[bool] = False
    #: Epochs when ``training.epochs`` is None.
    default_epochs: ClassVar[int] = 120
    #: Batch size on CUDA (at least this; None = ``training.batch_size``): a GPU is only busy with big batches.
    cuda_batch_size: ClassVar[int | None] = None

    # ---- to implement
    def _fit_preprocessing(self, inputs: ModelInputs) -> FeaturePrep | MelPrep | ClipPrep:
        raise NotImplementedError

    def _network(self) -> torch.nn.Module:
        raise NotImplementedError

    # ---- interface
    def is_fitted(self) -> bool:
        return getattr(self, "module_", None) is not None

    def training_device(self) -> str:
        """Where :meth:`fit` trains: ``device``, or for "auto" CUDA only where it pays off for this network.

        The one decision: ``fit`` trains here and the dashboard shows it, so the two cannot disagree.
        """
        return str(resolve_device(self.device, cuda_pays_off=self.cuda_pays_off))

    def _training_data(self, inputs: ModelInputs):
        """The training loop's batch source for ``inputs`` (the fitted preprocessing's)."""
        return self.prep_.training_data(inputs)

    def loss(self) -> VAELoss:
        """The loss this model is trained with (β-VAE = a β setting of the same loss)."""
        t = self.training
        if not self.variational:
            return VAELoss(beta=0.0)
        loss = t.loss()
        if loss.warmup_steps and t.steps_per_epoch:
            # scaled with the main stage's length, so a short run reaches the β asked for (run_warmup_steps)
            loss = replace(loss, warmup_steps=run_warmup_steps(loss.warmup_steps, self.main_epochs * t.steps_per_epoch))
        return loss

    @property
    def main_epochs(self) -> int:
        """Epochs of the main stage: ``training.epochs``, or the model's default."""
        return int(self.training.epochs if self.training.epochs is not None else self.default_epochs)

    @property
    def refine_epochs(self) -> int:
        """Epochs of the refinement stage after it (:class:`~core.training.config.TrainConfig`):
        ``training.refine_epochs``, cut to a third of the main stage in a short run (as the β warm-up is) but at
        least one (asked for, a refinement stays a refinement), and 0 for a network with nothing to refine
        (:meth:`refines`)."""
        asked = int(getattr(self.training, "refine_epochs", 0) or 0)
        return min(asked, max(1, self.main_epochs // 3)) if asked and self.refines() else 0

    @property
    def epochs(self) -> int:
        """The number of epochs ``fit`` trains: the main stage's and the refinement's."""
        return self.main_epochs + self.refine_epochs

    def refines(self) -> bool:
        """Whether this network has a refinement stage (its module's ``training_stage``)."""
        return False

    def fit(self, inputs: ModelInputs, *, callback: Any = None, stop: threading.Event | None = None,
            save_state: Callable[[dict], None] | None = None, resume_from: dict | None = None) -> "TorchModel":
        """Fit the preprocessing and the network on ``inputs``; returns ``self``.

        Parameters
        ----------
        callback : training callback (``on_batch`` / ``on_epoch`` / ``on_validation``, see
            :func:`core.training.train`).
        stop : a ``threading.Event``; when set, training ends after the current batch with the
            best weights so far.
        save_state : called with the ``train_state`` after every epoch (:mod:`core.checkpoint`
            uses it to write a resumable file).
        resume_from : a checkpoint dict with ``feature_params``, ``weights`` (the best so far) and
            ``train_state``: continue that run (``core.checkpoint.fit(..., resume=True)``).
        """
        self.validate()
        self._check_needs(inputs)
        if resume_from is None:
            self.prep_ = self._fit_preprocessing(inputs)
        else:
            self.prep_ = prep_from_state(resume_from["feature_params"])
        data = self._training_data(inputs)
        generator = torch.Generator().manual_seed(int(self.random_state))
        self.module_ = seeded_module(self._network, generator=generator)
        resume_state = None
        if resume_from is not None:
            resume_state = dict(resume_from["train_state"], best_weights=resume_from["weights"])
        device = torch.device(self.training_device())
        self.history_ = train(self.module_, self.loss(), data, self._loop_config(device),
                              random_state=int(self.random_state), device=device, callback=callback, stop=stop,
                              save_state=save_state, resume_state=resume_state)
        self._update_kl()
        return self

    def _loop_config(self, device: torch.device) -> TrainConfig:
        """The training config as the loop runs it on ``device``: the epochs filled in (the model's default
        for None), the refinement's as :attr:`refine_epochs` says and, on CUDA, the batch raised to ``cuda_batch_size``; every other field as given."""
        batch_size = self.training.batch_size
        if device.type == "cuda" and self.cuda_batch_size:
            batch_size = max(batch_size, int(self.cuda_batch_size))
        return replace(self.training, epochs=self.main_epochs, refine_epochs=self.refine_epochs, batch_size=batch_size)

    def _update_kl(self) -> None:
        history = getattr(self, "history_", [])
        best = [h for h in history if h.get("best")]
        rec = best[-1] if best else (history[-1] if history else None)
        if self.variational and rec is not None and rec.get("val_kl_per_dim"):
            self.kl_per_dim_ = np.asarray(rec["val_kl_per_dim"], dtype=np.float64)
        else:
            self.kl_per_dim_ = None

    def inference_threads(self):
        """A context with the torch CPU threads for running the network (training's rule,
        :func:`core.training.default_threads`: one for a small network, else one per physical core). Encoding
        the demo corpus with the ConvVAE took 0.6 s on one thread and 3-13 s on two while another
        process kept a core busy: the threads wait for each other at every layer."""
        return torch_threads(default_threads(self.module_))

    @torch.no_grad()
    def encode(self, inputs: ModelInputs) -> np.ndarray:
        """Latent means, (n, latent_dim) float32."""
        self._check_fitted()
        self._check_needs(inputs)
        data = self.prep_.tensors(inputs)
        self.module_.eval()
        with self.inference_threads():
            parts = [self.module_.encode_mean({k: v[s:s + ENCODE_CHUNK] for k, v in data.items()})
                     for s in range(0, len(inputs), ENCODE_CHUNK)]
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
        device = next(self.module_.parameters()).device
        with self.inference_threads():
            decoded = self.module_.decode(torch.from_numpy(z).to(device))
        result = self.prep_.outputs({k: v.cpu() for k, v in decoded.items()})
        if track_ids is not None:
            result.track_ids = list(track_ids)
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
                "feature_params": self.prep_.state()}

    def set_state(self, weights: dict, feature_params: dict) -> None:
        self.prep_ = prep_from_state(feature_params)
        module = empty_module(self._network)
        module.load_state_dict(weights)
        self.module_ = module.eval()
        self._update_kl()


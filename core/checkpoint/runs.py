"""Training into a checkpoint file: fit and save every epoch, resume a killed run exactly where it stopped, and give
a finished run the refinement stage it did not have."""

from __future__ import annotations

import dataclasses
import math
import threading
from pathlib import Path
from typing import Any

import torch

from core.errors import BadInputError, CheckpointError
from core.models.preprocessing import prep_from_state
from core.inputs import ModelInputs
from core.models import Model
from core.models.configs import config_to_dict
from core.checkpoint.format import DATA_KEY, read, save, training_data, unfitted
from core.training.init import seeded_module
from core.training.loop import TRAIN_STATE_VERSION


def fit(model: Model, inputs: ModelInputs, path: str | Path, *, corpus: Any = None, callback: Any = None,
        stop: threading.Event | None = None, monitoring: dict | None = None) -> Model:
    """Fit ``model`` on ``inputs``, writing ``path`` at the end of every epoch.

    While the run is unfinished the file holds the training state (so :func:`resume`
    continues it after Ctrl-C or a killed process); once training has ended (all epochs,
    or early stopping) it is rewritten without it. Models without training epochs
    (pca, raw) are fitted and saved once. Every file records what the model was trained on
    (:func:`~core.checkpoint.format.training_data`): pass the ``corpus`` the inputs were built
    from so that the record names its sources and fingerprint (without it, only the track count
    and the inputs' content hash are known).
    """
    data = training_data(inputs, corpus)
    if model.training is None:
        model.fit(inputs, callback=callback, stop=stop)
        save(model, path, monitoring=monitoring, data=data)
        return model
    return _fit_into(model, inputs, Path(path), callback=callback, stop=stop, monitoring=monitoring,
                     resume_from=None, data=data)


def resume(path: str | Path, inputs: ModelInputs, *, expect_model: str | None = None, epochs: int | None = None,
           callback: Any = None, stop: threading.Event | None = None) -> Model:
    """Continue the unfinished run saved in ``path`` on the same ``inputs`` (up to ``epochs`` in total).

    The saved model, training and monitoring settings are kept (``epochs`` may raise the
    total). Refused, naming the file, when the run already finished or when ``inputs`` are
    not the data it was trained on (count and content hash).
    """
    path = Path(path)
    if not path.exists():
        raise BadInputError(path, "nothing to resume: the state file does not exist")
    saved = read(path, expect_model=expect_model)
    state = saved.get("train_state")
    if state is None:
        raise CheckpointError(path, "has no training state to resume (its training already finished)")
    if state.get("n_samples") != len(inputs):
        raise CheckpointError(path, f"its run was trained on {state.get('n_samples')} tracks, the data has "
                                    f"{len(inputs)}: resume needs the same data")
    if state.get("data_hash") != inputs.content_hash():
        raise CheckpointError(path, f"its run was trained on other data (content hash {state.get('data_hash')}, "
                                    f"this data {inputs.content_hash()}): the features, spectrograms or lyrics "
                                    "differ; resume needs the same data")
    model = unfitted(saved, path)
    if model.training is None:
        raise CheckpointError(path, f"holds a '{model.name}' model, which has no training run to resume")
    if epochs is not None:
        model.training = type(model.training)(**{**config_to_dict(model.training), "epochs": int(epochs)})
    _check_resumable(model, saved, path)
    # the same data (checked above), so the run keeps the record it started with
    data = saved.get(DATA_KEY) or training_data(inputs)
    return _fit_into(model, inputs, path, callback=callback, stop=stop, monitoring=saved["monitor_config"],
                     resume_from=saved, data=data)


def refine(source: str | Path, inputs: ModelInputs, path: str | Path, *, refine_epochs: int | None = None,
           callback: Any = None, stop: threading.Event | None = None,
           planned: tuple[Model, dict] | None = None) -> Model:
    """Give the finished run saved in ``source`` the refinement stage, writing the result to ``path``
    (which may be ``source``: it is read first and written atomically).

    The saved weights are the main stage and stay as they are: a spectrogram VAE without a temporal latent gains
    one (the model's default ``temporal_dim``), and only the refinement trains (``refine_epochs``, by default the
    model's), so the latents that are clustered are exactly the file's. Its inputs must be the data of the main
    stage (checked by content where the file recorded it). Like any run, it writes ``path`` every epoch and a
    killed refinement continues with :func:`resume`. ``planned``: what :func:`refinement` returned for these
    arguments (a caller that read it to size a progress bar), so that the file is not read and checked twice.
    """
    model, start = planned or refinement(source, inputs, refine_epochs=refine_epochs)
    data = start.get(DATA_KEY) or training_data(inputs)
    return _fit_into(model, inputs, Path(path), callback=callback, stop=stop, monitoring=start["monitor_config"],
                     resume_from=start, data=data)


def refinement(source: str | Path, inputs: ModelInputs, *, refine_epochs: int | None = None) -> tuple[Model, dict]:
    """What :func:`refine` runs: the model with its refinement stage (``model.epochs`` counts it) and the saved run
    as a state that continues into it. Refused, naming the file, for a model without an audio decoder, an
    unfinished or already refined run, or other data."""
    source = Path(source)
    saved = read(source)
    old = unfitted(saved, source)
    if saved.get("train_state") is not None:
        raise CheckpointError(source, "its run is unfinished: finish it with --resume first")
    if any(h.get("stage") == "refine" for h in saved["history"]):
        raise CheckpointError(source, "its run already had its refinement")
    recorded = (saved.get(DATA_KEY) or {}).get("inputs_hash")
    if recorded is not None and recorded != inputs.content_hash():
        raise CheckpointError(source, f"was trained on other data (content hash {recorded}, this data "
                                      f"{inputs.content_hash()}): the refinement needs the data of its main stage")
    history = [{**h, "stage": "main"} for h in saved["history"]]
    cls = type(old)
    model = None
    if getattr(old.config, "temporal_dim", None) is not None:  # a spectrogram network: it can hold the latent
        n = cls().training.refine_epochs if refine_epochs is None else int(refine_epochs)
        config = dataclasses.replace(old.config, temporal_dim=old.config.temporal_dim or cls().config.temporal_dim)
        model = cls(config, dataclasses.replace(old.training, epochs=len(history), refine_epochs=n),
                    random_state=old.random_state)
    if model is None or not model.refines():
        raise CheckpointError(source, f"holds a '{old.name}' model, which has no temporal latent to refine (a "
                                      "spectrogram VAE with audio has one)")
    if not model.refine_epochs:
        raise CheckpointError(source, f"nothing to refine: {n} refinement epochs (at most a third of the "
                                      f"{len(history)} it trained, and at least 1)")
    model.prep_ = prep_from_state(saved["feature_params"])
    module = seeded_module(model._network, generator=torch.Generator().manual_seed(int(model.random_state)))
    missing, unexpected = module.load_state_dict(saved["weights"], strict=False)
    if unexpected or any(".temporal." not in f".{k}" for k in missing):
        raise CheckpointError(source, "its weights do not fit the network with a temporal latent "
                                      f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    module.training_stage("main")  # its way into the decoder starts at zero: the refinement starts from the file
    weights = {k: v.detach().clone() for k, v in module.state_dict().items()}
    state = {"version": TRAIN_STATE_VERSION, "epoch": len(history), "epochs": model.epochs, "n_samples": len(inputs),
             "random_state": int(model.random_state), "optimizer": None, "history": history, "last_weights": weights,
             "best_val": math.inf, "best_epoch": len(history), "bad_epochs": 0}
    return model, {**saved, "weights": weights, "train_state": state}


def _check_resumable(model: Model, saved: dict, path: Path) -> None:
    """Load the saved weights, last weights and optimizer state into a fresh network and optimizer, as
    training would, so that a crafted or damaged state is refused with a message before any epoch runs."""
    state = saved["train_state"]
    try:
        probe = unfitted(saved, path)
        probe.set_state(saved["weights"], saved["feature_params"])
        probe.module_.load_state_dict(state["last_weights"])
        optimizer = torch.optim.Adam(probe.module_.parameters(), lr=1e-3)
        optimizer.load_state_dict(state["optimizer"])
        for group in optimizer.param_groups:
            for param in group["params"]:
                for name, value in optimizer.state.get(param, {}).items():
                    if name != "step" and isinstance(value, torch.Tensor) and value.shape != param.shape:
                        raise ValueError(f"optimizer state {name} has shape {tuple(value.shape)}, "
                                         f"its weight {tuple(param.shape)}")
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise CheckpointError(path, f"its training state cannot be resumed ({first})") from None
    if model.epochs <= state["epoch"] < state["epochs"]:
        raise CheckpointError(path, f"--epochs {model.epochs} is not more than the {state['epoch']} epochs "
                                    "already done: nothing to resume")


def _fit_into(model, inputs: ModelInputs, path: Path, *, callback, stop, monitoring, resume_from,
              data: dict) -> Model:
    data_hash = inputs.content_hash()
    finished = {"done": False}

    def save_state(train_state: dict) -> None:
        ts = dict(train_state, data_hash=data_hash)
        finished["done"] = bool(ts.pop("finished"))
        save(model, path, weights=ts.pop("best_weights"), history=ts["history"], train_state=ts,
             monitoring=monitoring, data=data)

    model.fit(inputs, callback=callback, stop=stop, save_state=save_state, resume_from=resume_from)
    if finished["done"]:
        save(model, path, monitoring=monitoring, data=data)
    return model



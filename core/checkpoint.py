"""The ONE checkpoint format (model I/O), loaded safely, and resumable training into a file.

A checkpoint is a ``torch.save`` of a dict holding only tensors and plain
Python values, so it loads with ``torch.load(weights_only=True)``: a file that
would run code when unpickled is refused. Keys (format version 2)::

    format_version  int (FORMAT_VERSION)
    model           registry name ("basic", "conv", "beta", "ae", "pca", "raw")
    model_config    the architecture dataclass as a dict      } saved side by side,
    train_config    the training dataclass as a dict, or None } nanoGPT style
    monitor_config  what was monitored during training (e.g. {"every": 5, "n_clusters": 8}), or None
    random_state    int, the estimator's seed
    weights         {name: tensor}: torch state_dict, or the arrays of pca
    feature_params  preprocessing: scaler mean/scale, LyricsTfidf state, MelParams dict, input sizes
    history         one dict per epoch (empty for pca / raw)
    train_state     optional, only while a run is unfinished: optimizer state, epoch, last weights,
                    early-stopping counters, the content hash of the training data (for ``resume``)
    songscape       the version of Songscape that wrote it
    checksum        sha256 of everything above (tensors by their bytes), checked on read

Writes go through :func:`core.io.atomic_write`, so a reader never sees a
half-written checkpoint, even when training is killed mid-save; stale temporary
files of killed saves are removed on the next save in that folder.

What :func:`read` refuses, each with a message naming the file: a missing file, a
folder, anything but a regular file (a FIFO or a device would block or never end),
an unreadable file, a file that is not a PyTorch file at all (it says what it looks
like: text, MP3, WAV...), a file that would run code, a truncated file, a checksum
that does not match (the content was altered or damaged), and a file that loads but
does not have the structure written here (types of every field, the settings'
ranges, the history records, the training state). Files written before checksums
existed (no ``checksum`` key) are read after the same structure checks.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
import stat
import threading
import warnings
from pathlib import Path
from typing import Any

import torch

from core import __version__
from core.errors import BadInputError, CheckpointError
from core.inputs import ModelInputs
from core.io import atomic_write, clean_stale_temps
from core.models import MODELS, Model
from core.models.configs import config_from_dict, config_to_dict
from core.ranges import check_settings
from core.training import TRAIN_STATE_VERSION

#: Version of the on-disk format. Files with another version are refused.
FORMAT_VERSION = 2
#: Keys every checkpoint has.
REQUIRED_KEYS = ("format_version", "model", "model_config", "train_config", "monitor_config", "random_state",
                 "weights", "feature_params", "history")


def save(model: Model, path: str | Path, *, weights: dict | None = None, history: list | None = None,
         train_state: dict | None = None, monitoring: dict | None = None) -> Path:
    """Write a fitted ``model`` to ``path`` atomically and return the path.

    ``weights`` / ``history`` replace the model's own in the file (while training, the loop
    saves the best weights while the module holds the latest ones); ``train_state`` makes the
    file resumable; ``monitoring`` records the monitoring settings of the run.
    """
    state = model.get_state()
    payload: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model": model.name,
        "model_config": config_to_dict(model.config),
        "train_config": config_to_dict(model.training),
        "monitor_config": None if monitoring is None else dict(monitoring),
        "random_state": int(model.random_state),
        "weights": _cpu(weights if weights is not None else state["weights"]),
        "feature_params": state["feature_params"],
        "history": list(history if history is not None else getattr(model, "history_", [])),
        "songscape": __version__,
    }
    if train_state is not None:
        payload["train_state"] = _cpu(train_state)
    payload["checksum"] = content_checksum(payload)
    path = Path(path)
    clean_stale_temps(path.parent)  # leftovers of saves killed more than an hour ago
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path = atomic_write(path, buffer.getvalue())
    os.chmod(path, 0o644)  # the temporary file is private; a checkpoint is an ordinary shared file
    return path


def _cpu(value: Any) -> Any:
    """``value`` with every tensor moved to the CPU (nested dicts and lists)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu(v) for v in value)
    return value


def content_checksum(payload: dict) -> str:
    """sha256 of a checkpoint dict's content (every key but ``checksum``; tensors by dtype, shape and bytes)."""
    h = hashlib.sha256()
    _digest({k: v for k, v in payload.items() if k != "checksum"}, h)
    return h.hexdigest()


def _digest(value: Any, h) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, dict):
        h.update(f"D{len(value)}".encode())
        for key in sorted(value, key=repr):
            h.update(f"K{key!r}".encode())
            _digest(value[key], h)
    elif isinstance(value, (list, tuple)):
        h.update(f"{'L' if isinstance(value, list) else 'U'}{len(value)}".encode())
        for v in value:
            _digest(v, h)
    else:
        h.update(f"V{type(value).__name__}:{value!r};".encode())


#: First bytes of common files that are not checkpoints -> what they are (for the message).
_SIGNATURES = ((b"ID3", "an MP3 audio file"), (b"\xff\xfb", "an MP3 audio file"), (b"\xff\xf3", "an MP3 audio file"),
               (b"\xff\xf2", "an MP3 audio file"), (b"RIFF", "a WAV (RIFF) file"), (b"fLaC", "a FLAC audio file"),
               (b"OggS", "an Ogg audio file"), (b"\x93NUMPY", "a NumPy .npy file"), (b"\x89HDF", "an HDF5 file"),
               (b"\x1f\x8b", "a gzip file"))


def _looks_like(head: bytes) -> str:
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data of an unknown kind"
    return "a text file" if b"\0" not in head else "binary data of an unknown kind"


def read(path: str | Path, *, expect_model: str | None = None) -> dict:
    """The checkpoint dict in ``path``, checked for format, structure, checksum and model name (weights not
    applied).

    Raises :class:`CheckpointError` naming the file when it is missing, not a regular file, unreadable, not
    a checkpoint (saying what it looks like), truncated, unsafe, altered (checksum), malformed, of another
    format version or of another model.
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CheckpointError(path, "checkpoint file does not exist") from None
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    if stat.S_ISDIR(st.st_mode):
        raise CheckpointError(path, "is a folder, not a checkpoint file")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise CheckpointError(path, f"is {kind}, not a checkpoint file: refused")
    if st.st_size == 0:
        raise CheckpointError(path, "is empty (0 bytes)")
    try:
        head = _head(path)
    except OSError as exc:
        reason = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or type(exc).__name__)
        raise CheckpointError(path, f"cannot be read ({reason})") from None
    is_zip, is_pickle = head.startswith(b"PK\x03\x04"), head.startswith(b"\x80")
    if not (is_zip or is_pickle):
        raise CheckpointError(path, f"is not a Songscape checkpoint: it looks like {_looks_like(head)}, "
                                    "not a PyTorch file")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing
            warnings.simplefilter("ignore", UserWarning)
            ckpt = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError:
        # weights_only refused what the pickle inside asks for: objects, functions, or opcodes that build them
        raise CheckpointError(path, "refused: it holds Python objects that could run code when loaded "
                                    "(a checkpoint may only hold tensors and plain values)") from None
    except Exception as exc:  # noqa: BLE001 - a damaged file can fail in many ways inside torch.load
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        if is_zip:  # a torch (zip) file that ends too early or is damaged
            raise CheckpointError(path, f"is truncated or corrupt ({first})") from None
        raise CheckpointError(path, f"is not a Songscape checkpoint (a damaged or foreign pickle: {first})") from None
    if not isinstance(ckpt, dict) or "format_version" not in ckpt:
        raise CheckpointError(path, "is not a Songscape checkpoint (no format_version)")
    version = ckpt["format_version"]
    if version != FORMAT_VERSION:
        name = ckpt.get("model") if isinstance(ckpt.get("model"), str) else "MODEL"
        raise CheckpointError(
            path, f"has checkpoint format version {version!r}; this Songscape reads version {FORMAT_VERSION} "
                  "(the format changed: model, training and monitoring settings are saved apart). Retrain it "
                  f"with `python -m core train --model {name} --data SOURCE --out {path}`")
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(path, f"is not a complete Songscape checkpoint (missing {missing})")
    if not isinstance(ckpt["model"], str) or ckpt["model"] not in MODELS:
        raise CheckpointError(path, f"holds unknown model {ckpt['model']!r}; known: {sorted(MODELS)}")
    if "checksum" in ckpt and ckpt["checksum"] != content_checksum(ckpt):
        raise CheckpointError(path, "is damaged or was altered: its checksum does not match its content")
    problem = structure_problem(ckpt)
    if problem:
        raise CheckpointError(path, f"is malformed: {problem}")
    if expect_model is not None and ckpt["model"] != expect_model:
        raise CheckpointError(path, f"holds a '{ckpt['model']}' model, expected '{expect_model}'")
    return ckpt


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _tensors(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(t, torch.Tensor) for k, t in value.items())


def _history_problem(history: Any) -> str | None:
    if not isinstance(history, list):
        return f"history must be a list of epoch records, got {type(history).__name__}"
    for i, rec in enumerate(history):
        where = f"history record {i + 1}"
        if not isinstance(rec, dict):
            return f"{where} is a {type(rec).__name__}, not a dict"
        if not _is_int(rec.get("epoch")) or rec["epoch"] != i + 1:
            return f"{where} has epoch {rec.get('epoch')!r}, expected {i + 1}"
        for key in ("loss", "recon", "kl", "val_loss", "val_recon", "val_kl", "beta", "lr", "capacity"):
            if key in rec and rec[key] is not None and not _is_number(rec[key]):
                return f"{where}: {key} is {rec[key]!r}, not a number"
        for key in ("loss", "val_loss"):
            if not _is_number(rec.get(key)):
                return f"{where}: {key} is missing or not a number"
        for key in ("kl_per_dim", "val_kl_per_dim"):
            if key in rec and not (isinstance(rec[key], list) and all(_is_number(v) for v in rec[key])):
                return f"{where}: {key} must be a list of numbers"
        if "best" in rec and not isinstance(rec["best"], bool):
            return f"{where}: best is {rec['best']!r}, not true/false"
        if "metrics" in rec and not (isinstance(rec["metrics"], dict)
                                     and all(v is None or _is_number(v) for v in rec["metrics"].values())):
            return f"{where}: metrics must map names to numbers"
    return None


def structure_problem(ckpt: dict) -> str | None:
    """What is wrong with the structure of a loaded checkpoint dict, or None: the type of every field,
    the settings' ranges (:mod:`core.ranges`), the history records and, when present, the training state."""
    for key in ("model_config", "feature_params"):
        if not isinstance(ckpt[key], dict):
            return f"{key} must be a dict, got {type(ckpt[key]).__name__}"
    for key in ("train_config", "monitor_config"):
        if ckpt[key] is not None and not isinstance(ckpt[key], dict):
            return f"{key} must be a dict or None, got {type(ckpt[key]).__name__}"
    if not _is_int(ckpt["random_state"]):
        return f"random_state must be a whole number, got {ckpt['random_state']!r}"
    if not _tensors(ckpt["weights"]):
        return "weights must map names to tensors"
    try:
        check_settings({**ckpt["model_config"], **(ckpt["train_config"] or {}), "random_state": ckpt["random_state"]})
        monitor = ckpt["monitor_config"] or {}
        check_settings({"metrics_every": monitor.get("every"), "n_clusters": monitor.get("n_clusters")})
    except ValueError as exc:
        return f"setting {exc}"
    problem = _history_problem(ckpt["history"])
    if problem:
        return problem
    state = ckpt.get("train_state")
    if state is None:
        return None
    if not isinstance(state, dict):
        return f"train_state must be a dict, got {type(state).__name__}"
    if state.get("version") != TRAIN_STATE_VERSION:
        return f"train_state version {state.get('version')!r}, this Songscape resumes version {TRAIN_STATE_VERSION}"
    for key in ("epoch", "epochs", "n_samples", "random_state", "best_epoch", "bad_epochs"):
        if not _is_int(state.get(key)) or state[key] < 0:
            return f"train_state.{key} must be a whole number >= 0, got {state.get(key)!r}"
    if state["n_samples"] < 2 or state["epochs"] < 1:
        return f"train_state has {state['n_samples']} samples and {state['epochs']} epochs"
    if state["epoch"] > state["epochs"] or state["best_epoch"] > state["epoch"] or state["bad_epochs"] > state["epoch"]:
        return (f"train_state counters do not add up (epoch {state['epoch']} of {state['epochs']}, best epoch "
                f"{state['best_epoch']}, {state['bad_epochs']} epochs without improvement)")
    if state["random_state"] != ckpt["random_state"]:
        return "train_state.random_state differs from the checkpoint's random_state"
    if not _is_number(state.get("best_val")) or math.isnan(state["best_val"]):
        return f"train_state.best_val must be a number, got {state.get('best_val')!r}"
    if not isinstance(state.get("data_hash"), str):
        return "train_state.data_hash is missing"
    if not isinstance(state.get("history"), list) or len(state["history"]) != state["epoch"]:
        return "train_state.history must hold one record per epoch done"
    problem = _history_problem(state["history"])
    if problem:
        return f"train_state.{problem}"
    last = state.get("last_weights")
    if not _tensors(last) or {k: tuple(v.shape) for k, v in last.items()} != \
            {k: tuple(v.shape) for k, v in ckpt["weights"].items()}:
        return "train_state.last_weights must hold the same tensors (names and shapes) as weights"
    opt = state.get("optimizer")
    if not (isinstance(opt, dict) and isinstance(opt.get("state"), dict) and isinstance(opt.get("param_groups"), list)
            and all(isinstance(g, dict) and isinstance(g.get("params"), list) for g in opt["param_groups"])):
        return "train_state.optimizer is not an optimizer state (state + param_groups)"
    return None


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(4)


def unfitted(ckpt: dict, path: str | Path | None = None) -> Model:
    """A new, unfitted estimator with the parameters saved in the checkpoint dict ``ckpt``."""
    cls = MODELS[ckpt["model"]]
    try:
        training = None
        if cls.training_class is not None:
            training = config_from_dict(cls.training_class, ckpt["train_config"])
        model = cls(config_from_dict(cls.config_class, ckpt["model_config"]), training,
                    random_state=int(ckpt["random_state"]))
        model.validate()
        return model
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(path, f"its settings do not fit a '{ckpt['model']}' model ({exc})") from None


def load(path: str | Path, *, expect_model: str | None = None, expect: dict | None = None) -> Model:
    """Load the model saved in ``path``.

    Parameters
    ----------
    expect_model : refuse a checkpoint of another model.
    expect : input sizes the data has, e.g. ``{"n_features": 40}``, ``{"mel_shape": [128, 128]}``
        or ``{"lyrics_dim": 500}``; refuse the checkpoint when its model expects others.

    Raises :class:`CheckpointError` (naming the file and what does not fit).
    """
    ckpt = read(path, expect_model=expect_model)
    model = unfitted(ckpt, path)
    try:
        model.history_ = list(ckpt["history"])
        model.set_state(ckpt["weights"], ckpt["feature_params"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = str(exc).splitlines()[0][:200]
        raise CheckpointError(path, f"its weights or parameters do not fit a '{ckpt['model']}' model ({first})") from None
    if expect:
        check_expect(model, expect, path)
    return model


def check_expect(model: Model, expect: dict, path: str | Path | None = None) -> None:
    """Raise :class:`CheckpointError` when ``model.input_spec()`` disagrees with ``expect``."""
    spec = model.input_spec()
    for key, value in expect.items():
        if value is None:
            continue
        if key not in spec:
            raise CheckpointError(path, f"'{model.name}' model has no '{key}' input (it uses {sorted(spec)})")
        have = list(spec[key]) if isinstance(spec[key], (tuple, list)) else spec[key]
        want = list(value) if isinstance(value, (tuple, list)) else value
        if have != want:
            raise CheckpointError(path, f"was trained with {key}={have}, the data has {key}={want}")


# ---------------------------------------------------------------- training into a file
def fit(model: Model, inputs: ModelInputs, path: str | Path, *, callback: Any = None,
        stop: threading.Event | None = None, monitoring: dict | None = None) -> Model:
    """Fit ``model`` on ``inputs``, writing ``path`` at the end of every epoch.

    While the run is unfinished the file holds the training state (so :func:`resume`
    continues it after Ctrl-C or a killed process); once training has ended (all epochs,
    or early stopping) it is rewritten without it. Models without training epochs
    (pca, raw) are fitted and saved once.
    """
    if model.training is None:
        model.fit(inputs, callback=callback, stop=stop)
        save(model, path, monitoring=monitoring)
        return model
    return _fit_into(model, inputs, Path(path), callback=callback, stop=stop, monitoring=monitoring,
                     resume_from=None)


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
    return _fit_into(model, inputs, path, callback=callback, stop=stop, monitoring=saved["monitor_config"],
                     resume_from=saved)


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


def _fit_into(model, inputs: ModelInputs, path: Path, *, callback, stop, monitoring, resume_from) -> Model:
    data_hash = inputs.content_hash()
    finished = {"done": False}

    def save_state(train_state: dict) -> None:
        ts = dict(train_state, data_hash=data_hash)
        finished["done"] = bool(ts.pop("finished"))
        save(model, path, weights=ts.pop("best_weights"), history=ts["history"], train_state=ts,
             monitoring=monitoring)

    model.fit(inputs, callback=callback, stop=stop, save_state=save_state, resume_from=resume_from)
    if finished["done"]:
        save(model, path, monitoring=monitoring)
    return model


def describe(path: str | Path) -> dict:
    """A summary of a checkpoint: model, its settings, feature parameters and training history."""
    ckpt = read(path)
    history = ckpt["history"]
    fp = dict(ckpt["feature_params"])
    summary_fp = {}
    for key, value in fp.items():
        if key in ("scaler", "summary_scaler"):
            summary_fp[key] = f"mean/scale of {len(value['mean'])} columns"
        elif key == "lyrics" and isinstance(value, dict):
            summary_fp[key] = f"LyricsTfidf, vocabulary {fp.get('lyrics_dim', '?')}"
        elif key == "feature_names" and isinstance(value, list) and len(value) > 6:
            summary_fp[key] = value[:3] + ["..."] + value[-2:]
        else:
            summary_fp[key] = value
    info: dict[str, Any] = {
        "path": str(path),
        "model": ckpt["model"],
        "format_version": ckpt["format_version"],
        "songscape": ckpt.get("songscape", "?"),
        "model_config": ckpt["model_config"],
        "train_config": ckpt["train_config"],
        "monitor_config": ckpt["monitor_config"],
        "random_state": ckpt["random_state"],
        "feature_params": summary_fp,
        "n_weights": int(sum(t.numel() for t in ckpt["weights"].values() if isinstance(t, torch.Tensor))),
        "epochs_trained": len(history),
        "resumable": ckpt.get("train_state") is not None,
    }
    if history:
        flagged = [h for h in history if h.get("best")]
        valid = [h for h in history if h.get("val_loss") is not None]
        chosen = flagged[-1] if flagged else (min(valid, key=lambda h: h["val_loss"]) if valid else history[-1])
        last = history[-1]
        info["history"] = {
            "epochs": len(history),
            "best_epoch": chosen.get("epoch"),
            "best_val_loss": chosen.get("val_loss"),
            "final_loss": last.get("loss"),
            "final_val_loss": last.get("val_loss"),
            "final_kl_per_dim": last.get("val_kl_per_dim") or last.get("kl_per_dim"),
        }
    return info

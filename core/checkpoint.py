"""The ONE checkpoint format, loaded safely.

A checkpoint is a ``torch.save`` of a dict holding only tensors and plain
Python values, so it loads with ``torch.load(weights_only=True)``: a file that
would run code when unpickled is refused. Keys::

    format_version  int (FORMAT_VERSION)
    model           registry name ("basic", "conv", "beta", "ae", "pca", "raw")
    config          the model's config dataclass as a dict
    weights         {name: tensor}: torch state_dict, or the arrays of pca / raw
    feature_params  preprocessing: scaler mean/scale, LyricsTfidf state, MelParams dict,
                    feature names, input sizes
    history         one dict per epoch (empty for pca / raw)
    train_state     optional, only while a run is unfinished: optimizer state, epoch,
                    last weights, early-stopping counters, RNG state (for ``resume``)
    songscape       the version of Songscape that wrote it

Writes are atomic (temporary file + ``os.replace``), so a reader never sees a
half-written checkpoint, even when training is killed mid-save.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from core.errors import CheckpointError

#: Version of the on-disk format. Files with another version are refused.
FORMAT_VERSION = 1
#: Keys every checkpoint has.
REQUIRED_KEYS = ("format_version", "model", "config", "weights", "feature_params", "history")


def save(model, path: str | Path, *, weights: dict | None = None, train_state: dict | None = None) -> Path:
    """Write a fitted ``model`` to ``path`` atomically and return the path.

    ``weights`` replaces the model's current weights in the file (the training
    loop saves the best weights while the module holds the latest ones);
    ``train_state`` makes the file resumable.
    """
    from core import __version__
    from core.models.base import config_to_dict

    path = Path(path)
    state = model.get_state()
    payload: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model": model.name,
        "config": config_to_dict(model.config),
        "weights": {k: v.detach().cpu() for k, v in (weights if weights is not None else state["weights"]).items()},
        "feature_params": state["feature_params"],
        "history": list(model.history_),
        "songscape": __version__,
    }
    if train_state is not None:
        payload["train_state"] = train_state
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a checkpoint is an ordinary shared file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read(path: str | Path, *, expect_model: str | None = None) -> dict:
    """The checkpoint dict in ``path``, checked for format and model name (weights not applied).

    Raises :class:`CheckpointError` naming the file when it is missing, not a
    checkpoint, truncated, unsafe, of another format version or of another model.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(path, "checkpoint file does not exist")
    if path.is_dir():
        raise CheckpointError(path, "is a folder, not a checkpoint file")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing
            warnings.simplefilter("ignore", UserWarning)
            ckpt = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        text = str(exc)
        head = _head(path)
        if "Unsupported global" in text or head.startswith(b"\x80"):  # torch file or raw pickle with objects
            raise CheckpointError(path, "refused: it holds Python objects that could run code when loaded "
                                        "(a checkpoint may only hold tensors and plain values)") from None
        raise CheckpointError(path, "is not a Songscape checkpoint (not a torch file)") from None
    except Exception as exc:  # noqa: BLE001 - a damaged file can fail in many ways inside torch.load
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        if path.stat().st_size == 0:
            raise CheckpointError(path, "is empty (0 bytes)") from None
        if _head(path).startswith(b"PK\x03\x04"):  # a torch (zip) file that ends too early or is damaged
            raise CheckpointError(path, f"is truncated or corrupt ({first})") from None
        raise CheckpointError(path, f"is not a Songscape checkpoint (unreadable: {first})") from None
    if not isinstance(ckpt, dict) or "format_version" not in ckpt:
        raise CheckpointError(path, "is not a Songscape checkpoint (no format_version)")
    version = ckpt["format_version"]
    if version != FORMAT_VERSION:
        raise CheckpointError(path, f"has checkpoint format version {version!r}; this Songscape reads "
                                    f"version {FORMAT_VERSION}")
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(path, f"is not a complete Songscape checkpoint (missing {missing})")
    from core.models import MODELS

    if ckpt["model"] not in MODELS:
        raise CheckpointError(path, f"holds unknown model {ckpt['model']!r}; known: {sorted(MODELS)}")
    if expect_model is not None and ckpt["model"] != expect_model:
        raise CheckpointError(path, f"holds a '{ckpt['model']}' model, expected '{expect_model}'")
    return ckpt


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(4)


def load(path: str | Path, *, expect_model: str | None = None, expect: dict | None = None):
    """Load the model saved in ``path``.

    Parameters
    ----------
    expect_model : refuse a checkpoint of another model.
    expect : input sizes the data has, e.g. ``{"n_features": 40}``, ``{"mel_shape": [128, 128]}``
        or ``{"lyrics_dim": 500}``; refuse the checkpoint when its model expects others.

    Raises :class:`CheckpointError` (naming the file and what does not fit).
    """
    from core.models import create
    from core.models.base import config_from_dict

    ckpt = read(path, expect_model=expect_model)
    from core.models import MODELS

    cls = MODELS[ckpt["model"]]
    try:
        config = config_from_dict(cls.config_class, ckpt["config"])
        model = create(ckpt["model"], config=config)
        model.history_ = list(ckpt["history"])
        model.set_state(ckpt["weights"], ckpt["feature_params"])
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = str(exc).splitlines()[0][:200]
        raise CheckpointError(path, f"its weights or parameters do not fit a '{ckpt['model']}' model ({first})") from None
    if expect:
        check_expect(model, expect, path)
    return model


def check_expect(model, expect: dict, path: str | Path | None = None) -> None:
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


def describe(path: str | Path) -> dict:
    """A summary of a checkpoint: model, config, feature parameters and training history."""
    ckpt = read(path)
    history = ckpt["history"]
    fp = dict(ckpt["feature_params"])
    summary_fp = {}
    for key, value in fp.items():
        if key == "scaler":
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
        "config": ckpt["config"],
        "feature_params": summary_fp,
        "n_weights": int(sum(t.numel() for t in ckpt["weights"].values() if isinstance(t, torch.Tensor))),
        "epochs_trained": len(history),
        "resumable": ckpt.get("train_state") is not None,
    }
    if history:
        valid = [h for h in history if h.get("val_loss") is not None]
        best = min(valid, key=lambda h: h["val_loss"]) if valid else history[-1]
        best_flagged = [h for h in history if h.get("best")]
        chosen = best_flagged[-1] if best_flagged else best
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

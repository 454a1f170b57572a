"""The checkpoint format itself: write a model atomically, read it safely, load and describe it.

A checkpoint is a ``torch.save`` of a dict holding only tensors and plain
Python values, so it loads with ``torch.load(weights_only=True)``: a file that
would run code when unpickled is refused. Keys (format version 4; version 3 = the spectrogram VAEs
on whole-clip crops, version 4 = their track-level latent)::

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
    training_data   optional, what the model was trained on (:func:`training_data`): the source specs,
                    the number of tracks, the corpus fingerprint and the content hash of the inputs.
                    Files written before it was recorded simply lack it ("not recorded"); it is
                    optional rather than a new format version so that those files keep loading
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

import io
import os
import pickle
import stat
import warnings
from pathlib import Path
from typing import Any

import torch

from core import __version__
from core.errors import CheckpointError, looks_like
from core.io import atomic_write, clean_stale_temps
from core.models import MODELS, Model
from core.models.configs import config_from_dict, config_to_dict
from core.models.losses import normalised_beta
from core.checkpoint.integrity import _cpu, content_checksum, structure_problem


#: Version of the on-disk format. Files with another version are refused.
#: 3: the spectrogram VAEs train on whole-clip crops (new network, preprocessing and training settings).
FORMAT_VERSION = 4
#: Why the format last changed, for the message that refuses an older file.
FORMAT_CHANGE = ("version 4: the ConvVAE / Beta-VAE have a track-level latent shared by several crops of a "
                 "track, next to a per-crop latent")
#: Keys every checkpoint has.
REQUIRED_KEYS = ("format_version", "model", "model_config", "train_config", "monitor_config", "random_state",
                 "weights", "feature_params", "history")
#: The optional key that says what the model was trained on.
DATA_KEY = "training_data"
#: What :func:`data_summary` says for a file without :data:`DATA_KEY`.
NOT_RECORDED = "not recorded"


def training_data(inputs, corpus=None) -> dict:
    """What a model trained on ``inputs`` saw, as a checkpoint records it.

    ``sources``: the source specs of ``corpus`` (``Corpus.sources``; empty without a corpus);
    ``n_tracks``: the tracks trained on (``len(inputs)``: tracks without usable inputs are left out);
    ``fingerprint``: ``corpus.fingerprint()`` of the corpus as loaded (None without a corpus), the
    same hash the dashboard computes for its current corpus, so the two can be compared;
    ``inputs_hash``: ``inputs.content_hash()``, the arrays themselves (what ``resume`` checks);
    ``source_fingerprints``: with several sources, each one's fingerprint as it loads on its own
    (``Corpus.source_fingerprints``), so that a collection that is one of them is known as training data.
    """
    record = {
        "sources": [str(s) for s in getattr(corpus, "sources", ())],
        "n_tracks": int(len(inputs)),
        "fingerprint": None if corpus is None else str(corpus.fingerprint()),
        "inputs_hash": str(inputs.content_hash()),
    }
    if corpus is not None and len(corpus.parts) > 1:
        record["source_fingerprints"] = [str(f) for f in corpus.source_fingerprints()]
    return record


def trained_on(record: dict | None, fingerprint: str) -> str | None:
    """How the corpus of ``fingerprint`` stands to a :func:`training_data` record: ``"this corpus"``, ``"one of
    its sources"`` (a model trained on several), ``"other data"``, or None when nothing was recorded."""
    if not record or not record.get("fingerprint"):
        return None
    if record["fingerprint"] == fingerprint:
        return "this corpus"
    return "one of its sources" if fingerprint in (record.get("source_fingerprints") or ()) else "other data"


def data_summary(record: dict | None, *, fingerprint: str | None = None) -> str:
    """One line on a :func:`training_data` record: sources, track count and fingerprint, or ``"not recorded"``.

    With ``fingerprint`` (another corpus's), the line starts with whether the model was trained on that
    corpus ("this corpus") or on other data ("other data").
    """
    if not record:
        return NOT_RECORDED
    sources = " + ".join(record.get("sources") or []) or "sources not recorded"
    own = record.get("fingerprint")
    text = f"{sources}, {record.get('n_tracks')} tracks" + (f" (fingerprint {own})" if own else "")
    said = None if fingerprint is None else trained_on(record, fingerprint)
    return text if said is None else f"{said}: {text}"



def save(model: Model, path: str | Path, *, weights: dict | None = None, history: list | None = None,
         train_state: dict | None = None, monitoring: dict | None = None, data: dict | None = None) -> Path:
    """Write a fitted ``model`` to ``path`` atomically and return the path.

    ``weights`` / ``history`` replace the model's own in the file (while training, the loop
    saves the best weights while the module holds the latest ones); ``train_state`` makes the
    file resumable; ``monitoring`` records the monitoring settings of the run; ``data`` (a
    :func:`training_data` record) what it was trained on.
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
    if data is not None:
        payload[DATA_KEY] = dict(data)
    return _write(payload, path)


def _write(payload: dict, path: str | Path) -> Path:
    """``payload`` with its checksum, written to ``path`` atomically."""
    payload["checksum"] = content_checksum(payload)
    path = Path(path)
    clean_stale_temps(path.parent)  # leftovers of saves killed more than an hour ago
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path = atomic_write(path, buffer.getvalue())
    os.chmod(path, 0o644)  # the temporary file is private; a checkpoint is an ordinary shared file
    return path


def record_training_data(path: str | Path, data: dict) -> Path:
    """Add ``data`` (a :func:`training_data` record) to a checkpoint written before checkpoints kept one, or
    the fields an older record lacks (``source_fingerprints``) when ``data`` has the record's fingerprint.

    Everything else in the file is kept as it is (weights, history, settings, version): only the record and
    the checksum change, written atomically. Raises :class:`CheckpointError` naming the file when it
    cannot be read or already records its data (a record is never overwritten: it was made at training time).
    """
    ckpt = read(path)
    kept = ckpt.get(DATA_KEY)
    if kept is not None:
        # a record made at training time is never changed; a field it lacks (newer than the file) may be added,
        # from the same training data (the same corpus fingerprint)
        added = {k: v for k, v in data.items() if kept.get(k) is None}
        if not added or kept.get("fingerprint") != data.get("fingerprint"):
            raise CheckpointError(path, f"already records what it was trained on ({data_summary(kept)}); "
                                        "the record made when it was trained is kept")
        data = {**kept, **added}
    ckpt[DATA_KEY] = dict(data)
    return _write(ckpt, path)


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
        raise CheckpointError(path, f"is not a Songscape checkpoint: it looks like {looks_like(head)}, "
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
            path, f"has checkpoint format version {version!r}, an old format that this Songscape no longer reads "
                  f"(it reads version {FORMAT_VERSION}; {FORMAT_CHANGE}). Retrain it "
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
        model.training_data_ = ckpt.get(DATA_KEY)  # shown beside the model's scores; None = not recorded
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
def describe(path: str | Path) -> dict:
    """A summary of a checkpoint: model, its settings, what it was trained on (``training_data``, None when not
    recorded), feature parameters and training history."""
    ckpt = read(path)
    history = ckpt["history"]
    fp = dict(ckpt["feature_params"])
    summary_fp = {}
    for key, value in fp.items():
        if key in ("scaler", "summary_scaler"):
            summary_fp[key] = f"mean/scale of {len(value['mean'])} columns"
        elif key in ("band_mean", "band_std") and isinstance(value, list):
            summary_fp[key] = f"{len(value)} mel bands, {min(value):.1f} to {max(value):.1f} dB"
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
        "training_data": ckpt.get(DATA_KEY),
    }
    if history:
        flagged = [h for h in history if h.get("best")]
        valid = [h for h in history if h.get("val_loss") is not None]
        chosen = flagged[-1] if flagged else (min(valid, key=lambda h: h["val_loss"]) if valid else history[-1])
        last = history[-1]
        info["history"] = {
            "epochs": len(history),
            # epochs of the refinement stage (the temporal latent and the decoder only) among them
            "refine_epochs": sum(1 for h in history if h.get("stage") == "refine"),
            "best_epoch": chosen.get("epoch"),
            "best_val_loss": chosen.get("val_loss"),
            "final_loss": last.get("loss"),
            "final_val_loss": last.get("val_loss"),
            "final_kl_per_dim": last.get("val_kl_per_dim") or last.get("kl_per_dim"),
            "steps": last.get("step"),
            "active_units": last.get("active_units"),
            "warnings": [w for h in history for w in h.get("warnings", [])],
        }
    # ---- what the model really uses (a modality without data is off), and β normalised so that runs
    # of different latent and input sizes compare (β·d / (F·T), Higgins et al.)
    info.update(_vae_summary(ckpt))
    return info


def _vae_summary(ckpt: dict) -> dict:
    """``modality`` actually trained (from the preprocessing), ``beta`` and ``beta_normalised``."""
    out: dict[str, Any] = {}
    fp, mc, tc = ckpt["feature_params"], ckpt["model_config"] or {}, ckpt["train_config"] or {}
    if isinstance(fp, dict) and fp.get("modality"):
        out["modality"] = fp["modality"]
    if "beta" in tc:
        out["beta"] = tc["beta"]
        if fp.get("kind") == "clips" and fp.get("band_mean") is not None:
            # the audio block: track + crop + temporal channels
            d = int(mc.get("latent_dim", 0)) + int(mc.get("crop_latent_dim", 0)) + int(mc.get("temporal_dim", 0))
            out["beta_normalised"] = normalised_beta(tc["beta"], latent_dim=d,
                                                     n_elements=len(fp["band_mean"]) * int(fp.get("crop", 128)))
    return out

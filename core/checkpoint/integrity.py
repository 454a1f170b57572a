"""Integrity of a checkpoint: the checksum of its content, what a non-checkpoint file looks like, and
whether a loaded dict has the structure :mod:`core.checkpoint` writes (types, ranges, history, state)."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import torch

from core.params import check_settings
from core.training import TRAIN_STATE_VERSION


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


def _data_problem(record: Any) -> str | None:
    """What is wrong with the optional record of the training data (absent or None: nothing)."""
    if record is None:
        return None
    if not isinstance(record, dict):
        return f"training_data must be a dict, got {type(record).__name__}"
    sources = record.get("sources")
    if not (isinstance(sources, list) and all(isinstance(s, str) for s in sources)):
        return "training_data.sources must be a list of source specs (text)"
    if not _is_int(record.get("n_tracks")) or record["n_tracks"] < 0:
        return f"training_data.n_tracks must be a whole number >= 0, got {record.get('n_tracks')!r}"
    for key in ("fingerprint", "inputs_hash"):
        if record.get(key) is not None and not isinstance(record[key], str):
            return f"training_data.{key} must be text, got {record[key]!r}"
    parts = record.get("source_fingerprints")
    if parts is not None and not (isinstance(parts, list) and all(isinstance(p, str) for p in parts)):
        return "training_data.source_fingerprints must be a list of fingerprints (text)"
    return None


def structure_problem(ckpt: dict) -> str | None:
    """What is wrong with the structure of a loaded checkpoint dict, or None: the type of every field,
    the settings' ranges (:mod:`core.params`), the history records and, when present, the training state."""
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
    problem = _history_problem(ckpt["history"]) or _data_problem(ckpt.get("training_data"))
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



"""One training loop for every torch model (Basic VAE, ConvVAE, β-VAE, autoencoders).

Read it top to bottom: split, optimiser, (resume), then for each epoch shuffle,
step through mini-batches of preloaded tensors, validate, report, keep the best
weights, save the state, maybe stop early.

A module trained here follows a tiny protocol (see :mod:`core.models.base`)::

    out = module(batch, generator=g)           # dict with at least "mu" and "logvar" (None: no KL)
    err = module.reconstruction_error(out, batch)   # (n,) per-sample error
    mu  = module.encode_mean(batch)            # (n, d) latent means

``data`` is a dict of tensors that all have the same first dimension; a batch
is the same dict indexed with a tensor of row numbers (no DataLoader).

Reproducibility: the train/validation split depends only on ``seed`` and the
number of samples, and every epoch draws its shuffling and reparameterisation
noise from a generator seeded with ``(seed, epoch)``. A run resumed from its
state file therefore repeats exactly what the uninterrupted run would have done.
"""

from __future__ import annotations

import copy
import math
import os
import threading
from typing import Any, Callable

import numpy as np
import torch

from core.config import device as default_device
from core.models.losses import VAELoss

#: Version of the ``train_state`` dict stored in checkpoints.
TRAIN_STATE_VERSION = 1


#: Below this many parameters one thread is fastest: the ops are too small to split.
SMALL_MODEL_PARAMS = 200_000


def set_threads(n: int | None = None, *, module: torch.nn.Module | None = None) -> int:
    """Use ``n`` torch threads. Default: 1 for small models, else the idle cores (1 to 4).

    Measured on the 2-core reference machine: when other processes keep the cores
    busy, a second torch thread makes a ConvVAE step 4-6× SLOWER (its threads wait
    for each other), so only cores that the 1-minute load average leaves idle are used.
    """
    if n is None:
        small = module is not None and sum(p.numel() for p in module.parameters()) < SMALL_MODEL_PARAMS
        cores = os.cpu_count() or 1
        try:
            idle = cores - os.getloadavg()[0]
        except OSError:  # no load average on this platform
            idle = cores
        n = 1 if small else max(1, min(4, cores, int(idle + 0.5)))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def split_indices(n: int, *, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train / validation split of ``range(n)``.

    Returns
    -------
    train_idx : (n - n_val,) int64, val_idx : (n_val,) int64.
    ``n_val`` is 0 when ``val_fraction`` is 0 or fewer than 10 samples are given.
    """
    perm = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction)) if (val_fraction > 0 and n >= 10) else 0
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _epoch_generator(seed: int, epoch: int, dev: torch.device) -> torch.Generator:
    g = torch.Generator(device=dev)
    g.manual_seed(seed * 1_000_003 + epoch + 1)
    return g


def _take(data: dict[str, torch.Tensor], idx: torch.Tensor) -> dict[str, torch.Tensor]:
    return {k: v[idx] for k, v in data.items()}


def _callback_methods(callback: Any) -> tuple[Callable | None, Callable | None]:
    """(on_batch, on_epoch) of a callback object; a plain function is ``on_epoch``."""
    if callback is None:
        return None, None
    on_batch = getattr(callback, "on_batch", None)
    on_epoch = getattr(callback, "on_epoch", None)
    if on_batch is None and on_epoch is None and callable(callback):
        on_epoch = callback
    return on_batch, on_epoch


@torch.no_grad()
def evaluate(module, loss_fn: VAELoss, data: dict[str, torch.Tensor], idx: torch.Tensor, *, epoch: int,
             seed: int, chunk: int = 512) -> tuple[dict[str, Any], torch.Tensor]:
    """Loss terms on the rows ``idx`` (noise seeded by ``seed``) and their latent means.

    Returns
    -------
    terms : dict with loss, recon, kl (floats) and kl_per_dim (list of d floats)
    mu : (len(idx), d) latent means
    """
    module.eval()
    g = _epoch_generator(seed, -1, idx.device)
    sums, per_dim, mus = torch.zeros(3), None, []
    for start in range(0, len(idx), chunk):
        part = idx[start:start + chunk]
        batch = _take(data, part)
        out = module(batch, generator=g)
        terms = loss_fn(module.reconstruction_error(out, batch), out["mu"], out.get("logvar"), epoch=epoch)
        w = len(part)
        sums += torch.stack([terms["loss"], terms["recon"], terms["kl"]]).float().cpu() * w
        pd = terms["kl_per_dim"].float().cpu() * w
        per_dim = pd if per_dim is None else per_dim + pd
        mus.append(out["mu"].float().cpu())
    n = max(1, len(idx))
    loss, recon, kl = (sums / n).tolist()
    return ({"loss": loss, "recon": recon, "kl": kl,
             "kl_per_dim": [] if per_dim is None else (per_dim / n).tolist()},
            torch.cat(mus) if mus else torch.zeros(0, 0))


def cluster_metrics(Z: np.ndarray, *, n_clusters: int, seed: int) -> dict[str, float]:
    """K-Means on the latents ``Z`` (n, d) and internal metrics of the result (silhouette...)."""
    from sklearn.cluster import KMeans

    if len(Z) <= n_clusters:
        return {}
    labels = KMeans(n_clusters=n_clusters, n_init=3, random_state=seed).fit_predict(Z)
    if len(set(labels.tolist())) < 2:
        return {}
    try:
        from core.metrics import internal
    except ImportError:
        internal = None
    if internal is not None:
        out = {}
        for name, value in internal(Z, labels).items():
            value = getattr(value, "value", value)  # MetricValue -> float or None (undefined)
            if value is not None:
                out[name] = float(value)
        return out
    from sklearn.metrics import silhouette_score

    return {"silhouette": float(silhouette_score(Z, labels))}


def train(module: torch.nn.Module, loss_fn: VAELoss, data: dict[str, torch.Tensor], *,
          epochs: int, batch_size: int = 32, lr: float = 1e-3, seed: int = 0, val_fraction: float = 0.1,
          patience: int | None = None, device: str | None = None, callback: Any = None,
          stop: threading.Event | None = None, metrics_every: int = 0, n_clusters: int = 2,
          checkpoint: Callable[[dict], None] | None = None, resume_state: dict | None = None,
          num_threads: int | None = None) -> list[dict]:
    """Train ``module`` on ``data`` and return the history (one dict per epoch).

    Parameters
    ----------
    module : torch module following the protocol above; trained in place. On return it
        holds the best weights (lowest validation loss once the loss schedule has settled).
    loss_fn : the VAE loss (its β / warm-up / capacity settings).
    data : dict of tensors with a common first dimension ``n``.
    epochs : total number of epochs (a resumed run counts the epochs already done).
    patience : stop when the validation loss has not improved for this many epochs (None = never).
    callback : object with optional ``on_batch(info)`` / ``on_epoch(info)``, or a function
        called as ``on_epoch``. ``info`` is a dict (see below).
    stop : when set (e.g. from another thread) the loop ends after the current batch;
        the partial epoch is discarded and the best weights so far are kept.
    metrics_every : every k epochs, cluster the validation latents with K-Means
        (``n_clusters``) and add internal metrics to the epoch record (0 = never).
    checkpoint : called at the end of every epoch with the ``train_state`` dict
        (optimizer state, epoch, history, best and last weights...), e.g. to write the state file.
    resume_state : a ``train_state`` saved by an earlier run: continue from its epoch.

    Returns
    -------
    history : list of dicts with ``epoch`` (1-based), ``loss``, ``recon``, ``kl``,
        ``kl_per_dim``, ``val_loss``, ``val_recon``, ``val_kl``, ``val_kl_per_dim``,
        ``beta``, ``lr``, ``metrics``, ``best``.

    Batch info passed to ``on_batch``: ``epoch``, ``batch``, ``n_batches``, ``loss``,
    ``recon``, ``kl``, ``kl_per_dim``. Epoch info passed to ``on_epoch``: the history
    record plus ``epochs`` and ``stopped_early``.
    """
    set_threads(num_threads, module=module)
    dev = torch.device(default_device(device))
    module.to(dev)
    data = {k: v.to(dev) for k, v in data.items()}
    n = len(next(iter(data.values())))
    train_np, val_np = split_indices(n, val_fraction=val_fraction, seed=seed)
    train_idx = torch.as_tensor(train_np, device=dev)
    val_idx = torch.as_tensor(val_np, device=dev)
    n_batches = max(1, math.ceil(len(train_idx) / batch_size))
    optimizer = torch.optim.Adam(module.parameters(), lr=lr, foreach=True)
    on_batch, on_epoch = _callback_methods(callback)

    # ---- start fresh, or continue a saved run exactly where it ended
    history: list[dict] = []
    best_val, best_epoch, bad_epochs = math.inf, 0, 0
    best_weights = copy.deepcopy(module.state_dict())
    if resume_state is not None:
        if resume_state.get("n_samples") != n:
            raise ValueError(f"the saved run was trained on {resume_state.get('n_samples')} samples, not {n}")
        module.load_state_dict(resume_state["last_weights"])
        optimizer.load_state_dict(resume_state["optimizer"])
        history = list(resume_state["history"])
        best_weights = copy.deepcopy(resume_state["best_weights"])
        best_val = float(resume_state["best_val"])
        best_epoch, bad_epochs = int(resume_state["best_epoch"]), int(resume_state["bad_epochs"])
    start_epoch = len(history)

    for epoch in range(start_epoch, epochs):
        # ---- one pass over the shuffled training rows
        module.train()
        g = _epoch_generator(seed, epoch, dev)
        order = train_idx[torch.randperm(len(train_idx), generator=g, device=dev)]
        sums = torch.zeros(3, device=dev)
        per_dim = None
        interrupted = False
        for b in range(n_batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            batch = _take(data, idx)
            out = module(batch, generator=g)
            terms = loss_fn(module.reconstruction_error(out, batch), out["mu"], out.get("logvar"), epoch=epoch)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            with torch.no_grad():
                w = len(idx)
                sums += torch.stack([terms["loss"], terms["recon"], terms["kl"]]).detach() * w
                pd = terms["kl_per_dim"].detach() * w
                per_dim = pd if per_dim is None else per_dim + pd
            if on_batch is not None:
                on_batch({"epoch": epoch + 1, "batch": b + 1, "n_batches": n_batches,
                          "loss": terms["loss"].item(), "recon": terms["recon"].item(),
                          "kl": terms["kl"].item(), "kl_per_dim": terms["kl_per_dim"].detach().tolist()})
            if stop is not None and stop.is_set():
                interrupted = True
                break
        if interrupted:
            break

        # ---- validation (the training rows stand in when there is no validation split)
        loss, recon, kl = (sums / len(train_idx)).tolist()
        record: dict[str, Any] = {
            "epoch": epoch + 1, "loss": loss, "recon": recon, "kl": kl,
            "kl_per_dim": [] if per_dim is None else (per_dim / len(train_idx)).tolist(),
            "beta": loss_fn.beta_at(epoch), "lr": lr,
        }
        eval_idx = val_idx if len(val_idx) else train_idx
        val, mu = evaluate(module, loss_fn, data, eval_idx, epoch=epoch, seed=seed)
        record.update({"val_loss": val["loss"], "val_recon": val["recon"], "val_kl": val["kl"],
                       "val_kl_per_dim": val["kl_per_dim"]})
        if loss_fn.capacity is not None:
            record["capacity"] = loss_fn.capacity_at(epoch)
        record["metrics"] = {}
        if metrics_every and (epoch + 1) % metrics_every == 0:
            record["metrics"] = cluster_metrics(mu.numpy(), n_clusters=n_clusters, seed=seed)

        # ---- keep the best weights (only once β and the capacity have reached their final values)
        improved = epoch >= loss_fn.settled_epoch and record["val_loss"] < best_val
        if epoch < loss_fn.settled_epoch or improved:
            best_weights = copy.deepcopy(module.state_dict())
            best_epoch, bad_epochs = epoch + 1, 0
            if improved:
                best_val = record["val_loss"]
        else:
            bad_epochs += 1
        record["best"] = best_epoch == epoch + 1
        history.append(record)
        stop_early = patience is not None and bad_epochs >= patience

        if checkpoint is not None:
            checkpoint({
                "version": TRAIN_STATE_VERSION, "epoch": epoch + 1, "epochs": epochs, "n_samples": n,
                "seed": seed, "optimizer": optimizer.state_dict(), "history": history,
                "last_weights": module.state_dict(), "best_weights": best_weights,
                "best_val": best_val, "best_epoch": best_epoch, "bad_epochs": bad_epochs,
                "rng": torch.get_rng_state(),
            })
        if on_epoch is not None:
            on_epoch({**record, "epochs": epochs, "stopped_early": stop_early})
        if stop_early or (stop is not None and stop.is_set()):
            break

    module.load_state_dict(best_weights)
    module.eval()
    return history

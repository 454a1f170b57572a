"""One training loop for every torch model (Basic VAE, ConvVAE, β-VAE, autoencoders).

Read :func:`train` top to bottom: split, optimiser, (resume), then for each epoch
shuffle, step through mini-batches of preloaded tensors, validate, report, keep
the best weights, hand the state to ``save_state``, maybe stop early.

It knows nothing of the models. A module trained here follows a tiny protocol::

    out = module(batch, generator=g)                # dict with at least "mu" and "logvar" (None: no KL)
    err = module.reconstruction_error(out, batch)   # (n,) per-sample error

and the loss is any callable with the interface of ``core.models.losses.VAELoss``::

    terms = loss_fn(err, mu, logvar, epoch=e)   # {"loss", "recon", "kl": (), "kl_per_dim": (d,)}
    loss_fn.beta_at(e) -> float; loss_fn.settled_epoch -> int; loss_fn.capacity_at(e) -> float | None

``data`` is a dict of tensors that all have the same first dimension; a batch
is the same dict indexed with a tensor of row numbers (no DataLoader).

Reproducibility: the train/validation split depends only on ``random_state`` and
the number of samples, and every epoch draws its shuffling and reparameterisation
noise from a generator seeded with ``(random_state, epoch)``; the global torch
seed is never touched. A run resumed from its state therefore repeats exactly
what the uninterrupted run would have done.
"""

from __future__ import annotations

import copy
import math
import threading
from typing import Any, Callable

import numpy as np
import torch

from core.training.device import default_threads, resolve_device, torch_threads

#: Version of the ``train_state`` dict handed to ``save_state`` (and stored in checkpoints).
TRAIN_STATE_VERSION = 2


def split_indices(n: int, *, val_fraction: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train / validation split of ``range(n)``.

    Returns
    -------
    train_idx : (n - n_val,) int64, val_idx : (n_val,) int64.
    ``n_val`` is 0 when ``val_fraction`` is 0 or fewer than 10 samples are given.
    """
    perm = np.random.default_rng(random_state).permutation(n)
    n_val = int(round(n * val_fraction)) if (val_fraction > 0 and n >= 10) else 0
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _epoch_generator(random_state: int, epoch: int, dev: torch.device) -> torch.Generator:
    g = torch.Generator(device=dev)
    g.manual_seed(random_state * 1_000_003 + epoch + 1)
    return g


def _take(data: dict[str, torch.Tensor], idx: torch.Tensor) -> dict[str, torch.Tensor]:
    return {k: v[idx] for k, v in data.items()}


def callback_methods(callback: Any) -> tuple[Callable | None, Callable | None, Callable | None]:
    """(on_batch, on_epoch, on_validation) of a callback object; a plain function is ``on_epoch``."""
    if callback is None:
        return None, None, None
    hooks = tuple(getattr(callback, name, None) for name in ("on_batch", "on_epoch", "on_validation"))
    if hooks == (None, None, None) and callable(callback):
        return None, callback, None
    return hooks


@torch.no_grad()
def evaluate(module, loss_fn, data: dict[str, torch.Tensor], idx: torch.Tensor, *, epoch: int,
             random_state: int, chunk: int = 512) -> tuple[dict[str, Any], torch.Tensor]:
    """Loss terms on the rows ``idx`` (noise seeded by ``random_state``) and their latent means.

    Returns
    -------
    terms : dict with loss, recon, kl (floats) and kl_per_dim (list of d floats)
    mu : (len(idx), d) latent means, on the CPU
    """
    module.eval()
    g = _epoch_generator(random_state, -1, idx.device)
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


def train(module: torch.nn.Module, loss_fn, data: dict[str, torch.Tensor], *,
          epochs: int, batch_size: int = 32, lr: float = 1e-3, random_state: int = 0, val_fraction: float = 0.1,
          patience: int | None = None, device: str | torch.device | None = None, callback: Any = None,
          stop: threading.Event | None = None, save_state: Callable[[dict], None] | None = None,
          resume_state: dict | None = None, num_threads: int | None = None) -> list[dict]:
    """Train ``module`` on ``data`` and return the history (one dict per epoch).

    Parameters
    ----------
    module : torch module following the protocol above; trained in place. On return it
        holds the best weights (lowest validation loss once the loss schedule has settled)
        and is back on the device it was on before.
    loss_fn : the loss callable (see the module docstring).
    data : dict of tensors with a common first dimension ``n``.
    epochs : total number of epochs (a resumed run counts the epochs already done).
    patience : stop when the validation loss has not improved for this many epochs (None = never).
    device : where to train: "auto"/None (``resolve_device``), "cpu", "cuda"...
    callback : object with optional ``on_batch(info)``, ``on_epoch(info)`` and
        ``on_validation(*, epoch, latents) -> dict[str, float]``, or a function called as
        ``on_epoch``. ``on_validation`` gets the 1-based epoch and the validation latent
        means (n_val, d) after every epoch; what it returns is the record's ``metrics``.
    stop : when set (e.g. from another thread) the loop ends after the current batch;
        the partial epoch is discarded and the best weights so far are kept.
    save_state : called at the end of every epoch with the ``train_state`` dict (optimizer
        state, epoch, history, best and last weights, ``finished``...), e.g. to write a state file.
    resume_state : a ``train_state`` saved by an earlier run: continue from its epoch.
    num_threads : torch CPU threads while training (default :func:`default_threads`); the
        previous count is restored on return.

    Returns
    -------
    history : list of dicts with ``epoch`` (1-based), ``loss``, ``recon``, ``kl``,
        ``kl_per_dim``, ``val_loss``, ``val_recon``, ``val_kl``, ``val_kl_per_dim``,
        ``beta``, ``lr``, ``metrics``, ``best`` (and ``capacity`` with a capacity schedule).

    Batch info passed to ``on_batch``: ``epoch``, ``batch``, ``n_batches``, ``loss``,
    ``recon``, ``kl``, ``kl_per_dim``. Epoch info passed to ``on_epoch``: the history
    record plus ``epochs`` and ``stopped_early``.
    """
    home = next(module.parameters()).device
    dev = resolve_device(device)
    with torch_threads(num_threads or default_threads(module)):
        try:
            return _train(module, loss_fn, {k: v.to(dev) for k, v in data.items()}, dev, epochs=epochs,
                          batch_size=batch_size, lr=lr, random_state=random_state, val_fraction=val_fraction,
                          patience=patience, callback=callback, stop=stop, save_state=save_state,
                          resume_state=resume_state)
        finally:
            module.to(home)


def _train(module, loss_fn, data, dev, *, epochs, batch_size, lr, random_state, val_fraction, patience,
           callback, stop, save_state, resume_state) -> list[dict]:
    module.to(dev)
    n = len(next(iter(data.values())))
    train_np, val_np = split_indices(n, val_fraction=val_fraction, random_state=random_state)
    train_idx = torch.as_tensor(train_np, device=dev)
    val_idx = torch.as_tensor(val_np, device=dev)
    n_batches = max(1, math.ceil(len(train_idx) / batch_size))
    optimizer = torch.optim.Adam(module.parameters(), lr=lr, foreach=True)
    on_batch, on_epoch, on_validation = callback_methods(callback)

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
        best_weights = {k: v.to(dev) for k, v in resume_state["best_weights"].items()}
        best_val = float(resume_state["best_val"])
        best_epoch, bad_epochs = int(resume_state["best_epoch"]), int(resume_state["bad_epochs"])

    for epoch in range(len(history), epochs):
        # ---- one pass over the shuffled training rows
        module.train()
        g = _epoch_generator(random_state, epoch, dev)
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
        val, mu = evaluate(module, loss_fn, data, eval_idx, epoch=epoch, random_state=random_state)
        record.update({"val_loss": val["loss"], "val_recon": val["recon"], "val_kl": val["kl"],
                       "val_kl_per_dim": val["kl_per_dim"]})
        capacity = loss_fn.capacity_at(epoch)
        if capacity is not None:
            record["capacity"] = capacity
        metrics = on_validation(epoch=epoch + 1, latents=mu.numpy()) if on_validation is not None else None
        record["metrics"] = dict(metrics or {})

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

        if save_state is not None:
            save_state({
                "version": TRAIN_STATE_VERSION, "epoch": epoch + 1, "epochs": epochs, "n_samples": n,
                "random_state": random_state, "optimizer": optimizer.state_dict(), "history": history,
                "last_weights": module.state_dict(), "best_weights": best_weights,
                "best_val": best_val, "best_epoch": best_epoch, "bad_epochs": bad_epochs,
                "finished": stop_early or epoch + 1 >= epochs,
            })
        if on_epoch is not None:
            on_epoch({**record, "epochs": epochs, "stopped_early": stop_early})
        if stop_early or (stop is not None and stop.is_set()):
            break

    module.load_state_dict(best_weights)
    module.eval()
    return history

"""One training loop for every torch model (Basic VAE, spectrogram VAE, β-VAE, autoencoders).

Read :func:`train` top to bottom: split, optimiser, (resume), then for each epoch
step through mini-batches, validate, report, keep the best weights, hand the state
to ``save_state``, maybe stop early.

It knows nothing of the models. A module trained here follows a tiny protocol::

    out = module(batch, generator=g)                # dict with at least "mu" and "logvar" (None: no KL)
    err = module.reconstruction_error(out, batch)   # (n,) per-sample error
    module.loss_elements                            # optional: data elements per sample (see below)

and the loss is any callable with the interface of ``core.models.losses.VAELoss``::

    terms = loss_fn(err, mu, logvar, epoch=e, step=s)  # {"loss", "recon", "kl": (), "kl_per_dim": (d,)}
    loss_fn.beta_at(e, s) -> float; loss_fn.settled_epoch -> int; loss_fn.capacity_at(e) -> float | None

``data`` is either a dict of tensors that all have the same first dimension (a
batch is the dict indexed with row numbers, no DataLoader), or a BATCH SOURCE:
an object with ``len(data)`` rows and ``data.batch(idx, rng=..., device=...)``
returning a dict of tensors; training batches get a numpy ``rng`` (e.g. to draw
a random crop of each clip), evaluation batches ``rng=None`` (deterministic).

Epochs: with ``steps_per_epoch=None`` an epoch is one pass over the shuffled
training rows; with a number it is that many optimisation steps, each on
``batch_size`` rows drawn at random. Every schedule is per STEP: β warm-up (in the
loss), learning-rate warm-up then constant or cosine to 0 at the last step.
The optimiser is AdamW (``weight_decay=0`` is Adam). The loss is divided by
``module.loss_elements`` before the gradient (Adam does not care; it makes
``clip_norm`` mean the same at any input size), then the gradient norm is clipped.

Evaluation: after every epoch the loss terms and latent means of the validation rows (the
training rows when there is no split) are computed, on at most :data:`EVAL_ROWS` of them (a fixed
seeded sample), so an epoch's cost does not grow with the corpus.

Training says what happened: each history record has ``active_units`` (latent
dimensions whose validation KL exceeds 0.01 nats) and ``warnings`` (list of str):
collapse (no active unit once β has warmed up), divergence (a non-finite loss,
which stops training and keeps the best weights, or a KL blow-up) and, on the
last record, a loss still falling at the end.

Reproducibility: the train/validation split depends only on ``random_state`` and
the number of samples, and every epoch draws its shuffling, crops and
reparameterisation noise from generators seeded with ``(random_state, epoch)``;
the global torch seed is never touched. A run resumed from its state therefore
repeats what the uninterrupted run would have done.
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
TRAIN_STATE_VERSION = 3
#: A latent dimension is active when its mean KL exceeds this many nats.
ACTIVE_KL = 0.01
#: A KL (nats per sample, summed over dimensions) above this is a blow-up, not learning (a diverging
#: spectrogram VAE run reached 559,712; healthy runs stay in the hundreds or below).
KL_BLOWUP = 1e4
#: "Still falling": the mean validation loss of the last quarter of the epochs is this share below the quarter before.
STILL_FALLING = 0.02
#: The end-of-epoch evaluation reads at most this many rows: a fixed seeded sample of the validation rows (or of
#: the training rows when there is no split). A spectrogram VAE trained without a split (its default) would
#: otherwise read and encode EVERY track after every epoch: 11 s per epoch at 10,000 tracks, 2 min at 100,000,
#: for 8.5 s of optimisation steps (bench/bench_scale_table.py --stages train).
EVAL_ROWS = 4096


class TensorBatches:
    """A dict of preloaded tensors as a batch source (rows indexed, no randomness)."""

    def __init__(self, tensors: dict[str, torch.Tensor], device: torch.device):
        self.tensors = {k: v.to(device) for k, v in tensors.items()}

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values())))

    def batch(self, idx, *, rng=None, device=None) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(idx, device=next(iter(self.tensors.values())).device)
        return {k: v[idx] for k, v in self.tensors.items()}


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


def evaluation_rows(idx: np.ndarray, *, random_state: int) -> np.ndarray:
    """The rows of ``idx`` every epoch's evaluation reads: all of them up to :data:`EVAL_ROWS`, else a
    sample of that many drawn once from ``random_state`` (sorted, the same every epoch and on resume)."""
    if len(idx) <= EVAL_ROWS:
        return idx
    pick = np.random.default_rng([int(random_state), 11]).choice(len(idx), size=EVAL_ROWS, replace=False)
    return np.sort(np.asarray(idx)[pick])


def _epoch_generator(random_state: int, epoch: int, dev: torch.device) -> torch.Generator:
    g = torch.Generator(device=dev)
    g.manual_seed(random_state * 1_000_003 + epoch + 1)
    return g


def _numpy_rng(random_state: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng([int(random_state), int(epoch) + 1, 7])


def lr_factor(step: int, *, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """Multiplier of the learning rate at optimisation ``step`` (0-based): linear warm-up, then
    constant or a cosine from 1 to 0 at ``total_steps``."""
    factor = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    if schedule == "cosine":
        factor *= 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / max(1, total_steps))))
    elif schedule != "constant":
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {schedule!r}")
    return factor


def active_units(kl_per_dim) -> int:
    """The number of latent dimensions whose KL exceeds :data:`ACTIVE_KL` nats."""
    return int(sum(1 for v in kl_per_dim if v > ACTIVE_KL))


def callback_methods(callback: Any) -> tuple[Callable | None, Callable | None, Callable | None]:
    """(on_batch, on_epoch, on_validation) of a callback object; a plain function is ``on_epoch``."""
    if callback is None:
        return None, None, None
    hooks = tuple(getattr(callback, name, None) for name in ("on_batch", "on_epoch", "on_validation"))
    if hooks == (None, None, None) and callable(callback):
        return None, callback, None
    return hooks


def loss_terms(loss_fn, module, out: dict, batch: dict, **schedule) -> dict[str, torch.Tensor]:
    """The loss of one forward pass: the module's reconstruction error and its posterior's KL
    (weighted per dimension where the module says so, ``out["kl_weight"]``)."""
    if "kl_weight" in out:
        schedule["dim_weight"] = out["kl_weight"]
    return loss_fn(module.reconstruction_error(out, batch), out["mu"], out.get("logvar"), **schedule)


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
    if isinstance(data, dict):
        data = TensorBatches(data, idx.device)
    g = _epoch_generator(random_state, -1, idx.device)
    sums, per_dim, mus = torch.zeros(3), None, []
    for start in range(0, len(idx), chunk):
        part = idx[start:start + chunk]
        batch = data.batch(part.cpu().numpy(), rng=None, device=idx.device)
        out = module(batch, generator=g)
        terms = loss_terms(loss_fn, module, out, batch, epoch=epoch)
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
          resume_state: dict | None = None, num_threads: int | None = None, steps_per_epoch: int | None = None,
          weight_decay: float = 0.0, lr_warmup_steps: int = 0, lr_schedule: str = "constant",
          clip_norm: float | None = None) -> list[dict]:
    """Train ``module`` on ``data`` and return the history (one dict per epoch).

    Parameters
    ----------
    module : torch module following the protocol above; trained in place. On return it
        holds the best weights (lowest validation loss once the loss schedule has settled)
        and is back on the device it was on before.
    loss_fn : the loss callable (see the module docstring).
    data : dict of tensors with a common first dimension ``n``, or a batch source (module docstring).
    epochs : total number of epochs (a resumed run counts the epochs already done).
    steps_per_epoch : optimisation steps per epoch on randomly drawn rows (None: one pass over the rows).
    weight_decay, lr_warmup_steps, lr_schedule, clip_norm : AdamW's decoupled weight decay; the
        learning-rate warm-up (steps) and ``"constant"`` / ``"cosine"`` schedule; the gradient-norm clip
        (None = off).
    patience : stop when the validation loss has not improved for this many epochs (None = never).
    device : where to train: "auto"/None (``resolve_device``), "cpu", "cuda"...
    callback : object with optional ``on_batch(info)``, ``on_epoch(info)`` and
        ``on_validation(*, epoch, latents) -> dict[str, float]``, or a function called as
        ``on_epoch``. ``on_validation`` gets the 1-based epoch and the latent means of the
        evaluated rows (at most :data:`EVAL_ROWS`, see :func:`evaluation_rows`), (n_eval, d), after
        every epoch; what it returns is the record's ``metrics``.
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
        ``beta``, ``beta_normalised`` (β·d/N for modules that declare ``beta_dims`` d and
        ``loss_elements`` N, else None), ``lr``, ``step`` (optimisation steps so far), ``batch_size``, ``grad_norm`` (mean before
        clipping), ``active_units``, ``warnings`` (list of str), ``metrics``, ``best`` (and
        ``capacity`` with a capacity schedule; ``diverged: True`` on a run stopped by a non-finite loss).

    Batch info passed to ``on_batch``: ``epoch``, ``batch``, ``n_batches``, ``loss``,
    ``recon``, ``kl``, ``kl_per_dim``. Epoch info passed to ``on_epoch``: the history
    record plus ``epochs`` and ``stopped_early``.
    """
    home = next(module.parameters()).device
    dev = resolve_device(device)
    with torch_threads(num_threads or default_threads(module)):
        try:
            source = TensorBatches(data, dev) if isinstance(data, dict) else data
            return _train(module, loss_fn, source, dev, epochs=epochs,
                          batch_size=batch_size, lr=lr, random_state=random_state, val_fraction=val_fraction,
                          patience=patience, callback=callback, stop=stop, save_state=save_state,
                          resume_state=resume_state, steps_per_epoch=steps_per_epoch, weight_decay=weight_decay,
                          lr_warmup_steps=lr_warmup_steps, lr_schedule=lr_schedule, clip_norm=clip_norm)
        finally:
            module.to(home)


def _train(module, loss_fn, data, dev, *, epochs, batch_size, lr, random_state, val_fraction, patience,
           callback, stop, save_state, resume_state, steps_per_epoch, weight_decay, lr_warmup_steps, lr_schedule,
           clip_norm) -> list[dict]:
    module.to(dev)
    n = len(data)
    train_np, val_np = split_indices(n, val_fraction=val_fraction, random_state=random_state)
    train_idx = torch.as_tensor(train_np, device=dev)
    eval_idx = torch.as_tensor(evaluation_rows(val_np if len(val_np) else train_np, random_state=random_state),
                               device=dev)
    n_batches = int(steps_per_epoch) if steps_per_epoch else max(1, math.ceil(len(train_idx) / batch_size))
    total_steps = n_batches * epochs
    optimizer = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay, foreach=True)
    per_element = float(getattr(module, "loss_elements", 1) or 1)
    settled_step = int(getattr(loss_fn, "settled_step", 0))
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
        # ---- one epoch of optimisation steps
        module.train()
        g = _epoch_generator(random_state, epoch, dev)
        rng = _numpy_rng(random_state, epoch)
        if steps_per_epoch:
            order = train_idx[torch.randint(len(train_idx), (n_batches * batch_size,), generator=g, device=dev)]
        else:
            order = train_idx[torch.randperm(len(train_idx), generator=g, device=dev)]
        sums = torch.zeros(3, device=dev)
        per_dim, grad_norms, seen = None, [], 0
        interrupted = diverged = None
        for b in range(n_batches):
            step = epoch * n_batches + b
            idx = order[b * batch_size:(b + 1) * batch_size]
            batch = data.batch(idx.cpu().numpy(), rng=rng, device=dev)
            out = module(batch, generator=g)
            terms = loss_terms(loss_fn, module, out, batch, epoch=epoch, step=step)
            if not torch.isfinite(terms["loss"]):
                diverged = f"diverged: the loss became {terms['loss'].item()} at step {step + 1} (epoch {epoch + 1})"
                break
            for group in optimizer.param_groups:
                group["lr"] = lr * lr_factor(step, total_steps=total_steps, warmup_steps=lr_warmup_steps,
                                             schedule=lr_schedule)
            optimizer.zero_grad(set_to_none=True)
            (terms["loss"] / per_element).backward()
            if clip_norm:
                grad_norms.append(torch.nn.utils.clip_grad_norm_(module.parameters(), clip_norm))
            optimizer.step()
            with torch.no_grad():
                w = len(idx)
                seen += w
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
        if diverged:
            record = _diverged_record(epoch, diverged, loss_fn, lr, batch_size, epoch * n_batches + b)
            history.append(record)
            if save_state is not None:
                save_state(_state(epoch, epochs, n, random_state, optimizer, history, module, best_weights,
                                  best_val, best_epoch, bad_epochs, finished=True))
            if on_epoch is not None:
                on_epoch({**record, "epochs": epochs, "stopped_early": True})
            break
        if interrupted:
            break

        # ---- validation (the training rows stand in when there is no validation split; at most EVAL_ROWS)
        step_end = (epoch + 1) * n_batches
        loss, recon, kl = (sums / max(seen, 1)).tolist()
        record: dict[str, Any] = {
            "epoch": epoch + 1, "loss": loss, "recon": recon, "kl": kl,
            "kl_per_dim": [] if per_dim is None else (per_dim / max(seen, 1)).tolist(),
            "beta": loss_fn.beta_at(epoch, step_end), "step": step_end, "batch_size": batch_size,
            "beta_normalised": _beta_normalised(module, loss_fn.beta_at(epoch, step_end)),
            "lr": lr * lr_factor(step_end - 1, total_steps=total_steps, warmup_steps=lr_warmup_steps,
                                 schedule=lr_schedule),
            "grad_norm": float(torch.stack(grad_norms).mean()) if grad_norms else None,
        }
        val, mu = evaluate(module, loss_fn, data, eval_idx, epoch=epoch, random_state=random_state)
        record.update({"val_loss": val["loss"], "val_recon": val["recon"], "val_kl": val["kl"],
                       "val_kl_per_dim": val["kl_per_dim"]})
        capacity = loss_fn.capacity_at(epoch)
        if capacity is not None:
            record["capacity"] = capacity
        record["active_units"] = active_units(val["kl_per_dim"])
        record["warnings"] = _epoch_warnings(record, settled=epoch >= loss_fn.settled_epoch
                                             and step_end >= settled_step)
        metrics = on_validation(epoch=epoch + 1, latents=mu.numpy()) if on_validation is not None else None
        record["metrics"] = dict(metrics or {})

        # ---- keep the best weights (only once β and the capacity have reached their final values)
        settled = epoch >= loss_fn.settled_epoch and step_end >= settled_step
        improved = settled and math.isfinite(record["val_loss"]) and record["val_loss"] < best_val
        if not settled or improved:
            best_weights = copy.deepcopy(module.state_dict())
            best_epoch, bad_epochs = epoch + 1, 0
            if improved:
                best_val = record["val_loss"]
        else:
            bad_epochs += 1
        record["best"] = best_epoch == epoch + 1
        stop_early = patience is not None and bad_epochs >= patience
        if stop_early or epoch + 1 >= epochs:
            record["warnings"] += _end_warnings(history + [record])
        history.append(record)

        if save_state is not None:
            save_state(_state(epoch, epochs, n, random_state, optimizer, history, module, best_weights, best_val,
                              best_epoch, bad_epochs, finished=stop_early or epoch + 1 >= epochs))
        if on_epoch is not None:
            on_epoch({**record, "epochs": epochs, "stopped_early": stop_early})
        if stop_early or (stop is not None and stop.is_set()):
            break

    module.load_state_dict(best_weights)
    module.eval()
    return history


def _beta_normalised(module, beta: float) -> float | None:
    """β·d/N (Higgins et al.) for a module that declares ``loss_elements`` N and ``beta_dims`` d; else None."""
    n, d = getattr(module, "loss_elements", None), getattr(module, "beta_dims", None)
    return float(beta) * d / n if n and d else None


def _state(epoch, epochs, n, random_state, optimizer, history, module, best_weights, best_val, best_epoch,
           bad_epochs, *, finished) -> dict:
    return {"version": TRAIN_STATE_VERSION, "epoch": epoch + 1, "epochs": epochs, "n_samples": n,
            "random_state": random_state, "optimizer": optimizer.state_dict(), "history": history,
            "last_weights": module.state_dict(), "best_weights": best_weights, "best_val": best_val,
            "best_epoch": best_epoch, "bad_epochs": bad_epochs, "finished": finished}


def _diverged_record(epoch, message, loss_fn, lr, batch_size, step) -> dict:
    nan = float("nan")
    return {"epoch": epoch + 1, "loss": nan, "recon": nan, "kl": nan, "kl_per_dim": [], "val_loss": nan,
            "val_recon": nan, "val_kl": nan, "val_kl_per_dim": [], "beta": loss_fn.beta_at(epoch, step),
            "step": step, "batch_size": batch_size, "lr": lr, "grad_norm": None, "active_units": 0,
            "warnings": [message + "; training stopped, the best weights so far are kept"], "metrics": {},
            "best": False, "diverged": True}


def _epoch_warnings(record: dict, *, settled: bool) -> list[str]:
    out = []
    for key in ("kl", "val_kl"):
        if record[key] > KL_BLOWUP:
            out.append(f"diverged: KL blow-up, {key} = {record[key]:.4g} nats at epoch {record['epoch']}")
            break
    if settled and record["val_kl_per_dim"] and record["active_units"] == 0:
        out.append(f"collapse: no active latent dimension (all KL <= {ACTIVE_KL} nats) at epoch {record['epoch']}")
    return out


def _end_warnings(history: list[dict]) -> list[str]:
    """"Still falling" when the mean validation loss of the last quarter of the epochs is more than
    STILL_FALLING below the mean of the quarter before it (means, so one noisy epoch does not decide)."""
    if len(history) < 4:
        return []
    k = max(1, len(history) // 4)
    before = [h["val_loss"] for h in history[-2 * k:-k]]
    last = [h["val_loss"] for h in history[-k:]]
    if not all(math.isfinite(v) for v in before + last):
        return []
    b, a = sum(before) / k, sum(last) / k
    drop = (b - a) / max(abs(b), 1e-12)
    if drop > STILL_FALLING:
        return [f"still falling: the validation loss fell {100 * drop:.1f}% from epochs {len(history) - 2 * k + 1}-"
                f"{len(history) - k} to {len(history) - k + 1}-{len(history)}; more epochs would likely help"]
    return []

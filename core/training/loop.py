"""One training loop for every torch model (Basic VAE, spectrogram VAE, β-VAE, autoencoders).

Read :func:`_train` top to bottom: plan (split, batches), optimiser, (resume), then for each
epoch tell the module its stage, step through mini-batches, validate, keep the best weights, hand the
state to ``save_state``, report, maybe stop early. Each step is a function below it, in that order.

Its settings come as one object, a :class:`~core.training.config.TrainConfig` (a model's training
config extends it): a new setting is a field there, read here where it is used.

It knows nothing of the models. A module trained here follows a tiny protocol::

    out = module(batch, generator=g)                # dict with at least "mu" and "logvar" (None: no KL)
    err = module.reconstruction_error(out, batch)   # (n,) per-sample error
    module.loss_elements                            # optional: data elements per sample (see below)
    module.training_stage(stage)                    # with config.refine_epochs: "main", "refine", "done"
    module.embedding_means(mu)                      # optional: posterior means as the embedding lays them out

and the loss is any callable with the interface of ``core.models.losses.VAELoss``::

    terms = loss_fn(err, mu, logvar, epoch=e, step=s)  # {"loss", "recon", "kl": (), "kl_per_dim": (d,)}
    loss_fn.beta_at(e, s) -> float; loss_fn.settled_epoch -> int; loss_fn.capacity_at(e) -> float | None

``data`` is either a dict of tensors that all have the same first dimension (a
batch is the dict indexed with row numbers, no DataLoader), or a BATCH SOURCE:
an object with ``len(data)`` rows and ``data.batch(idx, rng=..., device=...)``
returning a dict of tensors; training batches get a numpy ``rng`` (e.g. to draw
a random crop of each clip), evaluation batches ``rng=None`` (deterministic).

Epochs: with ``config.steps_per_epoch=None`` an epoch is one pass over the shuffled
training rows; with a number it is that many optimisation steps, each on
``config.batch_size`` rows drawn at random. Every schedule is per STEP: β warm-up (in the
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
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from core.training.config import TrainConfig
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
    (weighted per dimension where the module says so, ``out["kl_weight"]``, and reported per the dimensions
    of ``out["kl_groups"]`` where the posterior holds a sequence)."""
    if "kl_weight" in out:
        schedule["dim_weight"] = out["kl_weight"]
    if "kl_groups" in out:
        schedule["dim_groups"] = out["kl_groups"]
    return loss_fn(module.reconstruction_error(out, batch), out["mu"], out.get("logvar"), **schedule)


@torch.no_grad()
def evaluate(module, loss_fn, data: dict[str, torch.Tensor], idx: torch.Tensor, *, epoch: int,
             random_state: int, chunk: int = 512) -> tuple[dict[str, Any], torch.Tensor]:
    """Loss terms on the rows ``idx`` (noise seeded by ``random_state``) and their latent means.

    Returns
    -------
    terms : dict with loss, recon, kl (floats) and kl_per_dim (list of d floats)
    mu : (len(idx), d) latent means, on the CPU (``module.embedding_means`` of them where the module has it)
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
        mu = out["mu"]
        if hasattr(module, "embedding_means"):  # a posterior that holds a sequence, laid out as the embedding
            mu = module.embedding_means(mu)
        mus.append(mu.float().cpu())
    n = max(1, len(idx))
    loss, recon, kl = (sums / n).tolist()
    return ({"loss": loss, "recon": recon, "kl": kl,
             "kl_per_dim": [] if per_dim is None else (per_dim / n).tolist()},
            torch.cat(mus) if mus else torch.zeros(0, 0))


def train(module: torch.nn.Module, loss_fn, data: dict[str, torch.Tensor], config: TrainConfig, *,
          random_state: int = 0, device: str | torch.device | None = None, callback: Any = None,
          stop: threading.Event | None = None, save_state: Callable[[dict], None] | None = None,
          resume_state: dict | None = None, num_threads: int | None = None) -> list[dict]:
    """Train ``module`` on ``data`` as ``config`` says and return the history (one dict per epoch).

    Parameters
    ----------
    module : torch module following the protocol above; trained in place. On return it
        holds the best weights (lowest validation loss once the loss schedule has settled)
        and is back on the device it was on before.
    loss_fn : the loss callable (see the module docstring).
    data : dict of tensors with a common first dimension ``n``, or a batch source (module docstring).
    config : the :class:`~core.training.config.TrainConfig` (or a dataclass extending it, such as a
        model's ``VAETrainConfig``; the loop reads only the loop's fields). ``config.epochs`` is the
        number of epochs of the main stage and must be a number; ``config.refine_epochs`` more follow it
        (:class:`~core.training.config.TrainConfig`). A resumed run counts the epochs already done.
    random_state : seeds the split, the shuffling, the crops and the reparameterisation noise.
    device : where to train: "auto"/None (``resolve_device``), "cpu", "cuda"... A model passes the
        device it decided (``Model.training_device``), which ``resolve_device`` hands back unchanged.
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
        ``capacity`` with a capacity schedule; ``stage``, "main" or "refine", in a run with a refinement;
        ``diverged: True`` on a run stopped by a non-finite loss).

    Batch info passed to ``on_batch``: ``epoch``, ``batch``, ``n_batches``, ``loss``,
    ``recon``, ``kl``, ``kl_per_dim``. Epoch info passed to ``on_epoch``: the history
    record plus ``epochs`` and ``stopped_early``.
    """
    if config.epochs is None:
        raise ValueError("config.epochs is None: the caller decides the number of epochs (a model's default)")
    if config.refine_epochs and not hasattr(module, "training_stage"):
        raise ValueError(f"refine_epochs={config.refine_epochs}: this network has no refinement stage "
                         f"({type(module).__name__} has no training_stage)")
    home = next(module.parameters()).device
    dev = resolve_device(device)
    hooks = _Hooks(*callback_methods(callback), stop=stop, save_state=save_state)
    with torch_threads(num_threads or default_threads(module)):
        try:
            source = TensorBatches(data, dev) if isinstance(data, dict) else data
            return _train(module, loss_fn, source, config, dev, random_state=random_state, hooks=hooks,
                          resume_state=resume_state)
        finally:
            module.to(home)


def _train(module, loss_fn, data, config: TrainConfig, dev: torch.device, *, random_state: int, hooks: _Hooks,
           resume_state: dict | None) -> list[dict]:
    module.to(dev)
    plan = _plan(module, loss_fn, data, config, dev, random_state)
    optimizer = torch.optim.AdamW(module.parameters(), lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    history, best = _start(module, optimizer, plan, resume_state)

    for epoch in range(len(history), plan.epochs):
        # ---- the stage: the refinement's epochs start afresh in the race for the best weights
        if config.refine_epochs:
            module.training_stage(plan.stage(epoch))
            if epoch == plan.refine_from:
                best.val, best.bad_epochs = math.inf, 0

        # ---- one epoch of optimisation steps
        totals = _optimise_epoch(module, loss_fn, data, optimizer, plan, epoch, hooks)
        if totals.diverged:
            record = _diverged_record(epoch, totals.diverged, loss_fn, config, totals.step)
            history.append(record)
            hooks.save(_state(plan, epoch, optimizer, history, module, best, finished=True))
            hooks.epoch_done({**record, "epochs": plan.epochs, "stopped_early": True})
            break
        if totals.interrupted:
            break

        # ---- validation (the training rows stand in when there is no validation split; at most EVAL_ROWS)
        record = _epoch_record(module, loss_fn, data, plan, epoch, totals, hooks)

        # ---- keep the best weights (only once β and the capacity have reached their final values)
        _keep_best(best, module, record, settled=plan.settled(loss_fn, epoch))
        stop_early = config.patience is not None and best.bad_epochs >= config.patience
        finished = stop_early or epoch + 1 >= plan.epochs
        if finished:
            record["warnings"] += _end_warnings((history + [record])[plan.stage_start(epoch):])
        history.append(record)

        hooks.save(_state(plan, epoch, optimizer, history, module, best, finished=finished))
        hooks.epoch_done({**record, "epochs": plan.epochs, "stopped_early": stop_early})
        if stop_early or hooks.stopped():
            break

    module.load_state_dict(best.weights)
    if config.refine_epochs:
        module.training_stage("done")
    module.eval()
    return history


@dataclass(frozen=True)
class _Hooks:
    """What the caller hears and says during a run: the callback's methods, the stop event, ``save_state``."""

    on_batch: Callable | None
    on_epoch: Callable | None
    on_validation: Callable | None
    stop: threading.Event | None
    save_state: Callable[[dict], None] | None

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def save(self, state: dict) -> None:
        if self.save_state is not None:
            self.save_state(state)

    def epoch_done(self, info: dict) -> None:
        if self.on_epoch is not None:
            self.on_epoch(info)


@dataclass(frozen=True)
class _Plan:
    """What a run does, fixed before its first step: its rows, its batches, its schedules."""

    config: TrainConfig
    dev: torch.device
    random_state: int
    n: int  # rows of the data (a resumed run must be given as many)
    train_idx: torch.Tensor  # the training rows
    eval_idx: torch.Tensor  # the rows every epoch's evaluation reads
    n_batches: int  # optimisation steps per epoch
    per_element: float  # the loss is divided by this before the gradient (the module's loss_elements)
    settled_step: int  # the loss schedule's last warm-up step

    @property
    def epochs(self) -> int:
        """Epochs of the whole run: the main stage's, then the refinement's."""
        return self.config.epochs + self.config.refine_epochs

    @property
    def refine_from(self) -> int:
        """The first epoch (0-based) of the refinement stage (= :attr:`epochs` without one)."""
        return self.config.epochs

    def stage(self, epoch: int) -> str:
        return "refine" if epoch >= self.refine_from else "main"

    def stage_start(self, epoch: int) -> int:
        """The first epoch (0-based) of ``epoch``'s stage."""
        return self.refine_from if epoch >= self.refine_from else 0

    def lr_at(self, step: int) -> float:
        """The learning rate of optimisation ``step``: warm-up, then constant or cosine, over its stage."""
        c = self.config
        main = self.n_batches * c.epochs
        stage_steps, within = (main, step) if step < main else (self.n_batches * c.refine_epochs, step - main)
        return c.lr * lr_factor(within, total_steps=stage_steps, warmup_steps=c.lr_warmup_steps,
                                schedule=c.lr_schedule)

    def settled(self, loss_fn, epoch: int) -> bool:
        """Whether β and the capacity have reached their final values by the end of ``epoch``."""
        return epoch >= loss_fn.settled_epoch and (epoch + 1) * self.n_batches >= self.settled_step


def _plan(module, loss_fn, data, config: TrainConfig, dev: torch.device, random_state: int) -> _Plan:
    n = len(data)
    train_np, val_np = split_indices(n, val_fraction=config.val_fraction, random_state=random_state)
    eval_np = evaluation_rows(val_np if len(val_np) else train_np, random_state=random_state)
    n_batches = (int(config.steps_per_epoch) if config.steps_per_epoch
                 else max(1, math.ceil(len(train_np) / config.batch_size)))
    return _Plan(config=config, dev=dev, random_state=random_state, n=n,
                 train_idx=torch.as_tensor(train_np, device=dev), eval_idx=torch.as_tensor(eval_np, device=dev),
                 n_batches=n_batches, per_element=float(getattr(module, "loss_elements", 1) or 1),
                 settled_step=int(getattr(loss_fn, "settled_step", 0)))


@dataclass
class _Best:
    """The best weights so far and the early-stopping count (part of the saved state)."""

    weights: dict
    val: float = math.inf
    epoch: int = 0
    bad_epochs: int = 0


def _start(module, optimizer, plan: _Plan, resume_state: dict | None) -> tuple[list[dict], _Best]:
    """(history, best) of a fresh run, or of a saved run continued exactly where it ended. A state without an
    optimizer (a finished run given a refinement stage, ``core.checkpoint.refine``) starts a fresh one."""
    if resume_state is None:
        return [], _Best(copy.deepcopy(module.state_dict()))
    if resume_state.get("n_samples") != plan.n:
        raise ValueError(f"the saved run was trained on {resume_state.get('n_samples')} samples, not {plan.n}")
    module.load_state_dict(resume_state["last_weights"])
    if resume_state.get("optimizer") is not None:
        optimizer.load_state_dict(resume_state["optimizer"])
    best = _Best(weights={k: v.to(plan.dev) for k, v in resume_state["best_weights"].items()},
                 val=float(resume_state["best_val"]), epoch=int(resume_state["best_epoch"]),
                 bad_epochs=int(resume_state["bad_epochs"]))
    return list(resume_state["history"]), best


@dataclass
class _EpochTotals:
    """One epoch's training terms summed over its batches (each weighted by its rows), and how it ended."""

    sums: torch.Tensor  # loss, recon, kl
    per_dim: torch.Tensor | None = None
    grad_norms: list = field(default_factory=list)
    seen: int = 0
    step: int = 0  # the last optimisation step taken or tried
    diverged: str | None = None  # why the epoch stopped at a non-finite loss
    interrupted: bool = False  # the stop event ended it

    @torch.no_grad()
    def add(self, terms: dict[str, torch.Tensor], rows: int) -> None:
        self.seen += rows
        self.sums += torch.stack([terms["loss"], terms["recon"], terms["kl"]]).detach() * rows
        pd = terms["kl_per_dim"].detach() * rows
        self.per_dim = pd if self.per_dim is None else self.per_dim + pd


def _optimise_epoch(module, loss_fn, data, optimizer, plan: _Plan, epoch: int, hooks: _Hooks) -> _EpochTotals:
    """One epoch of optimisation steps; it ends early at a non-finite loss or when ``stop`` is set."""
    batch_size, dev = plan.config.batch_size, plan.dev
    module.train()
    g = _epoch_generator(plan.random_state, epoch, dev)
    rng = _numpy_rng(plan.random_state, epoch)
    train_idx = plan.train_idx
    if plan.config.steps_per_epoch:
        order = train_idx[torch.randint(len(train_idx), (plan.n_batches * batch_size,), generator=g, device=dev)]
    else:
        order = train_idx[torch.randperm(len(train_idx), generator=g, device=dev)]
    totals = _EpochTotals(torch.zeros(3, device=dev))
    for b in range(plan.n_batches):
        step = totals.step = epoch * plan.n_batches + b
        idx = order[b * batch_size:(b + 1) * batch_size]
        batch = data.batch(idx.cpu().numpy(), rng=rng, device=dev)
        out = module(batch, generator=g)
        terms = loss_terms(loss_fn, module, out, batch, epoch=epoch, step=step)
        if not torch.isfinite(terms["loss"]):
            totals.diverged = f"diverged: the loss became {terms['loss'].item()} at step {step + 1} (epoch {epoch + 1})"
            break
        grad_norm = _optimisation_step(module, optimizer, terms["loss"], plan, step)
        if grad_norm is not None:
            totals.grad_norms.append(grad_norm)
        totals.add(terms, len(idx))
        if hooks.on_batch is not None:
            hooks.on_batch({"epoch": epoch + 1, "batch": b + 1, "n_batches": plan.n_batches,
                            "loss": terms["loss"].item(), "recon": terms["recon"].item(),
                            "kl": terms["kl"].item(), "kl_per_dim": terms["kl_per_dim"].detach().tolist()})
        if hooks.stopped():
            totals.interrupted = True
            break
    return totals


def _optimisation_step(module, optimizer, loss: torch.Tensor, plan: _Plan, step: int) -> torch.Tensor | None:
    """Set the scheduled learning rate, back-propagate the loss per data element, clip, step; returns the
    gradient norm before clipping (None when ``clip_norm`` is off)."""
    for group in optimizer.param_groups:
        group["lr"] = plan.lr_at(step)
    optimizer.zero_grad(set_to_none=True)
    (loss / plan.per_element).backward()
    grad_norm = None
    if plan.config.clip_norm:
        grad_norm = torch.nn.utils.clip_grad_norm_(module.parameters(), plan.config.clip_norm)
    optimizer.step()
    return grad_norm


def _epoch_record(module, loss_fn, data, plan: _Plan, epoch: int, totals: _EpochTotals, hooks: _Hooks) -> dict:
    """The history record of a completed epoch: its training terms, then the evaluation rows' terms,
    active units, warnings and the ``on_validation`` metrics (``best`` is set by :func:`_keep_best`)."""
    step_end = (epoch + 1) * plan.n_batches
    seen = max(totals.seen, 1)
    loss, recon, kl = (totals.sums / seen).tolist()
    beta = loss_fn.beta_at(epoch, step_end)
    record: dict[str, Any] = {
        "epoch": epoch + 1, "loss": loss, "recon": recon, "kl": kl,
        "kl_per_dim": [] if totals.per_dim is None else (totals.per_dim / seen).tolist(),
        "beta": beta, "step": step_end, "batch_size": plan.config.batch_size,
        "beta_normalised": _beta_normalised(module, beta), "lr": plan.lr_at(step_end - 1),
        "grad_norm": float(torch.stack(totals.grad_norms).mean()) if totals.grad_norms else None,
    }
    val, mu = evaluate(module, loss_fn, data, plan.eval_idx, epoch=epoch, random_state=plan.random_state)
    record.update({"val_loss": val["loss"], "val_recon": val["recon"], "val_kl": val["kl"],
                   "val_kl_per_dim": val["kl_per_dim"]})
    capacity = loss_fn.capacity_at(epoch)
    if capacity is not None:
        record["capacity"] = capacity
    if plan.config.refine_epochs:
        record["stage"] = plan.stage(epoch)
    record["active_units"] = active_units(val["kl_per_dim"])
    record["warnings"] = _epoch_warnings(record, settled=plan.settled(loss_fn, epoch))
    metrics = hooks.on_validation(epoch=epoch + 1, latents=mu.numpy()) if hooks.on_validation is not None else None
    record["metrics"] = dict(metrics or {})
    return record


def _keep_best(best: _Best, module, record: dict, *, settled: bool) -> None:
    """Until the loss schedule has settled every epoch's weights are kept; after, only a lower finite
    validation loss replaces them, and any other epoch counts towards ``patience``. Sets ``record["best"]``."""
    improved = settled and math.isfinite(record["val_loss"]) and record["val_loss"] < best.val
    if not settled or improved:
        best.weights = copy.deepcopy(module.state_dict())
        best.epoch, best.bad_epochs = record["epoch"], 0
        if improved:
            best.val = record["val_loss"]
    else:
        best.bad_epochs += 1
    record["best"] = best.epoch == record["epoch"]


def _beta_normalised(module, beta: float) -> float | None:
    """β·d/N (Higgins et al.) for a module that declares ``loss_elements`` N and ``beta_dims`` d; else None."""
    n, d = getattr(module, "loss_elements", None), getattr(module, "beta_dims", None)
    return float(beta) * d / n if n and d else None


def _state(plan: _Plan, epoch: int, optimizer, history: list[dict], module, best: _Best, *, finished: bool) -> dict:
    """The ``train_state`` handed to ``save_state`` after ``epoch`` (0-based)."""
    return {"version": TRAIN_STATE_VERSION, "epoch": epoch + 1, "epochs": plan.epochs, "n_samples": plan.n,
            "random_state": plan.random_state, "optimizer": optimizer.state_dict(), "history": history,
            "last_weights": module.state_dict(), "best_weights": best.weights, "best_val": best.val,
            "best_epoch": best.epoch, "bad_epochs": best.bad_epochs, "finished": finished}


def _diverged_record(epoch: int, message: str, loss_fn, config: TrainConfig, step: int) -> dict:
    nan = float("nan")
    return {"epoch": epoch + 1, "loss": nan, "recon": nan, "kl": nan, "kl_per_dim": [], "val_loss": nan,
            "val_recon": nan, "val_kl": nan, "val_kl_per_dim": [], "beta": loss_fn.beta_at(epoch, step),
            "step": step, "batch_size": config.batch_size, "lr": config.lr, "grad_norm": None, "active_units": 0,
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

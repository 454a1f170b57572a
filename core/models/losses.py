"""VAE losses: reconstruction + KL, with the KL kept per latent dimension.

β-VAE is not a separate network: it is :class:`VAELoss` with ``beta != 1``.
The KL warm-up (β grows linearly over the first ``warmup_epochs``, or per
optimisation step over ``warmup_steps``), free bits (each dimension's KL counts
at least ``free_bits`` nats, Kingma et al. 2016: pushing a dimension to 0 gains
nothing, so none is driven to collapse) and the capacity schedule of Burgess et
al. (2018), ``recon + β·|KL − C|`` with ``C`` growing linearly to ``capacity``
nats over ``capacity_epochs``, are settings of the same loss.

The reconstruction terms are negative log-likelihoods: :func:`squared_error`
(a unit-variance Gaussian up to constants, the feature models) and
:func:`gaussian_nll` (an explicit Gaussian with a learned σ, the spectrogram
models). β is reported normalised as well (:func:`normalised_beta`,
β·d / (number of data elements), Higgins et al. 2017), so that it compares
across input sizes and with the literature.

Every loss returns a dict of tensors::

    loss        ()    the objective that is minimised
    recon       ()    reconstruction term, summed over elements, mean over the batch
    kl          ()    KL(q(z|x) || N(0, I)) summed over dims, mean over the batch
    kl_per_dim  (d,)  KL of each latent dimension, mean over the batch
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import math

import torch

LOG_2PI = math.log(2.0 * math.pi)


def normalised_beta(beta: float, *, latent_dim: int, n_elements: int) -> float:
    """Higgins et al.'s normalised β: ``β · d / N`` for d latent dimensions and N data elements."""
    return float(beta) * int(latent_dim) / max(1, int(n_elements))


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor, *,
                 mask: torch.Tensor | None = None) -> torch.Tensor:
    """Gaussian negative log-likelihood (nats) summed over every non-batch axis.

    Parameters
    ----------
    x, mean : (n, ...)
    log_sigma : broadcasts against ``x`` (e.g. (F, 1) for one learned σ per mel band, or ())
    mask : (n,) bool or None. Samples where it is False contribute 0.

    Returns
    -------
    (n,) per-sample NLL.
    """
    nll = 0.5 * ((x - mean) * torch.exp(-log_sigma)) ** 2 + log_sigma + 0.5 * LOG_2PI
    nll = nll.flatten(1).sum(1)
    if mask is not None:
        nll = torch.where(mask, nll, torch.zeros_like(nll))
    return nll


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL divergence of ``N(mu, exp(logvar))`` from ``N(0, 1)``, element-wise.

    Parameters
    ----------
    mu, logvar : (n, d)

    Returns
    -------
    (n, d) KL in nats for each sample and latent dimension.
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def squared_error(x_hat: torch.Tensor, x: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Sum of squared errors per sample (a unit-variance Gaussian log-likelihood up to constants).

    Parameters
    ----------
    x_hat, x : (n, ...)
    mask : (n,) bool or None. Samples where it is False contribute 0.

    Returns
    -------
    (n,) per-sample error.
    """
    err = (x_hat - x).pow(2).flatten(1).sum(1)
    if mask is not None:
        err = torch.where(mask, err, torch.zeros_like(err))
    return err


#: A per-step β warm-up ends by this share of a run at the latest. The ConvVAE's 1,000 warm-up steps are a
#: third of its 3,000-step recipe; kept as they are, an 8 x 30-step run ended at β x 0.24 and trained
#: every step at a fraction of the β asked for.
WARMUP_SHARE = 1 / 3


def run_warmup_steps(warmup_steps: int, total_steps: int | None) -> int:
    """The β warm-up of a run of ``total_steps`` optimisation steps: ``warmup_steps``, cut to
    :data:`WARMUP_SHARE` of the run (at least one step) when the run is shorter than the recipe's."""
    if not warmup_steps or not total_steps:
        return int(warmup_steps or 0)
    return min(int(warmup_steps), max(1, int(total_steps * WARMUP_SHARE)))


@dataclass(frozen=True)
class LossSettings:
    """The β-VAE loss's settings; a model's training config carries them (``VAETrainConfig``).

    Parameters
    ----------
    beta : weight of the KL term (1 = VAE, > 1 = β-VAE, 0 = plain autoencoder).
    warmup_epochs : β ramps linearly from β/warmup_epochs to β over this many epochs (0 = off).
    capacity : target KL in nats for the capacity schedule (None = off).
    capacity_epochs : epochs over which the capacity grows linearly from 0 to ``capacity``.
    warmup_steps : β ramps linearly from 0 to β over this many optimisation steps (0 = off).
    free_bits : each latent dimension's batch-mean KL counts at least this many nats (0 = off).
    """

    beta: float = 1.0
    warmup_epochs: int = 0
    capacity: float | None = None
    capacity_epochs: int = 0
    warmup_steps: int = 0
    free_bits: float = 0.0

    def loss(self) -> "VAELoss":
        """The :class:`VAELoss` with these settings (from a config that extends this class too)."""
        return VAELoss(**{f.name: getattr(self, f.name) for f in fields(LossSettings)})


@dataclass(frozen=True)
class VAELoss(LossSettings):
    """``recon + β·KL`` with optional KL warm-up and capacity schedule (settings: :class:`LossSettings`)."""

    def beta_at(self, epoch: int, step: int | None = None) -> float:
        """β used at ``epoch`` (0-based) and optimisation ``step`` (0-based; None = end of the epoch)."""
        beta = self.beta
        if self.warmup_epochs and self.warmup_epochs > 0:
            beta = beta * min(1.0, (epoch + 1) / self.warmup_epochs)
        if self.warmup_steps and self.warmup_steps > 0 and step is not None:
            beta = beta * min(1.0, step / self.warmup_steps)
        return beta

    @property
    def settled_step(self) -> int:
        """First optimisation step at which the per-step warm-up has ended."""
        return int(self.warmup_steps or 0)

    def capacity_at(self, epoch: int) -> float | None:
        """Capacity C (nats) at ``epoch``, or None when the schedule is off."""
        if self.capacity is None:
            return None
        if self.capacity_epochs and self.capacity_epochs > 0:
            return float(self.capacity) * min(1.0, epoch / self.capacity_epochs)
        return float(self.capacity)

    @property
    def settled_epoch(self) -> int:
        """First epoch at which β and C have reached their final values.

        Validation losses of earlier epochs use another objective, so the
        training loop only compares (for early stopping) from this epoch on.
        """
        return max(self.warmup_epochs - 1 if self.warmup_epochs else 0,
                   self.capacity_epochs if self.capacity is not None else 0, 0)

    def __call__(self, recon: torch.Tensor, mu: torch.Tensor | None, logvar: torch.Tensor | None,
                 *, epoch: int = 10**9, step: int | None = None,
                 dim_weight: torch.Tensor | None = None,
                 dim_groups: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Combine per-sample reconstruction errors with the KL of the posterior.

        Parameters
        ----------
        recon : (n,) per-sample reconstruction error.
        mu, logvar : (n, d) posterior parameters, or None for a deterministic encoder.
        epoch : current epoch (0-based) for the schedules; default = fully settled.
        step : current optimisation step (0-based) for the per-step warm-up; None = settled.
        dim_weight : (d,) weight of each dimension's KL in the loss (None = 1): a latent block that is
            ONE draw shared by K rows (a track latent over K crops) counts 1/K per row. The reported
            ``kl`` / ``kl_per_dim`` stay unweighted (nats of each row's posterior).
        dim_groups : (d,) long, the dimension each posterior value is REPORTED under (None: itself): a latent
            sequence counts each element in the loss (free bits per element) and reports its KL summed over
            time per channel, so ``kl_per_dim`` has ``dim_groups.max() + 1`` entries.
        """
        recon_mean = recon.mean()
        if mu is None or logvar is None:
            zero = recon_mean.new_zeros(())
            return {"loss": recon_mean, "recon": recon_mean, "kl": zero, "kl_per_dim": recon_mean.new_zeros(0)}
        per_dim = kl_per_dim(mu, logvar).mean(0)
        kl = per_dim.sum()
        beta = self.beta_at(epoch, step)
        cap = self.capacity_at(epoch)
        weight = 1.0 if dim_weight is None else dim_weight
        if cap is None:
            counted = torch.clamp(per_dim, min=self.free_bits) if self.free_bits > 0 else per_dim
            loss = recon_mean + beta * (counted * weight).sum()
        else:
            loss = recon_mean + beta * ((per_dim * weight).sum() - cap).abs()
        if dim_groups is not None:
            per_dim = per_dim.new_zeros(int(dim_groups.max()) + 1).index_add_(0, dim_groups, per_dim)
        return {"loss": loss, "recon": recon_mean, "kl": kl, "kl_per_dim": per_dim}

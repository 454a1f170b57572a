"""VAE losses: reconstruction + KL, with the KL kept per latent dimension.

β-VAE is not a separate network: it is :class:`VAELoss` with ``beta != 1``.
The KL warm-up (β grows linearly over the first ``warmup_epochs``) and the
capacity schedule of Burgess et al. (2018), ``recon + β·|KL − C|`` with ``C``
growing linearly to ``capacity`` nats over ``capacity_epochs``, are settings of
the same loss.

Every loss returns a dict of tensors::

    loss        ()    the objective that is minimised
    recon       ()    reconstruction term, summed over elements, mean over the batch
    kl          ()    KL(q(z|x) || N(0, I)) summed over dims, mean over the batch
    kl_per_dim  (d,)  KL of each latent dimension, mean over the batch
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


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


@dataclass
class VAELoss:
    """``recon + β·KL`` with optional KL warm-up and capacity schedule.

    Parameters
    ----------
    beta : weight of the KL term (1 = VAE, > 1 = β-VAE, 0 = plain autoencoder).
    warmup_epochs : β ramps linearly from β/warmup_epochs to β over this many epochs (0 = off).
    capacity : target KL in nats for the capacity schedule (None = off).
    capacity_epochs : epochs over which the capacity grows linearly from 0 to ``capacity``.
    """

    beta: float = 1.0
    warmup_epochs: int = 0
    capacity: float | None = None
    capacity_epochs: int = 0

    def beta_at(self, epoch: int) -> float:
        """β used at ``epoch`` (0-based)."""
        if self.warmup_epochs and self.warmup_epochs > 0:
            return self.beta * min(1.0, (epoch + 1) / self.warmup_epochs)
        return self.beta

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
                 *, epoch: int = 10**9) -> dict[str, torch.Tensor]:
        """Combine per-sample reconstruction errors with the KL of the posterior.

        Parameters
        ----------
        recon : (n,) per-sample reconstruction error.
        mu, logvar : (n, d) posterior parameters, or None for a deterministic encoder.
        epoch : current epoch (0-based) for the schedules; default = fully settled.
        """
        recon_mean = recon.mean()
        if mu is None or logvar is None:
            zero = recon_mean.new_zeros(())
            return {"loss": recon_mean, "recon": recon_mean, "kl": zero, "kl_per_dim": recon_mean.new_zeros(0)}
        per_dim = kl_per_dim(mu, logvar).mean(0)
        kl = per_dim.sum()
        beta = self.beta_at(epoch)
        cap = self.capacity_at(epoch)
        if cap is None:
            loss = recon_mean + beta * kl
        else:
            loss = recon_mean + beta * (kl - cap).abs()
        return {"loss": loss, "recon": recon_mean, "kl": kl, "kl_per_dim": per_dim}

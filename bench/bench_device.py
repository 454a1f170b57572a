"""Benchmark: where each model should train — CPU or CUDA, and at which batch size.

Run:  .venv/bin/python -m bench.bench_device [--steps 40] [--cpu-threads N]

Times optimisation steps (forward, loss, backward, AdamW step) of the real networks of
``core.models`` on random inputs of the real shapes, so no data set is needed:

* ``basic``: the Basic VAE's MLP on (B, 57) standardised features, batch 32 and 256;
* ``conv``: the spectrogram VAE on (B, 128, 128) standardised crops + a 512-word TF-IDF block
  (the shipped width, 32 + 16 latent dimensions), batch 64 (the CPU default) and 256 (the CUDA
  batch, ``ConvVAEConfig.cuda_batch_size``).

Each row is the median over ``--steps`` steps after 5 warm-up steps, in tracks per second; CUDA
rows synchronise before reading the clock. The ratio column compares each row with the CPU row of
the same model at batch 32 (basic) or 64 (conv), measured in the same run. Without CUDA only the
CPU rows are printed. Prints the exact command first.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time

import torch

from core.models.conv import ConvVAEModule
from core.models.losses import VAELoss
from core.models.vae import MLPVAE


def _basic(batch: int, dev: torch.device):
    module = MLPVAE(57, (32, 16), 2).to(dev)
    data = {"x": torch.randn(batch, 57, device=dev)}
    return module, data


def _conv(batch: int, dev: torch.device):
    module = ConvVAEModule(n_mels=128, crop_frames=128, width=128, latent_dim=32, lyrics_dim=512,
                           lyrics_latent_dim=16, modality="both").to(dev)
    data = {"x": torch.randn(batch, 128, 128, device=dev), "lyr": torch.rand(batch, 512, device=dev),
            "lmask": torch.ones(batch, dtype=torch.bool, device=dev)}
    return module, data


def time_steps(build, batch: int, dev: torch.device, *, steps: int) -> float:
    """Median tracks per second of ``steps`` optimisation steps (after 5 warm-up steps)."""
    module, data = build(batch, dev)
    loss_fn = VAELoss(free_bits=0.25)
    opt = torch.optim.AdamW(module.parameters(), lr=1e-3)
    g = torch.Generator(device=dev)
    g.manual_seed(0)
    times = []
    for i in range(steps + 5):
        t0 = time.perf_counter()
        out = module(data, generator=g)
        terms = loss_fn(module.reconstruction_error(out, data), out["mu"], out.get("logvar"))
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        if i >= 5:
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--cpu-threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    print("$ " + " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    if args.cpu_threads:
        torch.set_num_threads(args.cpu_threads)
    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, {torch.get_num_threads()} CPU threads, "
          f"CUDA: {torch.cuda.get_device_name(0) if cuda else 'none'}, load {os.getloadavg()[0]:.1f}")
    rows = ["| model | device | batch | tracks/s | vs CPU at the CPU batch |", "|---|---|---|---|---|"]
    for name, build, batches, ref_batch in (("basic", _basic, (32, 256), 32), ("conv", _conv, (64, 256), 64)):
        cpu = torch.device("cpu")
        ref = time_steps(build, ref_batch, cpu, steps=args.steps)
        rows.append(f"| {name} | cpu | {ref_batch} | {ref:,.0f} | 1.00 |")
        devices = [torch.device("cuda")] if cuda else []
        for dev in devices:
            for batch in batches:
                rate = time_steps(build, batch, dev, steps=args.steps)
                rows.append(f"| {name} | {dev.type} | {batch} | {rate:,.0f} | {rate / ref:.2f} |")
        print("\n".join(rows[-(1 + len(batches) * len(devices)):]), flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

"""Where a model trains: CUDA only where it pays off, and how many CPU threads (restored afterwards).

Each torch estimator declares ``cuda_pays_off``; ``device="auto"`` picks CUDA only for those.
Measured on an H100 host with 16 CPU cores (issue 9, the same loop before it became this package):

=========================================================  =======  ========  ===============================
run                                                        CUDA     CPU       verdict
=========================================================  =======  ========  ===============================
Basic VAE (57→32→16→2), 120 epochs, 2,617 tracks, batch 32  33.9 s   12.3 s    CUDA 2.7× SLOWER: the matrices
                                                                              are tiny, every step is kernel-
                                                                              launch bound -> ``basic``: CPU
ConvVAE, 2 epochs, 2,617 × 128×128 inputs, batch 32        1.99 s   9.86 s    CUDA 5× faster -> ``conv``: CUDA
the same, batch 256                                        0.57 s   --        17× the CPU figure at batch 32
=========================================================  =======  ========  ===============================

So the Basic VAE trains on the CPU and the spectrogram VAE (``conv``, ``beta``, and ``ae`` on mel) on
CUDA when present, with its batch raised to ``cuda_batch_size`` = 256 there (the measured 17× row;
on the CPU it keeps its default batch of 64). The history records the batch size used.
``SONGSCAPE_DEVICE`` (e.g. ``cpu``) overrides the automatic choice. Nothing requires a GPU.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch

#: Below this many parameters one CPU thread is fastest: the ops are too small to split.
SMALL_MODEL_PARAMS = 200_000


def resolve_device(device: str | None = "auto", *, cuda_pays_off: bool = True) -> torch.device:
    """The torch device for ``device`` ("auto", "cpu", "cuda", "cuda:1"...).

    ``"auto"`` (or None): ``$SONGSCAPE_DEVICE`` when set, else CUDA when it is available
    and ``cuda_pays_off`` (see the table above), else CPU.
    """
    if device in (None, "auto"):
        env = os.environ.get("SONGSCAPE_DEVICE")
        if env:
            return torch.device(env)
        return torch.device("cuda" if cuda_pays_off and torch.cuda.is_available() else "cpu")
    return torch.device(device)


def default_threads(module: torch.nn.Module) -> int:
    """1 thread for small models, else the cores the 1-minute load average leaves idle (1 to 4).

    Measured on the 2-core reference machine: when other processes keep the cores
    busy, a second torch thread makes a ConvVAE step 4-6× SLOWER (its threads wait
    for each other), so only idle cores are used.
    """
    if sum(p.numel() for p in module.parameters()) < SMALL_MODEL_PARAMS:
        return 1
    cores = os.cpu_count() or 1
    try:
        idle = cores - os.getloadavg()[0]
    except OSError:  # no load average on this platform
        idle = cores
    return max(1, min(4, cores, int(idle + 0.5)))


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[int]:
    """Use ``n`` torch CPU threads inside the block; the previous count is restored on exit."""
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)

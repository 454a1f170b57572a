"""Where a model trains: CUDA only where it pays off, and how many CPU threads (restored afterwards).

Each torch estimator declares ``cuda_pays_off``; ``device="auto"`` picks CUDA only for those.
Measured with ``bench/bench_device.py --steps 15`` (optimisation steps of the real networks on
random inputs of the real shapes) on an H200 host with 16 CPU cores, torch 2.11, in one run:

===================================  =========  =====  ==========  ==============================
network                              device     batch  tracks/s    vs its CPU row
===================================  =========  =====  ==========  ==============================
Basic VAE (57→32→16→2)               CPU        32     14,823      1.00
                                     CUDA       32      9,984      0.67: slower, launch-bound
                                     CUDA       256    82,080      5.54 (not the study's batch)
spectrogram VAE (width 128, 32+16)   CPU        64      1,709      1.00
                                     CUDA       64      5,258      3.08
                                     CUDA       256    23,423      13.71
===================================  =========  =====  ==========  ==============================

So the Basic VAE trains on the CPU and the spectrogram VAE (``conv``, ``beta``, and ``ae`` on mel) on
CUDA when present, with its batch raised to ``cuda_batch_size`` = 256 there (the 13.7× row;
on the CPU it keeps its default batch of 64). The history records the batch size used.
``SONGSCAPE_DEVICE`` (e.g. ``cpu``) overrides the automatic choice, ``SONGSCAPE_THREADS`` the CPU
thread count (:func:`default_threads`). Nothing requires a GPU.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch

from core.errors import BadInputError

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
    """Torch CPU threads for ``module``: 1 for a small model, else one per physical core (half the logical
    cores, 1 to 4); ``$SONGSCAPE_THREADS`` sets it for every model.

    A function of the machine and the model only, never of the moment's load: the thread count changes
    the order of floating-point sums, so a seeded training run with another count gives another model
    (the demo ConvVAE: genre NMI 0.39 with one thread, 0.47 with two). The same command on the same
    machine therefore gives the same model. On the 2-core reference machine this is one thread: a
    second thread on a core that another process keeps busy made a ConvVAE step 4-6x slower
    (BENCHMARKS.md, "Training"), and that machine is shared.
    """
    env = os.environ.get("SONGSCAPE_THREADS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise BadInputError(None, f"SONGSCAPE_THREADS={env!r} is not a whole number of threads >= 1")
        return int(env)
    if sum(p.numel() for p in module.parameters()) < SMALL_MODEL_PARAMS:
        return 1
    return max(1, min(4, (os.cpu_count() or 1) // 2))


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

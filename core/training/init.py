"""Seeded weight initialisation from a :class:`torch.Generator`, never from the global torch RNG.

A torch layer initialises itself from the global RNG; training in a server thread must neither
seed nor draw from it. :func:`empty_module` builds a network on the "meta" device (no numbers
drawn) and :func:`init_parameters` fills every weight from a generator with the SAME
distributions as PyTorch's defaults, so a model is reproducible from its ``random_state`` alone.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

#: Layers whose default initialisation is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
#: (kaiming_uniform with a = sqrt(5) works out to that bound).
UNIFORM_FAN_IN = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                  nn.ConvTranspose3d)
#: Layers whose default initialisation draws no random numbers (ones and zeros); a project layer
#: declares the same with ``deterministic_init = True`` and a ``reset_parameters()`` that draws nothing.
DETERMINISTIC = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def empty_module(factory: Callable[[], nn.Module]) -> nn.Module:
    """``factory()`` built without drawing random numbers: parameters allocated on the CPU, uninitialised.

    Fill it with :func:`init_parameters` or ``load_state_dict``. Constants that a layer derives from its sizes or
    settings rather than saves (buffers registered with ``persistent=False``) are filled here, by the layer's
    ``fill_constants()``: ``load_state_dict`` does not hold them, and on the meta device the layer's own
    constructor could not write them.
    """
    with torch.device("meta"):
        module = factory()
    module = module.to_empty(device="cpu")
    with torch.no_grad():
        for layer in module.modules():
            if hasattr(layer, "fill_constants"):
                layer.fill_constants()
    return module


def seeded_module(factory: Callable[[], nn.Module], *, generator: torch.Generator) -> nn.Module:
    """``factory()`` initialised from ``generator`` only (the global torch RNG is left as it is)."""
    return init_parameters(empty_module(factory), generator=generator)


@torch.no_grad()
def init_parameters(module: nn.Module, *, generator: torch.Generator) -> nn.Module:
    """Re-initialise every parameter of ``module`` in place from ``generator``; returns ``module``.

    Raises TypeError for a layer with parameters or buffers whose default initialisation is
    not known here (add it above rather than fall back to the global RNG).
    """
    for layer in module.modules():
        own = list(layer.parameters(recurse=False))
        if not own and not list(layer.buffers(recurse=False)):
            continue
        if isinstance(layer, UNIFORM_FAN_IN):
            w = layer.weight
            fan_in = w.shape[1] * math.prod(w.shape[2:])
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            for p in own:
                p.copy_(torch.empty(p.shape).uniform_(-bound, bound, generator=generator))
        elif isinstance(layer, DETERMINISTIC) or getattr(layer, "deterministic_init", False):
            layer.reset_parameters()
        else:
            raise TypeError(f"init_parameters: no seeded initialisation for {type(layer).__name__}")
    return module

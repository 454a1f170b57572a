"""The generic training loop over (torch module, loss callable, tensors); it imports nothing from models.

* :mod:`core.training.loop` -- ``train``, ``evaluate``, ``split_indices``, the callback hooks
* :mod:`core.training.config` -- ``TrainConfig``, the loop's settings as one object
* :mod:`core.training.device` -- per-model device choice (measured table), CPU threads restored after use
* :mod:`core.training.init` -- seeded weight initialisation from a generator (no global seed)
"""

from core.training.config import TrainConfig
from core.training.device import default_threads, resolve_device, torch_threads
from core.training.init import empty_module, init_parameters, seeded_module
from core.training.loop import TRAIN_STATE_VERSION, callback_methods, evaluate, split_indices, train

__all__ = ["train", "TrainConfig", "evaluate", "split_indices", "callback_methods", "TRAIN_STATE_VERSION",
           "resolve_device", "default_threads", "torch_threads", "init_parameters", "seeded_module", "empty_module"]

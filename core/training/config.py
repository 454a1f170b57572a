"""The training loop's settings (:class:`TrainConfig`), read by :func:`core.training.train` as one object.

It lives beside the loop, in the leaf layer, so that the models (which extend it with their loss's
settings, ``core.models.configs.VAETrainConfig``) and the loop both see it: a new training setting
is a field here, read in the loop where it is used.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    """Settings of the training loop (:func:`core.training.train`).

    ``epochs=None`` means the model's own default (the autoencoder: 120 on features, 30 on mel); the
    loop itself needs a number, which the model fills in. ``steps_per_epoch=None``: an epoch is one
    pass over the shuffled training rows (the feature models); a number: an epoch is that many
    optimisation steps on random rows (the crop models, which draw a new random crop of each track
    every step). The learning rate warms up linearly over ``lr_warmup_steps`` and then stays
    (``lr_schedule="constant"``) or follows a cosine to 0 at the last step (``"cosine"``).
    ``weight_decay`` is AdamW's decoupled weight decay (0 = Adam). ``clip_norm`` clips the gradient
    norm (None = off). ``patience``: stop when the validation loss has not improved for this many
    epochs (None = never).

    ``refine_epochs``: a REFINEMENT STAGE of that many more epochs after the ``epochs`` of the main stage. Before
    each epoch the loop tells the module which stage it is in (``module.training_stage("main" | "refine")``, and
    ``"done"`` at the end): in the main stage the module leaves out what only the refinement learns, in the
    refinement it freezes what must not change. The learning rate warms up and follows its schedule again over
    the refinement, whose epochs compete only among themselves for the best weights. 0 = one stage (a module
    without ``training_stage`` has only one).
    """

    epochs: int | None = 120
    batch_size: int = 32
    lr: float = 1e-3
    val_fraction: float = 0.1
    patience: int | None = None
    steps_per_epoch: int | None = None
    weight_decay: float = 0.0
    lr_warmup_steps: int = 0
    lr_schedule: str = "constant"
    clip_norm: float | None = None
    refine_epochs: int = 0

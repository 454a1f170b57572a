"""The allowed range of every numeric setting, in one table: the CLI checks its arguments with it and
:mod:`core.checkpoint` checks the settings stored in a checkpoint with it.

Each rule is ``(kind, low, high, low_inclusive, high_inclusive)``; ``None`` is an open end. A value
outside its range, NaN or infinite is refused by :func:`check`, whose message names the setting.
"""

from __future__ import annotations

import math
from typing import Any

#: setting name -> (kind, low, high, low inclusive, high inclusive).
RULES: dict[str, tuple[type, float | None, float | None, bool, bool]] = {
    "epochs": (int, 1, 100_000, True, True),
    "batch_size": (int, 1, 1_000_000, True, True),
    "latent_dim": (int, 1, 4096, True, True),
    "lr": (float, 0.0, 10.0, False, True),
    "beta": (float, 0.0, 1e6, True, True),
    "val_fraction": (float, 0.0, 0.9, True, True),
    "patience": (int, 1, 100_000, True, True),
    "warmup_epochs": (int, 0, 100_000, True, True),
    "capacity": (float, 0.0, 1e6, True, True),
    "capacity_epochs": (int, 0, 100_000, True, True),
    "channels": (int, 1, 4096, True, True),
    "hidden": (int, 1, 65_536, True, True),
    "lyrics_features": (int, 1, 1_000_000, True, True),
    "lyrics_min_df": (int, 1, 1_000_000, True, True),
    "lyrics_hidden": (int, 1, 65_536, True, True),
    "lyrics_weight": (float, 0.0, 1e6, True, True),
    "random_state": (int, 0, 2**32 - 1, True, True),
    "metrics_every": (int, 0, 100_000, True, True),
    "n_clusters": (int, 2, 10_000, True, True),
    "seeds": (int, 1, 1000, True, True),
    "epochs_scale": (float, 0.0, 100.0, False, True),
    "jobs": (int, 1, 1024, True, True),
    "tracks": (int, 1, 1_000_000, True, True),
    "seconds": (float, 0.0, 3600.0, False, True),
    "workers": (int, 1, 1024, True, True),
}


def describe(name: str) -> str:
    """The rule of ``name`` in words, e.g. ``"a whole number from 1 to 100000"``."""
    kind, low, high, low_in, high_in = RULES[name]
    what = "a whole number" if kind is int else "a number"
    low = None if low is None else (int(low) if kind is int else f"{low:g}")
    high = None if high is None else (int(high) if kind is int else f"{high:g}")
    if low is not None and high is not None:
        if low_in and high_in:
            return f"{what} from {low} to {high}"
        return f"{what} {'≥' if low_in else '>'} {low} and {'≤' if high_in else '<'} {high}"
    if low is not None:
        return f"{what} {'≥' if low_in else '>'} {low}"
    return f"{what} {'≤' if high_in else '<'} {high}" if high is not None else what


def check(name: str, value: Any) -> int | float:
    """``value`` converted to the setting's kind; ValueError (naming ``name`` and its range) when it is not
    a finite number of that kind inside the range. Unknown names pass through unchanged."""
    if name not in RULES:
        return value
    kind, low, high, low_in, high_in = RULES[name]
    problem = f"{name} must be {describe(name)}, got {value!r}"
    if isinstance(value, bool):
        raise ValueError(problem)
    try:
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(problem)
            number: int | float = int(value) if not isinstance(value, str) else int(value.strip())
        else:
            number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(problem) from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(problem)
    if low is not None and (number < low or (number == low and not low_in)):
        raise ValueError(problem)
    if high is not None and (number > high or (number == high and not high_in)):
        raise ValueError(problem)
    return number


def check_settings(values: dict) -> None:
    """Check every known numeric setting in ``values`` (tuples such as ``channels``: each element);
    None means "the default" and passes. ValueError names the first bad one."""
    for name, value in values.items():
        if value is None or name not in RULES:
            continue
        if isinstance(value, (list, tuple)):
            if not value:
                raise ValueError(f"{name} must not be empty")
            for v in value:
                check(name, v)
        else:
            check(name, value)

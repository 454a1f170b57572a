"""The ONE checkpoint format (model I/O): :mod:`~core.checkpoint.format` writes and reads it safely,
:mod:`~core.checkpoint.integrity` checks what a file holds, :mod:`~core.checkpoint.runs` trains into it
and resumes a killed run or gives a finished one its refinement stage. Import from here: ``from core import checkpoint; checkpoint.load(path)``."""

from core.checkpoint.format import (
    DATA_KEY, FORMAT_CHANGE, FORMAT_VERSION, NOT_RECORDED, REQUIRED_KEYS, check_expect, data_summary, describe, load,
    read, record_training_data, save, trained_on, training_data, unfitted,
)
from core.checkpoint.integrity import content_checksum, structure_problem
from core.checkpoint.runs import fit, refine, refinement, resume

__all__ = [
    "DATA_KEY", "FORMAT_CHANGE", "FORMAT_VERSION", "NOT_RECORDED", "REQUIRED_KEYS", "check_expect", "content_checksum",
    "data_summary", "describe", "fit", "load", "read", "record_training_data", "refine", "refinement", "resume", "save", "structure_problem",
    "trained_on", "training_data", "unfitted",
]

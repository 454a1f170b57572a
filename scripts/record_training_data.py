"""Record what a checkpoint written before checkpoints kept the record was trained on.

    .venv/bin/python scripts/record_training_data.py CHECKPOINT SOURCE [SOURCE ...]

The record (sources, track count, corpus fingerprint, inputs hash: ``core.checkpoint.training_data``) is made
from the SOURCES as this machine builds them now, with the checkpoint's own input settings, and written into the
file by ``core.checkpoint.record_training_data``: weights, history and settings stay as they are. Give the
sources the file was trained on (for the ready-made checkpoints: ``demo``, as their commands in
checkpoints/README.md say). A file that already holds a record keeps it; fields the record lacks (the
fingerprint of each source of a model trained on several) are added when the SOURCES give the recorded
corpus fingerprint. Exit status 2 with a message naming the file or source when something does not fit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="a Songscape checkpoint (.pt)")
    ap.add_argument("sources", nargs="+", metavar="SOURCE", help="[KIND:]PATH the checkpoint was trained on")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))  # run as a file from a checkout, as scripts/check_shipped.py is

    from core import checkpoint
    from core.corpus import load_sources
    from core.errors import BadInputError
    from core.inputs import build_inputs
    from core.latents import input_params

    try:
        model = checkpoint.load(args.checkpoint)
        corpus = load_sources(list(args.sources))
        inputs, _ = build_inputs(corpus, needs=set(model.needs), **input_params(model))
        record = checkpoint.training_data(inputs, corpus)
        checkpoint.record_training_data(args.checkpoint, record)
        record = checkpoint.read(args.checkpoint)[checkpoint.DATA_KEY]  # an older record keeps its own fields
    except BadInputError as exc:  # CheckpointError included: the message names the file or the source
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.checkpoint}: trained on {checkpoint.data_summary(record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the spectrogram VAE's refinement stage costs against its main stage: seconds per optimisation step of each,
measured in one run on the same network and corpus (the main stage's step is the reference).

    python -m bench.bench_refinement --data demo --steps 40

One run of the shipped ConvVAE recipe (``create("conv")``, its batch and width) cut to one epoch of ``--steps``
steps, then one refinement epoch of as many: the callback stamps every step, and each stage's step time is the
median of its steps after the first (which carries one-time costs). The refinement freezes the encoders, so its
backward pass stops at the temporal head and the decoder.
"""

from __future__ import annotations

import argparse
import statistics
import time

from core.corpus import load_sources
from core.inputs import build_inputs
from core.models import create


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", action="append", default=None, help="source spec (default: demo)")
    ap.add_argument("--steps", type=int, default=40, help="optimisation steps timed per stage")
    args = ap.parse_args()
    corpus = load_sources(args.data or ["demo"])
    model = create("conv", epochs=1, steps_per_epoch=args.steps, refine_epochs=1)
    inputs, _ = build_inputs(corpus, needs=set(model.needs))
    stamps: dict[int, list[float]] = {}

    class Stamps:
        def on_batch(self, info) -> None:
            stamps.setdefault(int(info["epoch"]), []).append(time.perf_counter())

    started = time.perf_counter()
    model.fit(inputs, callback=Stamps())
    total = time.perf_counter() - started
    main_step, refine_step = (statistics.median(b - a for a, b in zip(s[1:], s[2:])) for s in (stamps[1], stamps[2]))
    print(f"{len(inputs)} tracks, batch {model.training.batch_size}, width {model.config.width}, "
          f"{args.steps} steps per stage, {total:.1f} s in all")
    print(f"main stage   {main_step * 1e3:7.1f} ms per step (reference)")
    print(f"refinement   {refine_step * 1e3:7.1f} ms per step   {refine_step / main_step:.2f}x the main stage's")


if __name__ == "__main__":
    main()

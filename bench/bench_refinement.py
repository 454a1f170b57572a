"""What the spectrogram VAE's refinement stage costs against its main stage, and what the σ per crop costs: seconds
per optimisation step of each, measured in one run on the same corpus (the default main stage's step is the
reference).

    python -m bench.bench_refinement --data demo --steps 40

One run of the shipped ConvVAE recipe (``create("conv")``, its batch and width) cut to one epoch of ``--steps``
steps, then one refinement epoch of as many: the callback stamps every step, and each stage's step time is the
median of its steps after the first (which carries one-time costs). The refinement freezes the encoders, so its
backward pass stops at the temporal head and the decoder. Four more runs of the main stage without the temporal
latent say what the default's losses add to a step, against the first of them (the default losses): without the
percussive shares (``percussive_also=0``: what their head and the box filters add), the mel bands scored alone as
well (``cepstral_also=0``: what the cepstral score adds), and one σ per band for every crop as well
(``crop_sigma=0``, the earlier design: what the decoder's σ head adds on top).
"""

from __future__ import annotations

import argparse
import statistics
import sys
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
    started = time.perf_counter()
    main_step, refine_step = step_times(model, inputs)
    # the main stage without the temporal latent: the default losses, then each taken away in turn
    static, no_shares, bands_alone, one_sigma = (
        step_times(create("conv", epochs=1, steps_per_epoch=args.steps, refine_epochs=0, temporal_dim=0, **losses),
                   inputs)[0]
        for losses in ({}, {"percussive_also": 0}, {"percussive_also": 0, "cepstral_also": 0},
                       {"percussive_also": 0, "cepstral_also": 0, "crop_sigma": 0}))
    total = time.perf_counter() - started
    print(f"{len(inputs)} tracks, batch {model.training.batch_size}, width {model.config.width}, "
          f"{args.steps} steps per stage, {total:.1f} s in all")
    print(f"main stage   {main_step * 1e3:7.1f} ms per step (reference)")
    print(f"refinement   {refine_step * 1e3:7.1f} ms per step   {refine_step / main_step:.2f}x the main stage's")
    print(f"main stage without the temporal latent (reference below)   {static * 1e3:7.1f} ms per step   "
          f"{static / main_step:.2f}x")
    print(f"  without the percussive shares (percussive_also=0)   {no_shares * 1e3:7.1f} ms per step   "
          f"{no_shares / static:.2f}x")
    print(f"  and the bands scored alone (cepstral_also=0)   {bands_alone * 1e3:7.1f} ms per step   "
          f"{bands_alone / static:.2f}x")
    print(f"  and one σ per band (crop_sigma=0: the earlier design)   {one_sigma * 1e3:7.1f} ms per step   "
          f"{one_sigma / static:.2f}x")


def step_times(model, inputs) -> list[float]:
    """Median seconds per step of each epoch of fitting ``model`` (the first step of each left out: it carries
    one-time costs)."""
    stamps: dict[int, list[float]] = {}

    class Stamps:
        def on_batch(self, info) -> None:
            stamps.setdefault(int(info["epoch"]), []).append(time.perf_counter())

    model.fit(inputs, callback=Stamps())
    return [statistics.median(b - a for a, b in zip(s[1:], s[2:])) for _, s in sorted(stamps.items())]


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

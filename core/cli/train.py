"""`python -m core train`: train a model on one or more sources and save the checkpoint.

Torch models write the checkpoint at the end of every epoch (with the training
state) so Ctrl-C, or a killed process, loses at most one epoch: run the same
command with ``--resume`` to continue. A finished run's checkpoint is compact
(no training state).

This module imports only the standard library at the top, so that registering the
command (and ``--help``) stays fast; ``run`` imports the pipeline when the command runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from pathlib import Path

from core.cli import setting
from core.io import check_target, exclusive
from core.params import SPECS

#: The registry's names (``core.models.MODELS``; a test checks they agree), read from the ``model`` setting's
#: spec so that ``--help`` does not import torch.
MODEL_NAMES = SPECS["model"].choices

#: The model and training config fields offered as flags (``--latent-dim`` sets ``latent_dim``), in the
#: order ``--help`` lists them. A flag is only allowed for models that have the field.
MODEL_FLAGS = ("epochs", "beta", "latent_dim", "lr", "batch_size", "modality", "inputs", "patience", "val_fraction",
               "warmup_epochs", "capacity", "capacity_epochs", "width", "steps_per_epoch", "warmup_steps",
               "free_bits", "temporal_dim", "temporal_hop", "crop_sigma", "cepstral_also", "percussive_also",
               "refine_epochs")

#: Exit status of a run that diverged (non-finite loss or KL blow-up).
EXIT_DIVERGED = 3


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a model and save its checkpoint",
        description="Train a model (VAE, ConvVAE, β-VAE or a baseline) on one or more data sources "
                    "and save a checkpoint. Ctrl-C stops cleanly and keeps the checkpoint; "
                    "continue later with --resume.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    setting(p, "model", required=True)
    p.add_argument("--data", required=True, action="append", metavar="SOURCE",
                   help="data source spec [KIND:]PATH[@LANG], e.g. 'demo', a GTZAN folder, a feature CSV, "
                        "'banglabeats:/data/bb@bng'; repeat to combine sources")
    p.add_argument("--out", required=True, type=Path, metavar="CKPT", help="checkpoint file to write (.pt)")
    p.add_argument("--resume", action="store_true",
                   help="continue the unfinished run saved in --out (same data, checked by content; its "
                        "settings are kept, --epochs may raise the total)")
    p.add_argument("--refine-from", type=Path, metavar="CKPT",
                   help="give the finished run in CKPT a refinement stage and save it as --out (may be CKPT): its "
                        "weights are kept, a spectrogram VAE without a temporal latent gains one, and only the "
                        "temporal latent and the audio decoder train, on the same data (--refine-epochs)")
    setting(p, "random_state", "--random-state", "--seed", dest="random_state")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA only for the models it speeds up), cpu, cuda, cuda:1...")
    g = p.add_argument_group("model and training settings (default: the model's own defaults)")
    for name in MODEL_FLAGS:
        setting(g, name, default=None)  # None: the model's own default
    m = p.add_argument_group("monitoring (recorded in the checkpoint; does not change the model)")
    setting(m, "metrics_every")
    setting(m, "n_clusters")  # K-Means k for --metrics-every
    p.set_defaults(func=run)


def overrides(args, model_class) -> dict:
    """The model / training fields the flags set; SystemExit naming a flag the model does not have."""
    fields = set(model_class().get_params())  # every setting of the model, config and training alike
    params = {}
    for field in MODEL_FLAGS:
        value = getattr(args, field, None)
        if value is None:
            continue
        if field not in fields:
            raise SystemExit(f"error: --{field.replace('_', '-')} does not apply to model '{args.model}'")
        params[field] = value
    return params


class _Progress:
    """tqdm bar over epochs with loss / recon / kl (+ the monitor's metrics)."""

    def __init__(self, tqdm, total: int, initial: int, monitor=None):
        self.bar = tqdm(total=total, initial=initial, desc="train", unit="epoch", dynamic_ncols=True)
        if monitor is not None:
            self.on_validation = monitor.on_validation

    def on_epoch(self, info: dict) -> None:
        self.bar.total = info["epochs"]
        self.bar.n = info["epoch"]
        post = {"loss": f"{info['loss']:.3g}", "recon": f"{info['recon']:.3g}", "kl": f"{info['kl']:.3g}",
                "val": f"{info['val_loss']:.3g}"}
        if info.get("metrics", {}).get("silhouette") is not None:
            post["sil"] = f"{info['metrics']['silhouette']:.3f}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def run(args) -> int:
    # One writer per checkpoint: a second `core train --out X` is refused at once, before any work.
    check_target(args.out)
    with exclusive(args.out, what="checkpoint"):
        return _run(args)


def _run(args) -> int:
    # Imported here, not at the top: the CLI loads torch and the pipeline only when a command runs.
    from tqdm import tqdm

    from core import checkpoint
    from core.corpus import load_sources
    from core.inputs import build_inputs
    from core.models import MODELS, create
    from core.progress import tqdm_progress
    from core.model_scores import TrainingMonitor

    cls = MODELS[args.model]
    out: Path = args.out
    saved = None
    if args.resume and args.refine_from:
        print("error: --resume continues an unfinished run, --refine-from a finished one: give one", file=sys.stderr)
        return 2
    if args.refine_from:
        saved = checkpoint.read(args.refine_from, expect_model=args.model)
        ignored = sorted(k for k in overrides(args, cls) if k != "refine_epochs")
        if ignored:
            print(f"note: --refine-from keeps the saved settings; ignoring {ignored}", file=sys.stderr)
        model = checkpoint.unfitted(saved, args.refine_from)
        mel_params = saved["feature_params"].get("mel_params")
        monitoring = saved["monitor_config"]
    elif args.resume:
        saved = checkpoint.read(out, expect_model=args.model)
        if saved.get("train_state") is None:
            print(f"error: {out}: has no training state to resume (its training already finished)", file=sys.stderr)
            return 2
        ignored = sorted(k for k in overrides(args, cls) if k != "epochs")
        if ignored:
            print(f"note: --resume keeps the saved settings; ignoring {ignored}", file=sys.stderr)
        model = checkpoint.unfitted(saved, out)
        mel_params = saved["feature_params"].get("mel_params")
        monitoring = saved["monitor_config"]
    else:
        model = create(args.model, random_state=args.random_state, device=args.device, **overrides(args, cls))
        mel_params = getattr(model.config, "mel_params", None)
        monitoring = {"every": args.metrics_every, "n_clusters": args.n_clusters} if args.metrics_every else None

    corpus = load_sources(args.data, progress=tqdm_progress("load"))
    clip_params = saved["feature_params"].get("clip_params") if saved else getattr(model.config, "clip_params", None)
    inputs, extract_skipped = build_inputs(corpus, needs=model.needs, mel_params=mel_params, clip_params=clip_params,
                                   progress=tqdm_progress("features"))
    skipped = list(corpus.skipped) + list(extract_skipped)  # what the loaders left out, then the extractor
    # ---- say when the lyrics branch is off: a corpus without lyrics would silently train an audio-only model
    if (saved is None and getattr(model.config, "modality", None) == "both" and "clips" in model.needs
            and not any(t.strip() for t in inputs.lyrics or [])):
        print(f"note: no track of {', '.join(args.data)} has lyrics: the lyrics branch is off, training "
              f"'{args.model}' on audio only (modality audio)", file=sys.stderr)
        model = create(args.model, random_state=args.random_state, device=args.device,
                       **{**overrides(args, cls), "modality": "audio"})
        inputs = dataclasses.replace(inputs, lyrics=None)
    for s in skipped[:10]:
        print(f"skipped: {s}", file=sys.stderr)
    if len(skipped) > 10:
        print(f"... and {len(skipped) - 10} more skipped", file=sys.stderr)
    if len(inputs) < 2:
        print(f"error: only {len(inputs)} usable track(s) in {args.data}; need at least 2", file=sys.stderr)
        return 2
    print(f"training '{args.model}' on {len(inputs)} tracks ({len(skipped)} skipped)", file=sys.stderr)

    monitor = None
    if monitoring:
        monitor = TrainingMonitor(n_clusters=monitoring["n_clusters"], every=monitoring["every"],
                                  random_state=model.random_state)
    if model.training is None:
        checkpoint.fit(model, inputs, out, corpus=corpus)
        print(f"saved {out}", file=sys.stderr)
        return 0
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, _stop_on_first_ctrl_c(stop))
    if saved is not None and args.epochs:
        model.training = dataclasses.replace(model.training, epochs=int(args.epochs))  # the total it will reach
    planned = None
    if args.refine_from:
        planned = checkpoint.refinement(args.refine_from, inputs, refine_epochs=args.refine_epochs)
        model = planned[0]
    progress = _Progress(tqdm, model.epochs, len(saved["history"]) if saved else 0, monitor)
    try:
        if args.refine_from:
            model = checkpoint.refine(args.refine_from, inputs, out, callback=progress, stop=stop, planned=planned)
        elif saved is not None:
            model = checkpoint.resume(out, inputs, expect_model=model.name, epochs=args.epochs,
                                      callback=progress, stop=stop)
        else:
            checkpoint.fit(model, inputs, out, corpus=corpus, callback=progress, stop=stop, monitoring=monitoring)
    finally:
        progress.close()
        signal.signal(signal.SIGINT, previous)
    h = model.history_
    if stop.is_set():
        if out.exists():
            print(f"stopped after epoch {len(h)}; saved {out} (continue with --resume)", file=sys.stderr)
        else:
            print("stopped before the first epoch ended; nothing saved", file=sys.stderr)
        return 130
    best = [r for r in h if r.get("best")]
    best_val = best[-1]["val_loss"] if best else float("nan")
    print(f"saved {out}: {len(h)} epochs, best val loss {best_val:.4g}", file=sys.stderr)
    return report_training(model, h)


def report_training(model, history: list[dict]) -> int:
    """Print what happened (modality, β normalised, active units, warnings); the exit status."""
    if not history:
        return 0
    last = history[-1]
    parts = []
    if getattr(model, "modality", None):
        parts.append(f"modality {model.modality}")
    if getattr(model.training, "beta", None) is not None:
        norm = model.beta_normalised() if hasattr(model, "beta_normalised") else None
        parts.append(f"beta {model.training.beta:g}" + (f" (normalised {norm:.3g})" if norm is not None else ""))
    if last.get("active_units") is not None and model.variational:
        parts.append(f"active units {last['active_units']} of {model.latent_dim} (KL > 0.01 nats)")
    if parts:
        print("; ".join(parts), file=sys.stderr)
    warnings = [w for r in history for w in r.get("warnings", [])]
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    return EXIT_DIVERGED if any(w.startswith("diverged") for w in warnings) else 0


def _stop_on_first_ctrl_c(stop: threading.Event):
    """A SIGINT handler: the first Ctrl-C sets ``stop`` (training ends after the batch), the second aborts."""
    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping after this batch (Ctrl-C again to abort)...", file=sys.stderr)

    return handler

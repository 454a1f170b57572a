"""`python -m core train`: train a model on one or more sources and save the checkpoint.

Torch models write the checkpoint at the end of every epoch (with the training
state) so Ctrl-C, or a killed process, loses at most one epoch: run the same
command with ``--resume`` to continue. A finished run's checkpoint is compact
(no training state).
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from pathlib import Path

#: CLI flag -> config field. A flag is only allowed for models whose config has the field.
FLAG_FIELDS = {
    "epochs": "epochs", "beta": "beta", "latent_dim": "latent_dim", "seed": "seed", "lr": "lr",
    "batch_size": "batch_size", "modality": "modality", "inputs": "inputs", "patience": "patience",
    "val_fraction": "val_fraction", "warmup_epochs": "warmup_epochs", "capacity": "capacity",
    "capacity_epochs": "capacity_epochs", "channels": "channels", "metrics_every": "metrics_every",
}


def register(subparsers) -> None:
    from core.models import MODELS

    p = subparsers.add_parser(
        "train", help="train a model and save its checkpoint",
        description="Train a model (VAE, ConvVAE, β-VAE or a baseline) on one or more data sources "
                    "and save a checkpoint. Ctrl-C stops cleanly and keeps the checkpoint; "
                    "continue later with --resume.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", required=True, choices=sorted(MODELS),
                   help="basic: dense VAE on the 57 features; conv: ConvVAE on log-mel + lyrics; "
                        "beta: conv with beta=4; ae / pca / raw: baselines (see --inputs)")
    p.add_argument("--data", required=True, action="append", metavar="SOURCE",
                   help="data source spec [KIND:]PATH[@LANG], e.g. 'demo', a GTZAN folder, a feature CSV, "
                        "'banglabeats:/data/bb@bng'; repeat to combine sources")
    p.add_argument("--out", required=True, type=Path, metavar="CKPT", help="checkpoint file to write (.pt)")
    p.add_argument("--resume", action="store_true",
                   help="continue the unfinished run saved in --out (same data; its config is kept, "
                        "--epochs may raise the total)")
    g = p.add_argument_group("model settings (default: the model's own defaults)")
    g.add_argument("--epochs", type=int, help="total number of epochs")
    g.add_argument("--beta", type=float, help="weight of the KL term (VAEs)")
    g.add_argument("--latent-dim", type=int, help="size of the latent space")
    g.add_argument("--seed", type=int, help="random seed (split, shuffling, initialisation)")
    g.add_argument("--lr", type=float, help="Adam learning rate")
    g.add_argument("--batch-size", type=int, help="mini-batch size")
    g.add_argument("--modality", choices=("both", "audio", "lyrics"),
                   help="conv/beta (and ae/pca on mel): which inputs feed the latent space")
    g.add_argument("--inputs", choices=("features", "mel"), help="ae / pca / raw: 57 features or log-mel")
    g.add_argument("--patience", type=int, help="early stopping after this many epochs without improvement")
    g.add_argument("--val-fraction", type=float, help="fraction of tracks held out for validation")
    g.add_argument("--warmup-epochs", type=int, help="KL warm-up: beta grows linearly over this many epochs")
    g.add_argument("--capacity", type=float, help="capacity schedule: target KL in nats (Burgess et al.)")
    g.add_argument("--capacity-epochs", type=int, help="epochs over which the capacity grows to --capacity")
    g.add_argument("--channels", type=lambda s: tuple(int(c) for c in s.split(",")), metavar="C1,C2,C3,C4",
                   help="conv channels, e.g. 16,32,64,128")
    g.add_argument("--metrics-every", type=int, help="K-Means silhouette on validation latents every k epochs")
    p.set_defaults(func=run)


def _overrides(args, config_class) -> dict:
    fields = {f.name for f in dataclasses.fields(config_class)}
    params = {}
    for flag, field in FLAG_FIELDS.items():
        value = getattr(args, flag, None)
        if value is None:
            continue
        if field not in fields:
            raise SystemExit(f"error: --{flag.replace('_', '-')} does not apply to model '{args.model}'")
        params[field] = value
    return params


class _Bar:
    """tqdm bar over epochs with loss / recon / kl."""

    def __init__(self, total: int, initial: int):
        from tqdm import tqdm

        self.bar = tqdm(total=total, initial=initial, desc="train", unit="epoch", dynamic_ncols=True)

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
    from core import checkpoint
    from core.corpus import load_sources
    from core.latents import build_inputs
    from core.models import MODELS, create
    from core.models.base import TorchModel, config_from_dict
    from core.progress import tqdm_progress

    cls = MODELS[args.model]
    out: Path = args.out
    resume_from = None
    if args.resume:
        resume_from = checkpoint.read(out, expect_model=args.model)
        if resume_from.get("train_state") is None:
            print(f"error: {out}: has no training state to resume (its training already finished)", file=sys.stderr)
            return 2
        config = config_from_dict(cls.config_class, resume_from["config"])
        ignored = {k: v for k, v in _overrides(args, cls.config_class).items() if k != "epochs"}
        if ignored:
            print(f"note: --resume keeps the saved config; ignoring {sorted(ignored)}", file=sys.stderr)
        if args.epochs is not None:
            config = dataclasses.replace(config, epochs=args.epochs)
        model = create(args.model, config=config)
    else:
        model = create(args.model, **_overrides(args, cls.config_class))

    corpus = load_sources(args.data, progress=tqdm_progress("load"))
    mel_params = None
    if resume_from is not None:
        mel_params = resume_from["feature_params"].get("mel_params")
    elif getattr(model.config, "mel_params", None):
        mel_params = model.config.mel_params
    inputs, skipped = build_inputs(corpus, needs=model.needs, mel_params=mel_params,
                                   progress=tqdm_progress("features"))
    for s in skipped[:10]:
        print(f"skipped: {s}", file=sys.stderr)
    if len(skipped) > 10:
        print(f"... and {len(skipped) - 10} more skipped", file=sys.stderr)
    if len(inputs) < 2:
        print(f"error: only {len(inputs)} usable track(s) in {args.data}; need at least 2", file=sys.stderr)
        return 2
    print(f"training '{args.model}' on {len(inputs)} tracks ({len(skipped)} skipped)", file=sys.stderr)

    if not isinstance(model, TorchModel):
        model.fit(inputs)
        checkpoint.save(model, out)
        print(f"saved {out}", file=sys.stderr)
        return 0

    stop = threading.Event()

    def on_sigint(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping after this batch (Ctrl-C again to abort)...", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_sigint)
    done_before = len(resume_from["history"]) if resume_from is not None else 0
    bar = _Bar(model.config.epochs, done_before)
    try:
        model.fit(inputs, callback=bar, stop=stop, state_path=out, resume=args.resume)
    finally:
        bar.close()
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
    return 0

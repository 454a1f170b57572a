"""`python -m core info CKPT`: what a checkpoint holds (model, config, features, training summary)."""

from __future__ import annotations

import json
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "info", help="describe a checkpoint",
        description="Print a checkpoint's model, its model / training / monitoring settings, what it was trained "
                    "on (sources, track count, corpus fingerprint), feature parameters "
                    "and training history summary "
                    "(epochs, best validation loss, final KL per latent dimension). Exits non-zero, "
                    "saying why, when the file is not a usable checkpoint.")
    p.add_argument("checkpoint", type=Path, metavar="CKPT", help="checkpoint file (.pt)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and value and all(isinstance(v, float) for v in value):
        return "[" + ", ".join(f"{v:.3g}" for v in value) + "]"
    return str(value)


def run(args) -> int:
    # Imported here, not at the top: the CLI loads torch only when a command runs.
    from core.checkpoint import data_summary, describe

    info = describe(args.checkpoint)  # CheckpointError -> "error: PATH: why", exit 2
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"checkpoint  {info['path']}")
    print(f"model       {info['model']}  (format {info['format_version']}, written by songscape "
          f"{info['songscape']}, {info['n_weights']:,} weights"
          f"{', resumable' if info['resumable'] else ''})")
    for title, key in (("model config", "model_config"), ("training config", "train_config"),
                       ("monitoring", "monitor_config")):
        if info[key]:
            print(title)
            width = max(16, *map(len, info[key]))
            for k, v in info[key].items():
                print(f"  {k:<{width}} {_fmt(v)}")
    print(f"random state  {info['random_state']}")
    print(f"trained on  {data_summary(info['training_data'])}")
    if info["training_data"] and info["training_data"].get("inputs_hash"):
        print(f"  inputs hash      {info['training_data']['inputs_hash']}  (the arrays trained on)")
    if info.get("modality"):
        print(f"modality    {info['modality']}  (what the model really uses)")
    if info.get("beta") is not None:
        norm = info.get("beta_normalised")
        print(f"beta        {_fmt(float(info['beta']))}" + (f"  (normalised beta*d/(F*T) = {norm:.3g})" if norm else ""))
    print("feature parameters")
    for k, v in info["feature_params"].items():
        print(f"  {k:<16} {_fmt(v)}")
    hist = info.get("history")
    if hist:
        print("training")
        refined = hist.get("refine_epochs")
        print(f"  epochs           {hist['epochs']}" + (f"  ({hist['epochs'] - refined} main, then {refined} of "
                                                         "refinement: temporal latent and decoder only)"
                                                         if refined else ""))
        print(f"  best epoch       {hist['best_epoch']}  (val loss {_fmt(hist['best_val_loss'])})")
        print(f"  final loss       {_fmt(hist['final_loss'])}  (val {_fmt(hist['final_val_loss'])})")
        print(f"  final KL per dim {_fmt(hist['final_kl_per_dim'])}")
        if hist.get("steps"):
            print(f"  steps            {hist['steps']}")
        if hist.get("active_units") is not None:
            print(f"  active units     {hist['active_units']}  (latent dimensions with KL > 0.01 nats)")
        for w in hist.get("warnings") or []:
            print(f"  warning          {w}")
    else:
        print("training    none (not a trained network)")
    return 0

"""The spectrogram VAE with its shipped defaults on a corpus: NMI / ARI against the labels, self-retrieval, time.

    python -m bench.bench_conv --data gtzan:../shared/data/gtzan_mini --model conv --seeds 0 1 2

Each seed trains ``create(model, random_state=seed)`` (shipped defaults; ``--device`` picks CPU or CUDA),
encodes every track (product of its crop posteriors), scores the latents through ``core.scoring``
(K-Means with k = the number of classes of each label column) and measures the reconstructions
of the centre excerpts: self-retrieval = share of tracks whose reconstruction is nearer (RMS dB)
to their own excerpt than to any other track's (chance 1/n), next to the RMS dB distance to the
reconstruction and to the corpus-mean excerpt. Labels are read only to score.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from core.corpus import load_sources
from core.inputs import build_inputs
from core.models import create
from core.reconstruction import model_reconstruction_measures
from core.scoring import label_table, score_by_label


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", action="append", required=True)
    ap.add_argument("--model", default="conv")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a model / training setting (JSON value), e.g. --set epochs=10")
    ap.add_argument("--json", type=Path, help="write the rows here")
    args = ap.parse_args()
    corpus = load_sources(args.data)
    extra = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    rows = []
    for seed in args.seeds:
        model = create(args.model, random_state=seed, device=args.device, **extra)
        inputs, _ = build_inputs(corpus, needs=model.needs, clip_params=model.config.clip_params)
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(inputs)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        Z = model.encode(inputs)
        labels = label_table(corpus, track_ids=inputs.track_ids)
        report = score_by_label(np.asarray(Z, np.float64), labels, random_state=seed)
        row = {"model": args.model, "seed": seed, "n": len(inputs), "d": int(Z.shape[1]),
               "train_wall_s": round(wall, 1), "train_cpu_s": round(cpu, 1),
               "steps": model.history_[-1].get("step"), "batch_size": model.history_[-1].get("batch_size"),
               "active_units": model.history_[-1].get("active_units"),
               "warnings": [w for h in model.history_ for w in h.get("warnings", [])],
               **{k: round(float(v), 4) for k, v in report.items() if k.startswith(("nmi_", "ari_"))}}
        if "clips" in model.needs:
            row.update({k: round(v, 4) for k, v in
                        model_reconstruction_measures(model, inputs).items() if k != "chance"})
        rows.append(row)
        print(json.dumps(row), flush=True)
    for key in sorted({k for r in rows for k in r if k.startswith(("nmi_", "self_"))}):
        vals = [r[key] for r in rows if key in r]
        print(f"{key}: mean {np.mean(vals):.3f} ± {np.std(vals):.3f} over {len(vals)} seed(s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

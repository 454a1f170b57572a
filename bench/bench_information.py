"""Which latent dimensions know what, per checkpoint: mutual information gap and best dimensions (RESULTS.md §4).

Run:  .venv/bin/python -m bench.bench_information [--corpus demo] [--seeds 3] CHECKPOINT [CHECKPOINT ...]

For each checkpoint: encode the corpus (cached), estimate the normalised mutual information of every
latent dimension with each label column (``core.information.dimension_information``, k-NN estimator,
one run per estimator seed), and print the mutual information gap per label, the best dimension's share,
and the best dimension of each latent block, as mean ± std over the seeds. Labels only score.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from core import checkpoint, information
from core.blocks import column_names
from core.corpus import load_sources
from core.latents import encode_corpus
from core.scoring import label_table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT")
    p.add_argument("--corpus", default="demo", help="a source spec (default: demo)")
    p.add_argument("--labels", default="genre,language", help="comma list of label columns")
    p.add_argument("--seeds", type=int, default=3, help="estimator seeds")
    args = p.parse_args()
    corpus = load_sources([args.corpus])
    columns = [c.strip() for c in args.labels.split(",") if c.strip()]
    for path in args.checkpoints:
        model = checkpoint.load(path)
        ids, Z = encode_corpus(model, corpus)
        labels = label_table(corpus, columns, track_ids=ids)
        found = model.latent_blocks()
        tables = [information.dimension_information(Z, labels, random_state=s, names=column_names(found, "all"))
                  for s in range(args.seeds)]
        rows = pd.DataFrame([pd.concat([information.mig(t).add_prefix("mig_"), t.max().add_prefix("best_")])
                             for t in tables])
        print(f"{path}: " + "  ".join(f"{c} {rows[c].mean():.3f} ± {rows[c].std(ddof=0):.3f}" for c in rows.columns))
        if len(found) > 1:
            blocks = sum(information.block_information(t, found) for t in tables) / len(tables)
            print("  best dimension of each block (mean over seeds):\n" + blocks.round(3).to_string())


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

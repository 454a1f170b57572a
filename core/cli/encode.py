"""`python -m core encode`: the latent means of a corpus under a checkpoint, as CSV or Parquet (optionally on Dask)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from core.corpus import load_sources
from core.distributed import parse_cluster
from core.embeddings import write_table
from core.io import check_target
from core.latents import latents_for
from core.progress import tqdm_progress


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "encode",
        description=(
            "Encode every track of the SOURCES with a checkpoint and write one row per track: track_id, "
            "genre, language and the latent means z0..z{d-1}. Features are extracted (and cached) as needed; "
            "the latents are cached too, so a second run only reads the cache. With --cluster the corpus "
            "is encoded on Dask in chunks (the model is sent to each worker once). Tracks whose inputs "
            "cannot be built are left out. The output is written atomically."
        ),
    )
    p.add_argument("checkpoint", type=Path, help="a checkpoint (.pt) saved by `python -m core train`")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="[KIND:]PATH[@LANG] of a data set, folder or manifest")
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="file to write: .parquet for Parquet, anything else (.csv) for CSV")
    p.add_argument("--cluster", default=None, metavar="local:N|tcp://HOST:PORT",
                   help="encode on Dask: local:N starts N worker processes here, tcp://HOST:PORT uses a running "
                        "`dask scheduler` (workers must see the audio and the checkpoint's inputs at the same "
                        "paths); default: this process")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.cluster is not None:
        parse_cluster(args.cluster)  # a bad value fails before any work
    check_target(args.out)
    corpus = load_sources(list(args.sources))
    ids, Z = latents_for(args.checkpoint, corpus, progress=tqdm_progress("encode"), cluster=args.cluster)
    tracks = corpus.tracks.set_index("track_id").loc[ids]
    out = pd.DataFrame({"track_id": ids, "genre": tracks["genre"].to_numpy(),
                        "language": tracks["language"].to_numpy()})
    out = pd.concat([out, pd.DataFrame(Z, columns=[f"z{i}" for i in range(Z.shape[1])])], axis=1)
    write_table(out, args.out)
    print(f"wrote the {Z.shape[1]}-d latents of {len(out)} of {len(corpus)} tracks to {args.out}")
    return 0 if len(out) else 1

"""`python -m core encode`: the latent means of a corpus under a checkpoint, as CSV or Parquet (optionally on Dask)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from core.blocks import MIN_PAIRED, PARTS, column_names, default_part, fitted_part, parts, view
from core.corpus import load_sources
from core.errors import BadInputError
from core.distributed import parse_cluster
from core.embeddings import write_table
from core.io import check_target
from core.latents import LEVELS, MIN_LEVEL_TRACKS, band_levels_of, model_and_latents
from core.progress import tqdm_progress


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "encode",
        description=(
            "Encode every track of the SOURCES with a checkpoint and write one row per track: track_id, "
            "genre, language and the latent means (z0..z{d-1}; a model with audio and lyrics names its "
            "columns by block, audio_*, crop_*, lyrics_*). --part chooses which part of the latent: a model "
            "with audio and lyrics writes its 'joint' part by default (the lyrics, and the audio as far as it "
            "predicts them: the part the dashboard clusters), 'all' writes the posterior means as encoded. Features are extracted (and cached) as needed; "
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
    p.add_argument("--part", choices=list(PARTS), default=None,
                   help="which part of the latent to write: " + "; ".join(f"{k}: {v}" for k, v in PARTS.items())
                        + " (default: joint for a model with audio and lyrics, else all)")
    p.add_argument("--levels", choices=list(LEVELS), default="auto",
                   help="mel band levels a spectrogram model standardises the audio by: " + "; ".join(
                       f"{k}: {v}" for k, v in LEVELS.items()) + f" (auto needs {MIN_LEVEL_TRACKS} tracks). The "
                       "collection's own help a collection recorded unlike the training corpus (other codec or "
                       "mastering; RESULTS.md, 'Band levels of the collection'); a track's latents then depend on "
                       "the collection it is encoded with")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.cluster is not None:
        parse_cluster(args.cluster)  # a bad value fails before any work
    check_target(args.out)
    corpus = load_sources(list(args.sources))
    model, ids, Z = model_and_latents(args.checkpoint, corpus, progress=tqdm_progress("encode"), cluster=args.cluster,
                                      levels=args.levels)
    audio_inputs = sorted(set(model.needs) & {"mel", "clips"})
    if not ids and audio_inputs and not corpus.has_audio:  # say why, rather than write a header-only file
        raise BadInputError(args.checkpoint, f"its model ({model.name}) reads spectrograms of the audio "
                                             f"({', '.join(audio_inputs)}), and {' '.join(args.sources)} has no "
                                             f"audio (a feature table): none of its {len(corpus)} tracks can be "
                                             "encoded. Use a checkpoint of a feature model (basic, ae, pca, raw) "
                                             "or point at the audio")
    found = model.latent_blocks()
    part = args.part or default_part(found)
    if part not in parts(found):
        raise BadInputError("--part", f"'{part}' is not a part of this checkpoint; it has {parts(found)}")
    fallback = (f", which is the balanced part here: fewer than {MIN_PAIRED} tracks have lyrics to relate the "
                "audio to" if fitted_part(Z, found, part) != part else "")
    Z = view(Z, found, part)
    tracks = corpus.tracks.set_index("track_id").loc[ids]
    out = pd.DataFrame({"track_id": ids, "genre": tracks["genre"].to_numpy(),
                        "language": tracks["language"].to_numpy()})
    out = pd.concat([out, pd.DataFrame(Z, columns=column_names(found, part))], axis=1)
    write_table(out, args.out)
    levels = " with the collection's band levels" if band_levels_of(model) == "collection" else ""
    print(f"wrote the {Z.shape[1]}-d latents ({part} part{fallback}{levels}) of {len(out)} of {len(corpus)} tracks to "
          f"{args.out}")
    return 0 if len(out) else 1

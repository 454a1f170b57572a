"""`python -m core features`: the 57 GTZAN features of audio sources, as a Kaggle-layout CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "features",
        help="extract the 57 GTZAN features of audio sources to a CSV",
        description=(
            "Extract the 57-value GTZAN feature vector (chroma, RMS, spectral centroid/bandwidth/rolloff, "
            "zero-crossing rate, harmonic/percussive, tempo, 20 MFCCs; means and variances) of every track "
            "and write it in the layout of the Kaggle features_30_sec.csv: filename, length, the 57 "
            "features, label (genre) and language when known. A SOURCE is [KIND:]PATH[@LANG], e.g. "
            "gtzan:~/data/gtzan/genres_original@eng or a folder of audio files. Results are cached, so a "
            "second run only reads the cache. Files that cannot be used are skipped and listed at the end."
        ),
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="[KIND:]PATH[@LANG] of a data set, folder or manifest")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.csv", help="CSV file to write")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the feature cache")
    p.add_argument("--cluster", default=None, metavar="local:N|tcp://HOST:PORT",
                   help="compute on Dask: local:N starts N worker processes here, tcp://HOST:PORT uses a running "
                        "`dask scheduler` (workers must see the audio at the same paths); default: local pool")
    p.add_argument("--shared-cache", action="store_true",
                   help="with --cluster: the cache folder is at the same path on every worker (shared storage "
                        "with atomic rename, e.g. local disk or NFSv4, not an object store); workers write it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from core.audio import n_samples
    from core.config import SAMPLE_RATE
    from core.corpus.sources import load_sources
    from core.distributed import parse_cluster
    from core.errors import BadInputError
    from core.features.extract import extract
    from core.features.gtzan57 import FEATURE_NAMES
    from core.progress import tqdm_progress

    if args.cluster is not None:
        parse_cluster(args.cluster)  # a bad value fails before any work
    if args.shared_cache and (args.cluster is None or args.no_cache):
        raise BadInputError(None, "--shared-cache needs --cluster and the cache (not --no-cache)")
    corpus = load_sources(list(args.sources))
    fs = extract(corpus, kind="gtzan57", n_jobs=args.jobs, progress=tqdm_progress("features"),
                 cache=not args.no_cache, cluster=args.cluster, shared_cache=args.shared_cache)
    tracks = corpus.tracks.set_index("track_id").loc[fs.track_ids]

    def length(track_id: str, path: str) -> object:
        if "length" in tracks.columns and str(tracks.at[track_id, "length"]) not in ("", "nan"):
            return int(float(tracks.at[track_id, "length"]))
        if not path:
            return ""
        try:
            return n_samples(path, sr=SAMPLE_RATE)
        except BadInputError:
            return ""

    paths = tracks["path"].tolist()
    given = tracks["filename"].astype(str).tolist() if "filename" in tracks.columns else [""] * len(paths)

    def filename(track_id: str, path: str, name: str) -> str:
        if name and name != "nan":
            return name  # a feature table's own file names
        return Path(path).name if path else track_id

    out = pd.DataFrame({
        "filename": [filename(t, p, g) for t, p, g in zip(fs.track_ids, paths, given)],
        "length": [length(tid, p) for tid, p in zip(fs.track_ids, paths)],
    })
    out = pd.concat([out, pd.DataFrame(np.asarray(fs.X), columns=list(FEATURE_NAMES))], axis=1)
    out["label"] = tracks["genre"].to_numpy()
    if (tracks["language"] != "").any():
        out["language"] = tracks["language"].to_numpy()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False)
    print(f"wrote features of {len(out)} tracks to {args.out}")
    skipped = list(corpus.skipped) + list(fs.skipped)
    if skipped:
        print(f"skipped {len(skipped)}:", file=sys.stderr)
        for s in skipped:
            print(f"  {s}", file=sys.stderr)
    return 0 if len(out) else 1

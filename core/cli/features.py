"""`python -m core features`: the 57 GTZAN features of audio sources, as a Kaggle-layout CSV or Parquet file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from core.audio import n_samples
from core.cli import setting
from core.config import SAMPLE_RATE
from core.corpus import FEATURE_NAMES, Corpus, load_sources
from core.distributed import parse_cluster
from core.embeddings import write_table
from core.errors import BadInputError
from core.features import FeatureSet, extract
from core.io import check_target
from core.progress import tqdm_progress


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "features",
        description=(
            "Extract the 57-value GTZAN feature vector (chroma, RMS, spectral centroid/bandwidth/rolloff, "
            "zero-crossing rate, harmonic/percussive, tempo, 20 MFCCs; means and variances) of every track "
            "and write it in the layout of the Kaggle features_30_sec.csv: filename, length, the 57 "
            "features, label (genre) and language when known. A SOURCE is [KIND:]PATH[@LANG], e.g. "
            "gtzan:~/data/gtzan/genres_original@eng or a folder of audio files. Results are cached, so a "
            "second run only reads the cache. Files that cannot be used are skipped and listed at the end. "
            "The output is written atomically: an interrupted run leaves the previous file as it was."
        ),
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="[KIND:]PATH[@LANG] of a data set, folder or manifest")
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="file to write: .parquet for Parquet, anything else (.csv) for CSV")
    setting(p, "jobs")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the feature cache")
    p.add_argument("--cluster", default=None, metavar="local:N|tcp://HOST:PORT",
                   help="compute on Dask: local:N starts N worker processes here, tcp://HOST:PORT uses a running "
                        "`dask scheduler` (workers must see the audio at the same paths); default: local pool")
    p.add_argument("--shared-cache", action="store_true",
                   help="with --cluster: the cache folder is at the same path on every worker (shared storage "
                        "with atomic rename, e.g. local disk or NFSv4, not an object store); workers write it")
    p.set_defaults(func=run)


def feature_table(corpus: Corpus, fs: FeatureSet) -> pd.DataFrame:
    """The Kaggle layout: ``filename, length``, the 57 features, ``label`` and (when known) ``language``.

    ``length`` is the table's own value when the source is a feature table, else the clip's number of
    samples at 22,050 Hz read from its header; empty (NA) when neither is known.
    """
    tracks = corpus.tracks.set_index("track_id").loc[fs.track_ids]
    paths = tracks["path"].tolist()
    given = tracks["filename"].astype(str).tolist() if "filename" in tracks.columns else [""] * len(paths)
    lengths = tracks["length"].tolist() if "length" in tracks.columns else [""] * len(paths)
    joined = tracks["clips"].astype(str).ne("").tolist() if "clips" in tracks.columns else [False] * len(paths)
    out = pd.DataFrame({
        "filename": _filenames(fs.track_ids, paths, given, joined),
        "length": pd.array([_length(p, n) for p, n in zip(paths, lengths)], dtype="Int64"),
    })
    out = pd.concat([out, pd.DataFrame(fs.X, columns=list(FEATURE_NAMES))], axis=1)
    out["label"] = tracks["genre"].to_numpy()
    if (tracks["language"] != "").any():
        out["language"] = tracks["language"].to_numpy()
    return out


def _filenames(track_ids: list[str], paths: list[str], given: list[str], joined: list[bool]) -> list[str]:
    """One unique file name per row, read back by ``features:`` as the same track ids.

    A feature table's own names are kept; a joined BanglaBeats track is ``<track id>.wav`` (its audio is a
    cache file named by a hash); otherwise the audio file's name, or the track id plus the extension where
    two files of the same name lie in different folders.
    """
    names = []
    for tid, path, g, j in zip(track_ids, paths, given, joined):
        if g and g != "nan":
            names.append(g)  # a feature table's own file names
        elif not path:
            names.append(tid)
        else:
            names.append(f"{tid}{Path(path).suffix}" if j else Path(path).name)
    counts = pd.Series(names).value_counts()
    return [f"{tid}{Path(p).suffix}" if p and counts[n] > 1 else n
            for n, tid, p in zip(names, track_ids, paths)]


def _length(path: str, given: object) -> int | None:
    if str(given) not in ("", "nan"):
        return int(float(given))
    if not path:
        return None
    try:
        return n_samples(path, sr=SAMPLE_RATE)
    except BadInputError:
        return None


def run(args: argparse.Namespace) -> int:
    if args.cluster is not None:
        parse_cluster(args.cluster)  # a bad value fails before any work
    if args.shared_cache and (args.cluster is None or args.no_cache):
        raise BadInputError(None, "--shared-cache needs --cluster and the cache (not --no-cache)")
    check_target(args.out)
    corpus = load_sources(list(args.sources))
    fs = extract(corpus, kind="gtzan57", n_jobs=args.jobs, progress=tqdm_progress("features"),
                 cache=not args.no_cache, cluster=args.cluster, shared_cache=args.shared_cache)
    out = feature_table(corpus, fs)
    write_table(out, args.out)
    print(f"wrote features of {len(out)} tracks to {args.out}")
    skipped = list(corpus.skipped) + list(fs.skipped)
    if skipped:
        print(f"skipped {len(skipped)}:", file=sys.stderr)
        for s in skipped:
            print(f"  {s}", file=sys.stderr)
    return 0 if len(out) else 1

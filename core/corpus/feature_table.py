"""Precomputed 57-feature tables (Kaggle ``features_30_sec.csv`` / ``features_3_sec.csv``, the study's table).

A feature table with an unknown column is an error (it would otherwise be
silently ignored or misread as a feature); ``filename, length, label, genre,
language`` are the known non-feature columns, and pandas index columns
(``Unnamed: 0``) are dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from core.audio import is_audio_path
from core.corpus.columns import FEATURE_NAMES, FEATURE_TABLE_META
from core.corpus.table import Corpus
from core.errors import BadInputError


#: Larger feature values are refused: squared (variances, standardisation) they overflow float32, and no
#: GTZAN feature comes near (the largest, spectral variances, are about 1e7).
MAX_FEATURE_VALUE = 1e15

_INDEX_COLUMN = re.compile(r"^Unnamed: \d+$")
_SEGMENT = re.compile(r"^(?P<song>.+\.\d+)\.(?P<segment>\d+)$")


def _strip_audio_ext(name: str) -> str:
    """``blues.00000.wav`` -> ``blues.00000``; ``rock/song.wav`` -> ``rock/song`` (a folder part is kept, so
    two songs of the same name in different folders keep different ids)."""
    p = Path(name)
    return p.with_suffix("").as_posix() if is_audio_path(p) else name


def _rows_and_cols(bad: pd.DataFrame, names: pd.Series) -> str:
    """``N row(s) [filenames] (CSV lines [..]), column(s) [...]``."""
    mask = bad.any(axis=1).to_numpy()
    rows = names[mask].tolist()
    lines = (np.flatnonzero(mask) + 2).tolist()[:5]
    cols = bad.columns[bad.any(axis=0).to_numpy()].tolist()
    more = f" (+{len(rows) - 5} more)" if len(rows) > 5 else ""
    return f"{len(rows)} row(s) {rows[:5]}{more} (CSV line(s) {lines}), column(s) {cols[:8]}"


def read_feature_table(path: str | Path, *, language: str | None = None) -> Corpus:
    """A precomputed 57-feature table (Kaggle ``features_30_sec.csv`` / ``features_3_sec.csv`` or the study's
    GTZAN+BanglaBeats table) as a corpus without audio.

    Columns: ``filename`` and the 57 GTZAN features are required; ``length``, ``label`` (or ``genre``) and
    ``language`` are optional. ``language`` (the argument) overrides the column for every row. Genre labels are
    kept as given (GTZAN ``hiphop`` and BanglaBeats ``Hiphop`` stay different labels).

    Track ids are the file names without the audio extension. When every name looks like a 3-second segment
    (``blues.00000.3.wav``) the ``song`` (``blues.00000``) and ``segment`` (3) columns are added.

    Raises
    ------
    BadInputError
        Naming the file and the columns or rows: missing or unknown columns, duplicate file names,
        non-numeric, NaN or infinite feature values.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInputError(path, "feature table not found")
    try:
        df = pd.read_csv(path, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BadInputError(path, f"not a readable CSV table: {exc}") from exc
    df = df.rename(columns=lambda c: str(c).strip())
    df = df[[c for c in df.columns if not _INDEX_COLUMN.match(c)]]
    names = list(FEATURE_NAMES)
    missing = [c for c in ["filename"] + names if c not in df.columns]
    if missing:
        raise BadInputError(path, f"feature table lacks {len(missing)} column(s): {missing[:10]}"
                                  + (" ..." if len(missing) > 10 else ""))
    unknown = [c for c in df.columns if c not in names and c not in FEATURE_TABLE_META]
    if unknown:
        raise BadInputError(path, f"feature table has unknown column(s) {unknown}; expected only "
                                  f"{list(FEATURE_TABLE_META)} and the 57 GTZAN feature columns")
    if df.empty:
        raise BadInputError(path, "feature table has no rows")
    blank = df["filename"].isna().to_numpy() | (df["filename"].astype(str).str.strip() == "").to_numpy()
    if blank.any():
        rows = [str(i + 2) for i in np.flatnonzero(blank)[:5]]  # +2: the header is line 1
        raise BadInputError(path, f"{int(blank.sum())} row(s) have no filename (lines {', '.join(rows)} of the file)")
    filenames = df["filename"].astype(str).str.strip()
    dups = filenames[filenames.duplicated()].unique().tolist()
    if dups:
        raise BadInputError(path, f"duplicate filename(s) {dups[:5]}")
    raw = df[names]
    values = raw.apply(pd.to_numeric, errors="coerce")
    non_numeric = values.isna() & raw.notna()
    if non_numeric.any().any():
        raise BadInputError(path, f"non-numeric feature values in {_rows_and_cols(non_numeric, filenames)}")
    if values.isna().any().any():
        raise BadInputError(path, f"missing (NaN) feature values in {_rows_and_cols(values.isna(), filenames)}")
    inf = pd.DataFrame(np.isinf(values.to_numpy(dtype=np.float64)), columns=names)
    if inf.any().any():
        raise BadInputError(path, f"infinite feature values in {_rows_and_cols(inf, filenames)}")
    huge = pd.DataFrame(np.abs(values.to_numpy(dtype=np.float64)) > MAX_FEATURE_VALUE, columns=names)
    if huge.any().any():
        raise BadInputError(path, f"feature values too large (beyond ±{MAX_FEATURE_VALUE:.0e}; the models compute "
                                  f"in float32) in {_rows_and_cols(huge, filenames)}")

    ids = filenames.map(_strip_audio_ext)
    tracks = pd.DataFrame({
        "track_id": ids,
        "path": "",
        "genre": df["label"] if "label" in df.columns else df.get("genre", ""),
        "language": language if language is not None else df.get("language", ""),
        "lyrics": "",
        "source": "features",
        "filename": filenames,
    })
    if "length" in df.columns:
        tracks["length"] = df["length"].to_numpy()
    segments = ids.str.extract(_SEGMENT)
    if segments.notna().all().all():
        tracks["song"] = segments["song"].to_numpy()
        tracks["segment"] = segments["segment"].astype(int).to_numpy()
    features = pd.DataFrame(values.to_numpy(dtype=np.float64), index=ids.to_numpy(), columns=names)
    return Corpus(tracks, features, [], "features")


def looks_like_feature_table(path: Path) -> bool:
    try:
        header = pd.read_csv(path, nrows=0).columns
    except Exception:  # noqa: BLE001 - autodetection only; the real loader reports the error
        return False
    return all(n in header for n in FEATURE_NAMES)

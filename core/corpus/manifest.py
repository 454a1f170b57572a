"""CSV manifests: one row per audio file, with optional labels, lyrics and metadata columns."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pandas as pd

from core.corpus.columns import FEATURE_NAMES
from core.corpus.roots import lyrics_locations
from core.corpus.scan import read_lyrics
from core.corpus.table import Corpus
from core.errors import BadInputError, Skipped


#: Manifest columns read as text, whatever they look like.
_TEXT_COLUMNS = ("track_id", "path", "genre", "language", "lyrics", "lyrics_file")
#: Spellings of "no value" in a label column.
_MISSING = {"", "nan", "na", "n/a", "null", "none", "<na>"}


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip().lower() in _MISSING


def _not_a_manifest(columns: list[str]) -> str:
    """What a CSV without a ``path`` column looks like, and what to do."""
    features = [c for c in columns if c in FEATURE_NAMES]
    if features:
        missing = [c for c in FEATURE_NAMES if c not in columns]
        gap = f"; it lacks {len(missing)} of the 57 feature column(s), e.g. {missing[:5]}" if missing else ""
        return (f"looks like a feature table ({len(features)} of the 57 GTZAN feature columns{gap}), not a "
                "manifest: a manifest needs a 'path' column; open a complete feature table as features:PATH")
    shown = columns[:10] + (["..."] if len(columns) > 10 else [])
    return (f"is neither a manifest nor a feature table: a manifest needs a 'path' column (audio file per row), "
            f"a feature table 'filename' and the 57 GTZAN feature columns; this CSV has {len(columns)} "
            f"column(s) {shown}")


def load_manifest(csv_path: str | Path, *, source: str = "manifest") -> Corpus:
    """A CSV manifest: ``path`` required; ``track_id, genre, language, lyrics, lyrics_file`` optional;
    any other column is kept as metadata.

    Relative paths (audio and ``lyrics_file``) resolve against the CSV's folder. A row whose audio file is
    missing or empty is skipped and listed; so is a lyrics file that cannot be decoded (the track is kept
    without lyrics). Without ``track_id`` the id is the audio path relative to the CSV's folder, without
    extension.
    """
    csv_path = Path(csv_path).expanduser()
    if not csv_path.is_file():
        raise BadInputError(csv_path, "manifest not found")
    base = csv_path.resolve().parent
    try:
        # ids, labels, paths and lyrics are text: "1" and "1.0" stay two ids, "NaN" is read as written
        df = pd.read_csv(csv_path, keep_default_na=False, na_values=[""], low_memory=False,
                         dtype={c: str for c in _TEXT_COLUMNS})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BadInputError(csv_path, f"not a readable CSV manifest: {exc}") from exc
    df = df.rename(columns=lambda c: str(c).strip())
    if "path" not in df.columns:
        raise BadInputError(csv_path, _not_a_manifest(list(df.columns)))
    for col in ("genre", "language"):
        if col in df.columns:  # a missing label is unknown (""), never a class called "NaN"
            df[col] = df[col].map(lambda v: "" if _missing(v) else str(v).strip()).astype(object)
    allowed = lyrics_locations(base)
    skipped: list[Skipped] = []
    rows = []
    for i, rec in enumerate(df.to_dict("records")):
        raw = rec.get("path")
        if raw is None or (isinstance(raw, float) and np.isnan(raw)) or not str(raw).strip():
            skipped.append(Skipped(f"{csv_path}:{i + 2}", "row has an empty path"))
            continue
        p = Path(str(raw).strip()).expanduser()
        p = p if p.is_absolute() else base / p
        try:
            st = p.stat()
        except FileNotFoundError:
            st = None
        except OSError as exc:
            skipped.append(Skipped(str(p), f"audio file cannot be read ({exc.strerror}) (manifest row {i + 2})"))
            continue
        if st is None or stat.S_ISDIR(st.st_mode):
            skipped.append(Skipped(str(p), f"audio file not found (manifest row {i + 2})"))
            continue
        if not stat.S_ISREG(st.st_mode):
            skipped.append(Skipped(str(p), f"not a regular file (a FIFO, device or socket) (manifest row {i + 2})"))
            continue
        if st.st_size == 0:
            skipped.append(Skipped(str(p), f"empty file (0 bytes) (manifest row {i + 2})"))
            continue
        row = {k: v for k, v in rec.items() if not (isinstance(v, float) and np.isnan(v))}
        row["path"] = str(p.resolve())
        tid = row.get("track_id")
        if tid is None or str(tid).strip() == "":
            try:
                row["track_id"] = p.resolve().relative_to(base).with_suffix("").as_posix()
            except ValueError:
                row["track_id"] = p.stem
        row["track_id"] = str(row["track_id"])
        lf = row.pop("lyrics_file", None)
        if lf and not str(row.get("lyrics", "")).strip():
            lp = Path(str(lf)).expanduser()
            lp = lp if lp.is_absolute() else base / lp
            try:
                row["lyrics"] = read_lyrics(lp, allowed=allowed)
            except FileNotFoundError:
                skipped.append(Skipped(str(lp), f"lyrics file not found; track {row['track_id']} kept without lyrics"))
            except OSError as exc:
                skipped.append(Skipped(str(lp), f"lyrics file cannot be read ({exc.strerror}); track "
                                                f"{row['track_id']} kept without lyrics"))
            except BadInputError as exc:
                skipped.append(Skipped(str(lp), f"{exc.problem}; track {row['track_id']} kept without lyrics"))
        row.setdefault("source", source)
        if source != "manifest":
            row["source"] = source
        rows.append(row)
    if not rows:
        detail = f"; e.g. {skipped[0]}" if skipped else ""
        raise BadInputError(csv_path, f"manifest lists no usable audio file{detail}")
    tracks = pd.DataFrame(rows)
    dups = tracks.loc[tracks["track_id"].duplicated(), "track_id"].unique().tolist()
    if dups:
        raise BadInputError(csv_path, f"duplicate track_id value(s) {dups[:5]}")
    return Corpus(tracks, None, skipped, source)

"""CSV manifests: one row per audio file, with optional labels, lyrics and metadata columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.corpus.scan import read_lyrics
from core.corpus.table import Corpus
from core.errors import BadInputError, Skipped


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
        df = pd.read_csv(csv_path, keep_default_na=False, na_values=[""], low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BadInputError(csv_path, f"not a readable CSV manifest: {exc}") from exc
    df = df.rename(columns=lambda c: str(c).strip())
    if "path" not in df.columns:
        raise BadInputError(csv_path, f"manifest has no 'path' column (columns: {list(df.columns)[:10]})")
    skipped: list[Skipped] = []
    rows = []
    for i, rec in enumerate(df.to_dict("records")):
        raw = rec.get("path")
        if raw is None or (isinstance(raw, float) and np.isnan(raw)) or not str(raw).strip():
            skipped.append(Skipped(f"{csv_path}:{i + 2}", "row has an empty path"))
            continue
        p = Path(str(raw).strip()).expanduser()
        p = p if p.is_absolute() else base / p
        if not p.is_file():
            skipped.append(Skipped(str(p), f"audio file not found (manifest row {i + 2})"))
            continue
        if p.stat().st_size == 0:
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
                row["lyrics"] = read_lyrics(lp)
            except FileNotFoundError:
                skipped.append(Skipped(str(lp), f"lyrics file not found; track {row['track_id']} kept without lyrics"))
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

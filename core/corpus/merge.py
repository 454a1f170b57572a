"""MERGE (audio, lyrics and metadata, e.g. ``MERGE_Bimodal_Complete``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from core.audio import is_audio_path
from core.corpus.scan import read_lyrics, require_dir, to_corpus, visible_files
from core.corpus.table import Corpus
from core.errors import BadInputError, Skipped


def _find_col(df: pd.DataFrame, *names: str) -> str | None:
    lower = {c.lower().replace(" ", "_"): c for c in df.columns}
    for n in names:
        if n in lower:
            return lower[n]
    return None


def load_merge(root: str | Path, *, language: str = "eng") -> Corpus:
    """MERGE (audio, lyrics and metadata, e.g. ``MERGE_Bimodal_Complete``), found anywhere under ``root``.

    * audio files: track id = file stem (the song id, e.g. ``A001`` / ``MT0000004637``); lyrics: ``<id>.txt``;
    * metadata CSVs: any CSV with a song-id column (``Song``, ``Audio_Song``, ``Id``...) whose values match the
      audio stems; their other columns are kept as extra columns. ``Quadrant`` becomes ``quadrant``
      (``Q1..Q4``), ``Arousal``/``Valence`` become ``arousal``/``valence``. A ``Lyrics_Song`` column maps an
      audio id to a differently named lyrics file;
    * without metadata, a ``Q1..Q4`` parent folder gives the quadrant.
    """
    root = require_dir(root, "MERGE")
    skipped: list[Skipped] = []
    files = visible_files(root, skipped=skipped)
    audio = {}
    for f in files:
        if is_audio_path(f):
            if f.stat().st_size == 0:
                skipped.append(Skipped(str(f), "empty file (0 bytes)"))
            elif f.stem in audio:
                skipped.append(Skipped(str(f), f"duplicate song id {f.stem} (also {audio[f.stem]})"))
            else:
                audio[f.stem] = f
    lyrics_files = {f.stem: f for f in files if f.suffix.lower() == ".txt"}
    meta = pd.DataFrame(index=pd.Index(sorted(audio), name="track_id"))
    lyric_ids: dict[str, str] = {}
    for csv in (f for f in files if f.suffix.lower() == ".csv"):
        try:
            df = pd.read_csv(csv)
        except Exception as exc:  # noqa: BLE001
            skipped.append(Skipped(str(csv), f"metadata CSV not readable: {exc}"))
            continue
        id_col = next((c for c in df.columns
                       if df[c].astype(str).str.strip().isin(audio.keys()).mean() > 0.5), None)
        if id_col is None:
            continue
        df[id_col] = df[id_col].astype(str).str.strip()
        df = df.drop_duplicates(id_col).set_index(id_col)
        lyr_col = _find_col(df, "lyrics_song", "lyric_song", "lyrics_id")
        if lyr_col:
            lyric_ids.update(df[lyr_col].dropna().astype(str).str.strip().to_dict())
        rename = {}
        for c in df.columns:
            key = c.lower().replace(" ", "_")
            if key in ("quadrant", "arousal", "valence"):
                rename[c] = key
        df = df.rename(columns=rename)
        reserved = ("track_id", "path", "language", "lyrics", "source")  # never overwritten by metadata
        new = [c for c in df.columns if c not in meta.columns and c not in reserved]
        meta = meta.join(df[new], how="left")
    rows = []
    for tid, f in sorted(audio.items()):
        lyr = lyrics_files.get(lyric_ids.get(tid, tid))
        text = ""
        if lyr is not None:
            try:
                text = read_lyrics(lyr)
            except BadInputError as exc:
                skipped.append(Skipped(str(lyr), f"lyrics ignored: {exc.problem}"))
        row = {"track_id": tid, "path": str(f), "genre": "", "language": language, "lyrics": text,
               "source": "merge"}
        row.update({k: v for k, v in meta.loc[tid].items() if not (isinstance(v, float) and np.isnan(v))})
        if "quadrant" not in row and re.fullmatch(r"Q[1-4]", f.parent.name):
            row["quadrant"] = f.parent.name
        rows.append(row)
    return to_corpus(rows, skipped, "merge", root, empty_hint="no audio files found under the folder")


def looks_like_merge(root: Path) -> bool:
    if any((root / q).is_dir() for q in ("Q1", "Q2", "Q3", "Q4")):
        return True
    for csv in list(root.glob("*.csv")) + list(root.glob("*/*.csv")):
        try:
            header = pd.read_csv(csv, nrows=0).columns
        except Exception:  # noqa: BLE001
            continue
        if any(str(c).strip().lower() == "quadrant" for c in header):
            return True
    return False

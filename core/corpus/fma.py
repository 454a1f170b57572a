"""The Free Music Archive (FMA) layout: the ``fma:`` source kind.

::

    ROOT/fma_metadata/tracks.csv     one row per track, a two-row column header
                                     (``track,genre_top``, ``track,language_code``, ``set,subset``...)
    ROOT/fma_metadata/genres.csv     genre_id, title, parent, top_level (optional, see below)
    ROOT/fma_small/NNN/NNNNNN.mp3    audio: the track id zero-padded to 6 digits, in the folder
    ROOT/fma_medium/... fma_large/... fma_full/...   of its first 3 digits

``fma:ROOT`` or ``fma:ROOT/fma_medium`` (one audio folder by name). With several
audio folders under ROOT the largest clip set is used (large, then medium, then
small; ``fma_full``, whole tracks rather than 30 s clips, only when it is the
only one). The FMA subsets nest (small in medium in large), so with
``fma_small`` only the tracks whose ``set.subset`` is ``small`` are expected;
``fma_full`` expects every track.

Columns: ``track_id`` = the 6-digit id (the file's stem), ``genre`` =
``track.genre_top``, ``language`` = ``track.language_code`` where present
(``en`` -> ``eng``), plus ``title`` and ``artist`` as metadata.
``genres.csv`` fills ``genre`` for a track without ``genre_top`` when all of its
``track.genres`` lie under one top-level genre (FMA's own rule for genre_top,
applied to metadata files that lack the column's value).

FMA ships known corrupt and very short MP3s. A track is listed in ``skipped``
with the reason when its file is missing, empty (0 bytes), has an unreadable
header, or is shorter than ``min_seconds`` by its header; only the header is
read (about 0.1 ms per file), the audio is decoded later by feature extraction,
which lists what fails to decode.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from core.audio import n_samples
from core.config import SAMPLE_RATE
from core.corpus.table import Corpus
from core.errors import BadInputError, Skipped
from core.progress import Progress

#: Audio folders, in the order one is chosen when several exist.
AUDIO_FOLDERS = ("fma_large", "fma_medium", "fma_small", "fma_full")
#: ``set.subset`` values each clip folder holds (the subsets nest).
SUBSETS = {"fma_small": {"small"}, "fma_medium": {"small", "medium"},
           "fma_large": {"small", "medium", "large"}}
#: Same default as ``core.audio.load_audio``: shorter clips are not used.
MIN_SECONDS = 1.0


def find_fma(path: str | Path) -> tuple[Path, Path]:
    """``(metadata folder, audio folder)`` of an FMA root or of one of its audio folders."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise BadInputError(p, "FMA folder not found" if not p.exists() else "expected an FMA folder, got a file")
    p = p.resolve()
    if p.name in AUDIO_FOLDERS and (p.parent / "fma_metadata" / "tracks.csv").is_file():
        return p.parent / "fma_metadata", p
    meta = p / "fma_metadata"
    if not (meta / "tracks.csv").is_file():
        raise BadInputError(p, "not an FMA folder: expected fma_metadata/tracks.csv and an audio folder "
                               f"({'|'.join(AUDIO_FOLDERS)}) beside it")
    for name in AUDIO_FOLDERS:
        if (p / name).is_dir():
            return meta, p / name
    raise BadInputError(p, f"FMA folder without audio: expected one of {', '.join(AUDIO_FOLDERS)} beside "
                           "fma_metadata/")


def looks_like_fma(path: Path) -> bool:
    """True for a folder that :func:`find_fma` accepts (used to guess a source's kind)."""
    try:
        find_fma(path)
    except BadInputError:
        return False
    return True


def read_tracks(csv: Path) -> pd.DataFrame:
    """tracks.csv with its two-row header -> one row per track id, flat ``section.field`` columns."""
    try:
        df = pd.read_csv(csv, index_col=0, header=[0, 1], low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise BadInputError(csv, f"not a readable FMA tracks.csv ({str(exc).splitlines()[0][:160]})") from None
    df.columns = [f"{a}.{b}" for a, b in df.columns]
    if "track.genre_top" not in df.columns:
        raise BadInputError(csv, "expected FMA's two-row header with a (track, genre_top) column; found "
                                 f"{list(df.columns)[:6]}")
    ids = pd.to_numeric(pd.Series(df.index, index=df.index), errors="coerce")
    bad = ids.isna() | (ids < 0) | (ids % 1 != 0)
    if bad.any():
        raise BadInputError(csv, f"track_id must be a whole number; bad value(s) {df.index[bad][:3].tolist()}")
    df.index = ids.astype("int64").to_numpy()
    dups = df.index[df.index.duplicated()].unique().tolist()
    if dups:
        raise BadInputError(csv, f"duplicate track_id value(s) {dups[:5]}")
    return df


def _genre_fill(meta: Path, tracks: pd.DataFrame) -> pd.Series:
    """Top-level genre title per track from genres.csv, where its ``track.genres`` share one root."""
    csv = meta / "genres.csv"
    if not csv.is_file() or "track.genres" not in tracks.columns:
        return pd.Series("", index=tracks.index)
    try:
        genres = pd.read_csv(csv, index_col="genre_id")
        title = genres["title"].astype(str)
        root_of = genres["top_level"].astype("int64")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, KeyError, ValueError) as exc:
        raise BadInputError(csv, f"not a readable FMA genres.csv, expected genre_id, title, top_level "
                                 f"columns ({str(exc).splitlines()[0][:160]})") from None

    def top(cell: object) -> str:
        try:
            ids = ast.literal_eval(str(cell))
        except (ValueError, SyntaxError):
            return ""
        roots = {root_of.get(int(g)) for g in ids if int(g) in root_of.index} if isinstance(ids, list) else set()
        return str(title.get(roots.pop(), "")) if len(roots) == 1 else ""

    return tracks["track.genres"].map(top)


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value).strip()


def load_fma(path: str | Path, *, min_seconds: float = MIN_SECONDS, progress: Progress | None = None) -> Corpus:
    """An FMA data set (see the module docstring); unusable tracks are listed in ``skipped``."""
    meta, audio = find_fma(path)
    tracks = read_tracks(meta / "tracks.csv")
    if audio.name in SUBSETS and "set.subset" in tracks.columns:
        tracks = tracks[tracks["set.subset"].astype(str).isin(SUBSETS[audio.name])]
    fill = _genre_fill(meta, tracks)
    rows: list[dict] = []
    skipped: list[Skipped] = []
    total = len(tracks)
    if progress:
        progress(0, total, "")
    for done, (tid, rec) in enumerate(tracks.iterrows(), 1):
        name = f"{tid:06d}"
        file = audio / name[:3] / f"{name}.mp3"
        problem = ""
        if not file.is_file():
            problem = "audio file not found (listed in fma_metadata/tracks.csv)"
        elif file.stat().st_size == 0:
            problem = "empty file (0 bytes)"
        else:
            try:
                seconds = n_samples(file, sr=SAMPLE_RATE) / SAMPLE_RATE
            except BadInputError as exc:
                problem = exc.problem
            else:
                if seconds < min_seconds:
                    problem = f"too short: {seconds:.2f} s of audio, at least {min_seconds:g} s needed"
        if problem:
            skipped.append(Skipped(str(file), problem))
        else:
            rows.append({"track_id": name, "path": str(file),
                         "genre": _text(rec.get("track.genre_top")) or fill.get(tid, ""),
                         "language": _text(rec.get("track.language_code")), "lyrics": "", "source": "fma",
                         "title": _text(rec.get("track.title")), "artist": _text(rec.get("artist.name"))})
        if progress and (done % 500 == 0 or done == total):
            progress(done, total, name)
    if not rows:
        detail = f"; {len(skipped)} skipped, e.g. {skipped[0]}" if skipped else ""
        raise BadInputError(audio, f"no usable FMA tracks (expected NNN/NNNNNN.mp3 files for the ids in "
                                   f"{meta / 'tracks.csv'}){detail}")
    return Corpus(pd.DataFrame(rows), None, skipped, "fma")

"""Loaders for every data source users bring, each returning a :class:`~core.corpus.Corpus`.

Source specs (``load_source`` / ``load_sources``, the CLI and the dashboard)::

    [KIND:]PATH[@LANG]

KIND is one of ``demo, gtzan, features, banglabeats, merge, manifest, folder, fma``
(``banglabeats+join`` is ``banglabeats`` with ``join_clips=True``); ``demo``
alone means the default demo corpus. Without KIND it is guessed from PATH:

* a ``.csv`` with the 57 GTZAN feature columns -> ``features``; another ``.csv`` -> ``manifest``
* a folder holding ``genres_original/`` or ``genres/``, or whose sub-folders hold
  ``<genre>.<NNNNN>.wav|au`` files -> ``gtzan``
* a folder holding ``manifest.csv`` (with the demo's ``demo.json`` stamp) -> ``demo``,
  otherwise -> ``manifest``
* a folder holding ``fma_metadata/tracks.csv`` (or an ``fma_*`` folder beside it) -> ``fma``
* a folder holding ``Q1..Q4`` folders or a CSV with a ``Quadrant`` column -> ``merge``
* any other folder -> ``folder`` (genre = parent folder name)

``@LANG`` (``eng``, ``bng``, ``english``, ``bn``...) sets the language of every
track of that source, e.g. ``banglabeats:/data/bb@bng``.

Design decisions:

* Loaders never decode audio (that is ``core.audio.load_audio``'s job, later,
  with per-file errors). They skip and list missing and empty files, and list
  non-audio files as "not an audio file"; hidden files (``.DS_Store``...) are
  ignored silently. Unreadable audio is reported when features are extracted.
* A feature table with an unknown column is an error (it would otherwise be
  silently ignored or misread as a feature); ``filename, length, label, genre,
  language`` are the known non-feature columns, and pandas index columns
  (``Unnamed: 0``) are dropped.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from core import config
from core.audio import is_audio_path, load_audio
from core.corpus import Corpus, normalise_language
from core.corpus.fma import load_fma, looks_like_fma
from core.errors import BadInputError, Skipped
from core.features.gtzan57 import FEATURE_NAMES
from core.lyrics import decode_lyrics_bytes
from core.progress import Progress

KINDS = ("demo", "gtzan", "features", "banglabeats", "merge", "manifest", "folder", "fma")

#: Non-feature columns a feature table may have.
FEATURE_TABLE_META = ("filename", "length", "label", "genre", "language")

#: Clips per joined BanglaBeats track (10 x 3 s = 30 s, as in the study).
CLIPS_PER_TRACK = 10

# ================================================================== helpers
def _hidden(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = path.parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _files(root: Path, *, recursive: bool = True) -> list[Path]:
    """Visible files under ``root``, sorted."""
    it = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in it if p.is_file() and not _hidden(p, root))


def _require_dir(root: str | Path, what: str) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise BadInputError(root, f"{what} folder not found")
    if not root.is_dir():
        raise BadInputError(root, f"expected a {what} folder, got a file")
    return root.resolve()


def _audio_or_skip(path: Path, skipped: list[Skipped]) -> bool:
    """True when ``path`` can be listed as a track; else records why not."""
    if not is_audio_path(path):
        if path.suffix.lower() != ".txt":
            skipped.append(Skipped(str(path), "not an audio file"))
        return False
    if path.stat().st_size == 0:
        skipped.append(Skipped(str(path), "empty file (0 bytes)"))
        return False
    return True


def _read_lyrics(path: Path) -> str:
    return decode_lyrics_bytes(path.read_bytes(), path).strip()


def _unique_ids(rows: list[dict], root: Path) -> None:
    """Make ``track_id`` unique: a clashing id becomes the path relative to ``root`` without extension,
    then with it (``a.wav`` beside ``a.mp3``); a file outside ``root`` (a joined clip) gets ``<genre>/<id>``."""

    def clashing() -> set[str]:
        seen: dict[str, int] = {}
        for r in rows:
            seen[r["track_id"]] = seen.get(r["track_id"], 0) + 1
        return {k for k, v in seen.items() if v > 1}

    for with_suffix in (False, True):
        dups = clashing()
        if not dups:
            return
        for r in rows:
            if r["track_id"] in dups:
                try:
                    rel = Path(r["path"]).relative_to(root)
                    r["track_id"] = (rel if with_suffix else rel.with_suffix("")).as_posix()
                except ValueError:
                    r["track_id"] = f"{r['genre']}/{r['track_id']}"


def _corpus(rows: list[dict], skipped: list[Skipped], name: str, root: Path, *, empty_hint: str) -> Corpus:
    if not rows:
        detail = f"; {len(skipped)} file(s) skipped, e.g. {skipped[0]}" if skipped else ""
        raise BadInputError(root, f"no usable tracks found ({empty_hint}){detail}")
    _unique_ids(rows, root)
    for r in rows:
        r.setdefault("source", name)
    return Corpus(pd.DataFrame(rows), None, skipped, name)


# =================================================================== GTZAN
_GTZAN_NAME = re.compile(r"^[A-Za-z]+\.\d{5}$")


def _gtzan_base(root: Path) -> Path | None:
    """The folder holding GTZAN's genre folders, or None."""
    for cand in (root / "genres_original", root / "genres", root / "Data" / "genres_original"):
        if cand.is_dir():
            return cand
    subdirs = [d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")]
    for d in subdirs:
        if any(_GTZAN_NAME.match(f.stem) and is_audio_path(f) for f in d.iterdir() if f.is_file()):
            return root
    return None


def load_gtzan(root: str | Path, *, language: str = "eng") -> Corpus:
    """GTZAN audio: ``genres_original/<genre>/<genre>.000NN.wav`` (Kaggle) or ``genres/<genre>/*.au``
    (original release), or ``root`` pointing directly at the genre folders.

    Track ids are the file stems (``blues.00000``), the same ids as the Kaggle feature tables.
    """
    root = _require_dir(root, "GTZAN")
    base = _gtzan_base(root) or root
    rows: list[dict] = []
    skipped: list[Skipped] = []
    genre_dirs = sorted(d for d in base.iterdir() if d.is_dir() and not d.name.startswith("."))
    for gdir in genre_dirs:
        for f in _files(gdir):
            if _audio_or_skip(f, skipped):
                rows.append({"track_id": f.stem, "path": str(f), "genre": gdir.name, "language": language,
                             "lyrics": "", "source": "gtzan"})
    return _corpus(rows, skipped, "gtzan", base,
                   empty_hint="expected genres_original/<genre>/<genre>.000NN.wav or genres/<genre>/*.au")


# ============================================================ feature table
_INDEX_COLUMN = re.compile(r"^Unnamed: \d+$")
_SEGMENT = re.compile(r"^(?P<song>.+\.\d+)\.(?P<segment>\d+)$")


def _strip_audio_ext(name: str) -> str:
    p = Path(name)
    return p.stem if is_audio_path(p) else name


def _rows_and_cols(bad: pd.DataFrame, names: pd.Series) -> str:
    rows = names[bad.any(axis=1).to_numpy()].tolist()
    cols = bad.columns[bad.any(axis=0).to_numpy()].tolist()
    more = f" (+{len(rows) - 5} more)" if len(rows) > 5 else ""
    return f"{len(rows)} row(s) {rows[:5]}{more}, column(s) {cols[:8]}"


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


def _looks_like_feature_table(path: Path) -> bool:
    try:
        header = pd.read_csv(path, nrows=0).columns
    except Exception:  # noqa: BLE001 - autodetection only; the real loader reports the error
        return False
    return all(n in header for n in FEATURE_NAMES)


# ============================================================= BanglaBeats
_CLIP = re.compile(r"^(?P<song>.*?)[ ._\-]*(?P<index>\d+)$")


def _clip_key(stem: str) -> tuple[str, int] | None:
    """``"song_07"`` -> ``("song", 7)``; ``"17"`` -> ``("", 17)``; no trailing number -> None."""
    m = _CLIP.match(stem)
    return (m["song"], int(m["index"])) if m else None


def load_banglabeats(root: str | Path, *, join_clips: bool = False, language: str = "bng",
                     progress: Progress | None = None) -> Corpus:
    """BanglaBeats: one folder per genre (``Adhunik/``, ``Folk/``...) of 3-second clips.

    Without ``join_clips`` every clip is a track (id = stem, de-duplicated by path when stems repeat).

    With ``join_clips=True``, consecutive clips become 30-second tracks, as in the study:

    * clip names end with an index: ``<song><sep><index>.<ext>`` with ``sep`` one of ``_ . - space`` or
      nothing; ``17.wav`` has an empty song name, so the whole genre folder is one numbered sequence
      (BanglaBeats' own naming);
    * clips of one (genre, song) are ordered by the *numeric* index and cut into runs of consecutive indices;
      a gap is listed in ``skipped`` and no track spans it;
    * each run is cut into tracks of :data:`CLIPS_PER_TRACK` (10) clips; leftover clips at the end of a run
      (fewer than 10) are listed in ``skipped`` and not used (the study also drops incomplete chunks);
    * track ids are ``<Genre>.<k:05d>`` (or ``<song>.<k:05d>``), k counting from 0 in each sequence, so a
      gap-free folder gives the study table's ids (``Adhunik.00000``);
    * the joined audio (clips read with ``core.audio.load_audio``: mono, 22,050 Hz; written as 16-bit WAV)
      is written once to ``core.config.CACHE_DIR / "joined" / <hash>.wav``, the hash being of the clips'
      paths, sizes and modification times; ``path`` points there and ``clips`` lists the source clips
      (``|``-separated). A clip that does not load (corrupt, silent...) is listed in ``skipped`` and its
      track is not made.
    """
    root = _require_dir(root, "BanglaBeats")
    skipped: list[Skipped] = []
    genre_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not genre_dirs:
        raise BadInputError(root, "no genre folders: expected one folder per genre (Adhunik/, Folk/ ...)")
    clips: list[tuple[str, Path]] = []
    for gdir in genre_dirs:
        clips += [(gdir.name, f) for f in _files(gdir) if _audio_or_skip(f, skipped)]
    if not join_clips:
        rows = []
        for genre, f in clips:
            key = _clip_key(f.stem)
            rows.append({"track_id": f.stem, "path": str(f), "genre": genre, "language": language,
                         "lyrics": "", "source": "banglabeats",
                         "song": key[0] if key else f.stem})
        return _corpus(rows, skipped, "banglabeats", root, empty_hint="no audio clips in the genre folders")

    groups: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    for genre, f in clips:
        key = _clip_key(f.stem)
        if key is None:
            skipped.append(Skipped(str(f), "clip name does not end with an index number; cannot be joined"))
            continue
        groups.setdefault((genre, key[0]), []).append((key[1], f))
    plans: list[dict] = []
    for (genre, song), items in sorted(groups.items()):
        items.sort(key=lambda x: x[0])
        runs: list[list[tuple[int, Path]]] = [[items[0]]]
        for prev, cur in zip(items, items[1:]):
            if cur[0] == prev[0]:
                skipped.append(Skipped(str(cur[1]), f"same clip index {cur[0]} as {prev[1].name}; not joined"))
                continue
            if cur[0] != prev[0] + 1:
                missing = f"{prev[0] + 1}" if cur[0] == prev[0] + 2 else f"{prev[0] + 1}..{cur[0] - 1}"
                skipped.append(Skipped(str(prev[1].parent), f"gap in clip numbering: clip(s) {missing} of "
                                       f"{song or genre!r} missing after {prev[1].name}; tracks do not span it"))
                runs.append([])
            runs[-1].append(cur)
        k = 0
        for run in runs:
            for start in range(0, len(run), CLIPS_PER_TRACK):
                chunk = run[start:start + CLIPS_PER_TRACK]
                if len(chunk) < CLIPS_PER_TRACK:
                    for _, f in chunk:
                        skipped.append(Skipped(str(f), f"leftover clip: only {len(chunk)} consecutive clips "
                                                       f"left, {CLIPS_PER_TRACK} make a track"))
                    continue
                plans.append({"track_id": f"{song or genre}.{k:05d}", "genre": genre, "song": song or genre,
                              "clip_paths": [f for _, f in chunk]})
                k += 1
    rows = []
    report = progress or (lambda done, total, message="": None)
    for i, plan in enumerate(plans):
        report(i, len(plans), plan["track_id"])
        try:
            out = _join_clips(plan["clip_paths"])
        except BadInputError as exc:
            skipped.append(Skipped(exc.path or plan["track_id"], f"track {plan['track_id']} not joined: {exc.problem}"))
            continue
        rows.append({"track_id": plan["track_id"], "path": str(out), "genre": plan["genre"], "language": language,
                     "lyrics": "", "source": "banglabeats", "song": plan["song"],
                     "clips": "|".join(str(p) for p in plan["clip_paths"])})
    report(len(plans), len(plans), "joined")
    corpus = _corpus(rows, skipped, "banglabeats", root, empty_hint=f"no run of {CLIPS_PER_TRACK} consecutive clips")
    return corpus


def _join_clips(paths: list[Path]) -> Path:
    """Concatenate audio clips into one cached 16-bit WAV and return its path."""
    import soundfile as sf

    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    out_dir = Path(config.CACHE_DIR) / "joined"
    out = out_dir / f"{h.hexdigest()[:24]}.wav"
    if out.exists():
        return out
    parts = [load_audio(p, sr=config.SAMPLE_RATE, min_seconds=0.0) for p in paths]
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    sf.write(str(tmp), np.concatenate(parts), config.SAMPLE_RATE, subtype="PCM_16", format="WAV")
    tmp.replace(out)
    return out


# =================================================================== MERGE
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
    root = _require_dir(root, "MERGE")
    files = _files(root)
    skipped: list[Skipped] = []
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
                text = _read_lyrics(lyr)
            except BadInputError as exc:
                skipped.append(Skipped(str(lyr), f"lyrics ignored: {exc.problem}"))
        row = {"track_id": tid, "path": str(f), "genre": "", "language": language, "lyrics": text,
               "source": "merge"}
        row.update({k: v for k, v in meta.loc[tid].items() if not (isinstance(v, float) and np.isnan(v))})
        if "quadrant" not in row and re.fullmatch(r"Q[1-4]", f.parent.name):
            row["quadrant"] = f.parent.name
        rows.append(row)
    return _corpus(rows, skipped, "merge", root, empty_hint="no audio files found under the folder")


def _looks_like_merge(root: Path) -> bool:
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


# ================================================================ manifest
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
                row["lyrics"] = _read_lyrics(lp)
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


# ================================================================== folder
def load_folder(root: str | Path, *, language: str | None = None) -> Corpus:
    """Any folder of audio files: genre = the parent folder's name (``""`` for files directly in ``root``).

    ``song.txt`` beside ``song.wav`` is its lyrics. Non-audio files are listed in ``skipped`` as
    "not an audio file" (``.txt`` lyrics and hidden files are not). Track ids are paths relative to
    ``root`` without extension (``rock/song1``).
    """
    root = _require_dir(root, "audio")
    skipped: list[Skipped] = []
    rows = []
    for f in _files(root):
        if not _audio_or_skip(f, skipped):
            continue
        lyr = f.with_suffix(".txt")
        text = ""
        if lyr.is_file():
            try:
                text = _read_lyrics(lyr)
            except BadInputError as exc:
                skipped.append(Skipped(str(lyr), f"lyrics ignored: {exc.problem}"))
        rows.append({"track_id": f.relative_to(root).with_suffix("").as_posix(), "path": str(f),
                     "genre": f.parent.name if f.parent != root else "", "language": language or "",
                     "lyrics": text, "source": "folder"})
    return _corpus(rows, skipped, "folder", root, empty_hint="no audio files in the folder")


# ================================================================== specs
_LANG_SUFFIX = re.compile(r"^[A-Za-z]{2,10}$")


def parse_spec(spec: str) -> tuple[str | None, str, str | None]:
    """Split ``[KIND:]PATH[@LANG]`` into ``(kind or None, path, language or None)``.

    ``@LANG`` is only taken as a language when it is 2 to 10 letters and the whole text is not an existing
    path (so ``/home/me@host/x`` and a folder named ``songs@home`` stay paths); ``KIND:`` only when KIND is
    a known kind (so ``C:/music`` stays a path). ``demo`` alone is the demo.
    """
    text = spec.strip()
    if not text:
        raise BadInputError(None, "empty source spec; expected [KIND:]PATH[@LANG]")
    kind = None
    head, colon, rest = text.partition(":")
    if colon and head.lower() in KINDS + ("banglabeats+join",):
        kind, text = head.lower(), rest
    language = None
    before, at, after = text.rpartition("@")
    if at and _LANG_SUFFIX.match(after) and not Path(text).expanduser().exists():
        text, language = before, normalise_language(after)
    if kind is None and text.lower() == "demo":
        kind, text = "demo", ""
    return kind, text, language


def detect_kind(path: str | Path) -> str:
    """Guess the source kind of ``path`` (see the module docstring)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise BadInputError(p, "source not found")
    if p.is_file():
        if p.suffix.lower() != ".csv":
            raise BadInputError(p, "a source file must be a .csv (a feature table or a manifest)")
        return "features" if _looks_like_feature_table(p) else "manifest"
    if (p / "manifest.csv").is_file():
        from core.corpus.demo import STAMP

        return "demo" if (p / STAMP).is_file() else "manifest"
    if looks_like_fma(p):
        return "fma"
    if _gtzan_base(p) is not None:
        return "gtzan"
    if _looks_like_merge(p):
        return "merge"
    return "folder"


def load_source(spec: str, *, progress: Progress | None = None, **opts) -> Corpus:
    """Load one source from a spec ``[KIND:]PATH[@LANG]``; ``opts`` go to the loader (e.g. ``join_clips``)."""
    kind, path, language = parse_spec(spec)
    if kind is None:
        kind = detect_kind(path)
    if kind == "demo":
        from core.corpus.demo import ensure_demo

        corpus = ensure_demo(Path(path).expanduser() if path else None, progress=progress, **opts)
    else:
        if kind == "manifest" and Path(path).expanduser().is_dir():
            path = str(Path(path).expanduser() / "manifest.csv")
        loaders: dict[str, Callable[[], Corpus]] = {
            "gtzan": lambda: load_gtzan(path, **opts),
            "features": lambda: read_feature_table(path, language=language, **opts),
            "banglabeats": lambda: load_banglabeats(path, progress=progress, **opts),
            "banglabeats+join": lambda: load_banglabeats(path, join_clips=True, progress=progress, **opts),
            "merge": lambda: load_merge(path, **opts),
            "manifest": lambda: load_manifest(path, **opts),
            "folder": lambda: load_folder(path, **opts),
            "fma": lambda: load_fma(path, progress=progress, **opts),
        }
        corpus = loaders[kind]()
    if language is not None:
        corpus.tracks["language"] = language
    return corpus


def load_sources(specs: list[str] | tuple[str, ...], *, progress: Progress | None = None) -> Corpus:
    """Load several sources and combine them into one (hybrid) corpus; ids clash -> prefixed by source."""
    if isinstance(specs, str):
        specs = [specs]
    corpora = [load_source(s, progress=progress) for s in specs]
    if not corpora:
        raise BadInputError(None, "no source given")
    return Corpus.combine(corpora, name="hybrid" if len(corpora) > 1 else corpora[0].name)

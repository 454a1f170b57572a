"""The :class:`Corpus`: one table of tracks, whatever source they came from.

A corpus wraps a pandas DataFrame with one row per track and at least these
columns (:data:`~core.corpus.columns.REQUIRED_COLUMNS`):

=========  ==================================================================
track_id   unique string id (``"<source>:<name>"`` once sources are combined)
path       absolute path of the audio file, or ``""`` when there is no audio
genre      genre label (``""`` when unknown)
language   language tag, ISO 639-3 (``"eng"``, ``"deu"``; ``"bng"`` for Bangla; ``""`` when unknown)
lyrics     lyrics text, ``""`` for instrumentals or unknown lyrics
source     name of the source the track came from (``"demo"``, ``"gtzan"``...)
=========  ==================================================================

Any other column is extra metadata (MERGE quadrant, BanglaBeats song id, ...)
and is offered as a label column for the external metrics.

Sources that ship precomputed 57-value features (the Kaggle/study feature
tables) attach them as ``features57``: a DataFrame indexed by track_id with
the 57 GTZAN columns. Such a corpus can train the Basic VAE without audio.

Tracks that a loader could not use are listed in ``skipped``, never silently
dropped. ``sources`` keeps the source specs the corpus was loaded from, so that a model trained on it
can record what it was trained on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from core.corpus.columns import REQUIRED_COLUMNS
from core.filehash import file_hash
from core.errors import BadInputError, Skipped

#: Languages by tag: ISO 639-3 (three letters), with their ISO 639-1 and 639-2/B codes and English names as
#: other spellings. One exception, kept on purpose: Bangla is ``bng``, the tag of the study Songscape
#: follows, of its demo corpus and of its shipped checkpoints (ISO 639-3 says ``ben``, which maps to it).
LANGUAGES = {  # tag: (readable name, other spellings)
    "eng": ("English", "en"), "bng": ("Bangla", "bn ben bengali"), "hin": ("Hindi", "hi"),
    "urd": ("Urdu", "ur"), "deu": ("German", "de ger"), "fra": ("French", "fr fre"), "spa": ("Spanish", "es"),
    "por": ("Portuguese", "pt"), "ita": ("Italian", "it"), "nld": ("Dutch", "nl dut"), "swe": ("Swedish", "sv"),
    "nor": ("Norwegian", "no nb nob nn nno"), "dan": ("Danish", "da"), "fin": ("Finnish", "fi"),
    "isl": ("Icelandic", "is ice"), "pol": ("Polish", "pl"), "ces": ("Czech", "cs cze"), "slk": ("Slovak", "sk slo"),
    "hun": ("Hungarian", "hu"), "ron": ("Romanian", "ro rum"), "bul": ("Bulgarian", "bg"), "srp": ("Serbian", "sr"),
    "hrv": ("Croatian", "hr"), "slv": ("Slovenian", "sl"), "ell": ("Greek", "el gre"), "tur": ("Turkish", "tr"),
    "rus": ("Russian", "ru"), "ukr": ("Ukrainian", "uk"), "ara": ("Arabic", "ar"), "heb": ("Hebrew", "he"),
    "fas": ("Persian", "fa per farsi"), "zho": ("Chinese", "zh chi"), "jpn": ("Japanese", "ja"),
    "kor": ("Korean", "ko"), "vie": ("Vietnamese", "vi"), "tha": ("Thai", "th"), "ind": ("Indonesian", "id"),
    "msa": ("Malay", "ms may"), "tgl": ("Tagalog", "tl"), "swa": ("Swahili", "sw"), "yor": ("Yoruba", "yo"),
    "tam": ("Tamil", "ta"), "tel": ("Telugu", "te"), "mar": ("Marathi", "mr"), "pan": ("Punjabi", "pa"),
    "nep": ("Nepali", "ne"), "cat": ("Catalan", "ca"), "eus": ("Basque", "eu baq"), "gle": ("Irish", "ga"),
    "cym": ("Welsh", "cy wel"), "lat": ("Latin", "la"), "epo": ("Esperanto", "eo"),
}
#: Every accepted spelling (lower case) -> its tag.
LANGUAGE_ALIASES = {alias: tag for tag, (name, others) in LANGUAGES.items()
                    for alias in (tag, name.lower(), *others.split())} | {"bangla": "bng"}


def normalise_language(value: object) -> str:
    """One tag per language: ISO 639-3 (``bng`` for Bangla), from any of its codes or its English name
    ("English", "en", "de", "ger", "German" -> ``eng``, ``deu``); an unknown value is kept, lower-cased."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    text = str(value).strip()
    return LANGUAGE_ALIASES.get(text.lower(), text.lower())


def language_name(tag: object) -> str:
    """The readable name of a language tag ("deu" -> "German"); an unknown tag is shown as it is."""
    text = normalise_language(tag)
    return LANGUAGES[text][0] if text in LANGUAGES else (text or "unknown")


@dataclass
class Corpus:
    """Tracks plus optional precomputed features and the list of skipped items."""

    tracks: pd.DataFrame
    features57: pd.DataFrame | None = None
    skipped: list[Skipped] = field(default_factory=list)
    name: str = "corpus"
    #: The ``[KIND:]PATH[@LANG]`` specs it was loaded from, as given (empty when built otherwise).
    sources: tuple[str, ...] = ()
    #: The corpora :meth:`combine` joined into this one (empty for a corpus of one source).
    parts: tuple["Corpus", ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        df = self.tracks.copy()
        for col in REQUIRED_COLUMNS:
            if col not in df.columns:
                df[col] = ""
        df = df.fillna({c: "" for c in ("path", "genre", "language", "lyrics", "source")})
        for col in REQUIRED_COLUMNS:
            df[col] = df[col].astype(str)
        df["language"] = df["language"].map(normalise_language)
        if df["track_id"].duplicated().any():
            dups = df.loc[df["track_id"].duplicated(), "track_id"].head(5).tolist()
            raise BadInputError(None, f"corpus '{self.name}' has duplicate track ids: {dups}")
        extra = [c for c in df.columns if c not in REQUIRED_COLUMNS]
        self.tracks = df[list(REQUIRED_COLUMNS) + extra].reset_index(drop=True)
        if self.features57 is not None:
            missing = set(self.tracks["track_id"]) - set(self.features57.index)
            if missing:
                raise BadInputError(None, f"features57 lacks rows for {len(missing)} tracks, e.g. {sorted(missing)[:3]}")
            self.features57 = self.features57.loc[self.tracks["track_id"]]

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return len(self.tracks)

    @property
    def track_ids(self) -> list[str]:
        return self.tracks["track_id"].tolist()

    @property
    def has_audio(self) -> bool:
        return bool((self.tracks["path"] != "").any())

    @property
    def has_lyrics(self) -> bool:
        return self.lyrics_count > 0

    @property
    def lyrics_count(self) -> int:
        """How many tracks have lyrics."""
        return int((self.tracks["lyrics"].str.strip() != "").sum())

    def label_columns(self) -> list[str]:
        """Columns usable as ground truth for external metrics: genre, language, then extras.

        Found once per table and remembered (a page asks several times per run, and counting the distinct
        values of every text column of a million tracks takes about a second)."""
        known = self.__dict__.get("_label_columns")
        if known is not None and known[0] is self.tracks:
            return list(known[1])
        cols = [c for c in ("genre", "language") if (self.tracks[c] != "").any()]
        for c in self.tracks.columns:
            if c in REQUIRED_COLUMNS:
                continue
            values = self.tracks[c]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                continue  # a measurement (length, tempo), not a grouping
            distinct = values.nunique(dropna=True)
            # a label groups tracks: few distinct values (a quadrant, a source), not a number per track
            if 1 < distinct <= min(50, len(values) // 2):
                cols.append(c)
        self.__dict__["_label_columns"] = (self.tracks, cols)
        return list(cols)

    def measure_columns(self) -> list[str]:
        """Columns holding a measurement per track (numbers: a year, a length, a tempo), which a map colours on a
        ramp; never a label, as nothing groups by them."""
        return [c for c in self.tracks.columns if c not in REQUIRED_COLUMNS
                and pd.api.types.is_numeric_dtype(self.tracks[c]) and not pd.api.types.is_bool_dtype(self.tracks[c])
                and self.tracks[c].nunique(dropna=True) > 1]

    def counts(self) -> pd.DataFrame:
        """Track counts by language and genre (a tidy table)."""
        return (
            self.tracks.groupby(["language", "genre"], dropna=False)
            .size().rename("tracks").reset_index()
            .sort_values(["language", "genre"]).reset_index(drop=True)
        )

    def rows_of(self, track_ids: Iterable[str]) -> np.ndarray:
        """The row of each of ``track_ids`` in ``tracks`` (KeyError naming the first unknown one).

        The id -> row index is built once per table and remembered: a page that shows three tracks of a
        million asked ``set_index`` for a fresh one each time (0.1 s apiece)."""
        known = self.__dict__.get("_rows")
        if known is None or known[0] is not self.tracks:
            known = (self.tracks, pd.Index(self.tracks["track_id"].to_numpy(dtype=object)))
            self.__dict__["_rows"] = known
        ids = list(track_ids)
        rows = known[1].get_indexer(ids)
        if (rows < 0).any():
            raise KeyError(f"no track {ids[int(np.flatnonzero(rows < 0)[0])]!r} in corpus '{self.name}'")
        return rows

    def subset(self, track_ids: Iterable[str]) -> "Corpus":
        """The corpus restricted to ``track_ids`` (in that order)."""
        ids = list(track_ids)
        tracks = self.tracks.iloc[self.rows_of(ids)].reset_index(drop=True)
        feats = None if self.features57 is None else self.features57.loc[ids]
        return Corpus(tracks, feats, list(self.skipped), self.name, self.sources)

    def fingerprint(self) -> str:
        """A short hash of what the tracks hold: ids, labels, lyrics, the bytes of every audio file, and any
        precomputed features.

        Audio files are hashed by content (memoised by path, size and mtime, so a warm call only stats the
        files): an edited file changes the fingerprint, a moved or copied one does not. A file that can no
        longer be read hashes as missing.
        """
        h = hashlib.sha256()
        labels = [c for c in REQUIRED_COLUMNS if c != "path"]
        h.update(pd.util.hash_pandas_object(self.tracks[labels], index=False).values.tobytes())
        for path in self.tracks["path"]:
            h.update(f"{_content_hash(path)}\n".encode())
        if self.features57 is not None:
            h.update(pd.util.hash_pandas_object(self.features57, index=True).values.tobytes())
        return h.hexdigest()[:16]

    def source_fingerprints(self) -> list[str]:
        """The :meth:`fingerprint` of each source as it loads on its own (one, this corpus's, for a corpus of
        one source): what a model trained on several sources records, so that any one of them is known again."""
        return [p.fingerprint() for p in self.parts] if self.parts else [self.fingerprint()]

    # ---------------------------------------------------------------- combine
    @staticmethod
    def combine(corpora: Iterable["Corpus"], name: str = "hybrid") -> "Corpus":
        """Concatenate corpora into one. Track ids are prefixed with the source when they clash.

        Precomputed features are kept only when every part has them.
        """
        parts = list(corpora)
        if not parts:
            raise BadInputError(None, "no corpora to combine")
        if len(parts) == 1:
            return parts[0]
        frames, feats, skipped = [], [], []
        seen: set[str] = set()
        for i, c in enumerate(parts):
            df = c.tracks.copy()
            clash = set(df["track_id"]) & seen
            if clash:
                prefix = c.name if c.name not in ("corpus", "") else f"part{i}"
                df["track_id"] = prefix + ":" + df["track_id"]
            seen |= set(df["track_id"])
            frames.append(df)
            if c.features57 is not None:
                f = c.features57.copy()
                f.index = df["track_id"].values
                feats.append(f)
            skipped.extend(c.skipped)
        tracks = pd.concat(frames, ignore_index=True)
        features = pd.concat(feats) if len(feats) == len(parts) else None
        return Corpus(tracks, features, skipped, name, tuple(s for c in parts for s in c.sources),
                      tuple(p for c in parts for p in (c.parts or (c,))))


def _content_hash(path: str) -> str:
    if not path:
        return ""
    try:
        return file_hash(path)
    except OSError:
        return "missing"

"""Lyrics: Unicode-aware tokenisation for English and Bangla, TF-IDF, and safe decoding.

Bangla (Bengali script) words are built from letters (Unicode category ``Lo``)
and combining marks: vowel signs (matras, ``Mc``/``Mn`` such as U+09BE..U+09CC),
the virama/hasanta ``্`` (U+09CD, ``Mn``), chandrabindu ``ঁ``, anusvara ``ং``,
visarga ``ঃ`` and nukta ``়``, plus ZWJ/ZWNJ (U+200D/U+200C) inside conjuncts.
Python's ``\\w`` does not match several of these marks, so :func:`tokenize`
classifies characters by their Unicode category instead of using ``\\w``.

The TF-IDF estimator is saved inside checkpoints, so its state is a dict of
JSON-safe lists (no pickle): see :meth:`LyricsTfidf.get_state`.
"""

from __future__ import annotations

import codecs
import math
import unicodedata
from pathlib import Path
from typing import Iterable

import numpy as np

from core.errors import BadInputError

#: Zero-width joiner and non-joiner: kept when inside a word (Bengali conjuncts).
_JOINERS = frozenset("\u200c\u200d")
#: Apostrophes kept between two letters ("don't", "rock'n'roll").
_APOSTROPHES = frozenset("'\u2019")


def _kind(ch: str) -> str:
    """Classify one character.

    ``L`` letter, ``M`` combining mark, ``N`` digit, ``J`` joiner, ``A`` apostrophe, ``-`` anything else.
    """
    if ch in _JOINERS:
        return "J"
    if ch in _APOSTROPHES:
        return "A"
    cat = unicodedata.category(ch)
    if cat[0] == "L":
        return "L"
    if cat[0] == "M":  # Mn, Mc, Me: matras, hasanta, chandrabindu, anusvara, visarga, nukta
        return "M"
    if cat == "Nd":
        return "N"
    return "-"


def in_bengali_script(text: str) -> bool:
    """Whether ``text`` has a letter of the Bengali script (U+0980-U+09FF): a browser without a Bengali font
    draws such text as boxes, and the page says how to get one."""
    return any("\u0980" <= ch <= "\u09ff" for ch in text)


def tokenize(text: str, *, keep_digits: bool = False) -> list[str]:
    """Split lyrics into word tokens, keeping Bangla words whole.

    Parameters
    ----------
    text : str
        Lyrics in any mix of scripts. ``None``/NaN-like empty values give ``[]``.
    keep_digits : bool
        Tokens made only of digits (Latin ``0-9`` or Bengali ``০-৯``) are dropped
        unless this is True. Digits inside a word ("mp3") are always kept.

    Returns
    -------
    tokens : list of str
        NFC-normalised, Latin lower-cased words. A token never starts with a
        combining mark or a joiner, never contains punctuation (the danda ``।``
        and double danda ``॥`` included), and never ends with a joiner or an
        apostrophe. Combining marks and ZWJ/ZWNJ inside a word are kept, so a
        Bangla word is never split at a vowel sign or hasanta.
    """
    if not text:
        return []
    text = unicodedata.normalize("NFC", str(text)).lower()
    tokens: list[str] = []
    word: list[str] = []

    def flush() -> None:
        while word and _kind(word[-1]) in "JA":
            word.pop()
        if word:
            token = "".join(word)
            if keep_digits or not all(_kind(c) == "N" for c in token):
                tokens.append(token)
        word.clear()

    for ch in text:
        k = _kind(ch)
        if k in "LN":
            word.append(ch)
        elif k in "MJ" and word:
            word.append(ch)
        elif k == "A" and word and _kind(word[-1]) == "L":
            word.append(ch)
        else:  # separator, or a mark/joiner/apostrophe with no word to attach to
            flush()
    flush()
    return tokens


class LyricsTfidf:
    """TF-IDF of lyrics with :func:`tokenize`, and a mask of tracks that have lyrics.

    Parameters
    ----------
    max_features : int
        Keep the ``max_features`` most frequent terms over the fitted lyrics.
    min_df : int or float
        Ignore terms in fewer documents than this (an int) or this fraction of
        documents (a float), as in sklearn.
    sublinear_tf : bool
        Use ``1 + log(tf)`` instead of raw term counts.

    Attributes
    ----------
    vocabulary_ : dict[str, int]
        Term -> column index.
    idf_ : np.ndarray, shape (V,)
        Inverse document frequency of each column (smooth idf, as sklearn).

    Notes
    -----
    ``fit`` only looks at non-empty lyrics, so instrumentals do not dilute the
    document frequencies. When no text has any token the vocabulary is empty
    and ``transform`` returns an ``(n, 0)`` matrix with an all-False mask.
    """

    def __init__(self, max_features: int = 2000, min_df: int | float = 1, sublinear_tf: bool = True):
        self.max_features = max_features
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf

    # ------------------------------------------------------------------ fit
    def fit(self, texts: Iterable[str]) -> "LyricsTfidf":
        """Learn the vocabulary and idf from ``texts`` (a sequence of lyrics strings)."""
        # Heavy (about 0.8 s) and needed only to fit: core.corpus imports this module for
        # decode_lyrics_bytes, and loading a corpus must not pay for scikit-learn.
        from sklearn.feature_extraction.text import TfidfVectorizer

        docs = [t for t in _as_texts(texts) if tokenize(t)]
        self.vocabulary_: dict[str, int] = {}
        self.idf_ = np.zeros(0, dtype=np.float64)
        if not docs:
            return self
        vec = TfidfVectorizer(
            tokenizer=tokenize, token_pattern=None, lowercase=False,
            max_features=self.max_features, min_df=self.min_df, sublinear_tf=self.sublinear_tf,
        )
        try:
            vec.fit(docs)
        except ValueError:  # every term pruned by min_df / max_features
            return self
        terms = vec.get_feature_names_out()
        self.vocabulary_ = {str(t): i for i, t in enumerate(terms)}
        self.idf_ = np.asarray(vec.idf_, dtype=np.float64)
        return self

    # ------------------------------------------------------------ transform
    def transform_sparse(self, texts: Iterable[str]):
        """TF-IDF rows of ``texts`` as a sparse matrix, and the mask of tracks that have lyrics.

        Returns
        -------
        X : scipy.sparse.csr_matrix, shape (n, V), float32
            L2-normalised TF-IDF rows (only the terms a text contains are stored: a corpus of
            100,000 lyrics takes a few MB, where the dense rows take 200 MB at V = 512); empty
            rows where the mask is False.
        mask : np.ndarray, shape (n,), bool
            False where the lyrics are empty/instrumental or share no term with
            the vocabulary (the row would be all zeros): the lyrics modality is
            missing for that track.
        """
        from scipy import sparse

        if not hasattr(self, "vocabulary_"):
            raise RuntimeError("LyricsTfidf is not fitted: call fit() first")
        docs = _as_texts(texts)
        V = len(self.vocabulary_)
        indptr, indices, counts = [0], [], []
        for doc in docs:
            row: dict[int, float] = {}
            for tok in tokenize(doc):
                j = self.vocabulary_.get(tok)
                if j is not None:
                    row[j] = row.get(j, 0.0) + 1.0
            cols = sorted(row)
            indices += cols
            counts += [row[j] for j in cols]
            indptr.append(len(indices))
        X = sparse.csr_matrix((np.asarray(counts, np.float64), np.asarray(indices, np.int64),
                               np.asarray(indptr, np.int64)), shape=(len(docs), V))
        if self.sublinear_tf:
            X.data = np.log(X.data) + 1.0
        X.data *= self.idf_[X.indices]
        norms = np.sqrt(np.asarray(X.multiply(X).sum(1)).ravel())
        mask = norms > 0
        X = sparse.diags(np.where(mask, 1.0 / np.where(mask, norms, 1.0), 0.0)) @ X
        return X.astype(np.float32).tocsr(), mask

    def transform(self, texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`transform_sparse` as a dense ``(n, V)`` float32 array, and the mask."""
        X, mask = self.transform_sparse(texts)
        return X.toarray(), mask

    def fit_transform(self, texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        docs = _as_texts(texts)
        return self.fit(docs).transform(docs)

    # ---------------------------------------------------------------- state
    def get_state(self) -> dict:
        """JSON-safe state: params, the terms in column order, and the idf values."""
        if not hasattr(self, "vocabulary_"):
            raise RuntimeError("LyricsTfidf is not fitted: call fit() first")
        terms = sorted(self.vocabulary_, key=self.vocabulary_.get)
        return {
            "params": {"max_features": self.max_features, "min_df": self.min_df, "sublinear_tf": self.sublinear_tf},
            "terms": terms,
            "idf": [float(v) for v in self.idf_],
        }

    @classmethod
    def from_state(cls, state: dict) -> "LyricsTfidf":
        """Rebuild a fitted estimator from :meth:`get_state`'s dict."""
        try:
            params = dict(state["params"])
            terms = [str(t) for t in state["terms"]]
            idf = np.asarray(state["idf"], dtype=np.float64).reshape(-1)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInputError(None, f"lyrics TF-IDF state is malformed: {exc}") from exc
        if len(terms) != len(idf):
            raise BadInputError(None, f"lyrics TF-IDF state has {len(terms)} terms but {len(idf)} idf values")
        if len(set(terms)) != len(terms):
            raise BadInputError(None, "lyrics TF-IDF state has duplicate terms")
        self = cls(**params)
        self.vocabulary_ = {t: i for i, t in enumerate(terms)}
        self.idf_ = idf
        return self


def _as_texts(texts: Iterable[str]) -> list[str]:
    """Lyrics as a list of strings; None/NaN become ``""``."""
    out = []
    for t in texts:
        if t is None or (isinstance(t, float) and math.isnan(t)):
            out.append("")
        else:
            out.append(str(t))
    return out


# --------------------------------------------------------------------- decoding
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_lyrics_bytes(data: bytes, path: str | Path | None) -> str:
    """Decode a lyrics file's bytes.

    Tries, in order: a byte-order mark (UTF-8, UTF-16 or UTF-32), strict UTF-8,
    then cp1252 (Windows Latin, common for English lyrics files). Text with
    control characters (other than tab and line breaks) is refused: that is what
    BOM-less UTF-16 or a binary file looks like. Line endings become ``\\n``.

    Raises
    ------
    BadInputError
        Naming ``path``, when the bytes are none of these (e.g. UTF-16 without a
        BOM, or a legacy 8-bit Bangla encoding that cp1252 turns into control
        characters or cannot map).
    """
    text = None
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise BadInputError(
                    path, f"lyrics start with a {codec} byte-order mark but do not decode: {exc.reason}"
                ) from exc
            break
    if text is None:
        for codec in ("utf-8", "cp1252"):
            try:
                candidate = data.decode(codec)
            except UnicodeDecodeError:
                continue
            if not any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in candidate):
                text = candidate
            break  # bytes that decode but hold control characters (NULs of BOM-less UTF-16, binary) are refused
        if text is None:
            raise BadInputError(
                path,
                "lyrics are not UTF-8 (nor UTF-16 with a byte-order mark, nor Windows-1252 text); "
                "save the file as UTF-8",
            )
    text = text.lstrip("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")

"""Bangla-aware tokenisation, lyrics TF-IDF and lyrics decoding."""

from __future__ import annotations

import json
import unicodedata

import numpy as np
import pandas as pd
import pytest

from core.errors import BadInputError
from core.lyrics import LyricsTfidf, decode_lyrics_bytes, tokenize

HASANTA = "\u09cd"
DANDA, DOUBLE_DANDA = "\u0964", "\u0965"
ZWNJ, ZWJ = "\u200c", "\u200d"


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "M"


def _bengali_word(word: str) -> bool:
    return bool(word) and all(0x0980 <= ord(c) <= 0x09FF or c in (ZWJ, ZWNJ) for c in word)


# ------------------------------------------------------------------ tokenize
def test_bangla_words_keep_vowel_signs_hasanta_and_nasal_marks():
    words = ["স্বপ্ন", "চাঁদ", "দুঃখ", "বাংলা", "ভালোবাসি", "ক্ষ্যাপা", "কৃষ্ণ"]
    text = "  ".join(w + p for w, p in zip(words, [",", DANDA, "!", DOUBLE_DANDA, "?", " -", DANDA + DANDA]))
    assert tokenize(text) == words
    # the naive regex splits at least one of these words: the test guards the real difficulty
    import re

    assert re.findall(r"\w+", "স্বপ্ন ভালোবাসি") != ["স্বপ্ন", "ভালোবাসি"]


def test_danda_and_punctuation_are_separators_not_tokens():
    tokens = tokenize(f"আমি গান গাই{DANDA}তুমি শোনো{DOUBLE_DANDA} (কথা) “সুর”")
    assert tokens == ["আমি", "গান", "গাই", "তুমি", "শোনো", "কথা", "সুর"]


def test_zero_width_joiners_inside_a_word_are_kept_and_stray_marks_dropped():
    word = "র" + HASANTA + ZWJ + "য"  # ra-phala written with an explicit ZWJ
    assert tokenize(f"{word} {ZWNJ}আমি") == [word, "আমি"]
    # a combining mark with no base letter (after punctuation) never starts a token
    tokens = tokenize(f"গান,{'া'}কথা {HASANTA}সুর")
    assert tokens and all(not _is_mark(t[0]) for t in tokens)
    assert "কথা" in tokens and "সুর" in tokens


def test_decomposed_input_is_nfc_normalised():
    composed = "ভালো"  # U+09CB
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert tokenize(decomposed) == [composed]


def test_english_is_lower_cased_with_apostrophes_and_digits_documented():
    tokens = tokenize("Don't STOP me now! Rock'n'roll, 1999 ২০২৪ mp3")
    assert tokens == ["don't", "stop", "me", "now", "rock'n'roll", "mp3"]
    assert tokenize("1999 ২০২৪ hits", keep_digits=True) == ["1999", "২০২৪", "hits"]
    assert tokenize("") == [] and tokenize("।,;") == []
    assert tokenize("'quoted' words'") == ["quoted", "words"]


def test_real_bangla_lyrics_words_come_out_whole(shared_data):
    df = pd.read_csv(shared_data / "lyrics" / "hblm100.csv")
    bangla = df[df["language"].str.lower().str.startswith("bang")]
    assert len(bangla) == 50
    checked = with_hasanta = 0
    for text in bangla["lyrics"]:
        tokens = tokenize(text)
        assert tokens, "every Bangla lyric has words"
        assert not any(_is_mark(t[0]) or t[0] in (ZWJ, ZWNJ) for t in tokens)
        assert not any(DANDA in t or DOUBLE_DANDA in t for t in tokens)
        token_set = set(tokens)
        # words picked from the file: whitespace-separated, punctuation trimmed, purely Bengali script,
        # and containing a combining mark (vowel sign, hasanta, chandrabindu ...)
        for raw in unicodedata.normalize("NFC", text).split():
            word = raw.strip(",.!?;:'\"-—()[]" + DANDA + DOUBLE_DANDA + "‘’“”")
            if _bengali_word(word) and any(_is_mark(c) for c in word) and not _is_mark(word[0]):
                assert word in token_set, f"{word!r} was split: {[t for t in tokens if t in word]}"
                checked += 1
                with_hasanta += HASANTA in word
    assert checked > 500 and with_hasanta > 30


def test_real_english_lyrics_tokens_are_sane(shared_data):
    df = pd.read_csv(shared_data / "lyrics" / "hblm100.csv")
    english = df[df["language"].str.lower().str.startswith("eng")]
    tokens = [t for text in english["lyrics"] for t in tokenize(text)]
    assert len(tokens) > 2000
    assert all(t == t.lower() for t in tokens)
    assert all(not any(c in t for c in ",.!?;:()\"") for t in tokens)
    common = pd.Series(tokens).value_counts().head(30).index
    assert {"the", "you", "i"} <= set(common)


# -------------------------------------------------------------------- TF-IDF
def test_tfidf_fits_all_real_lyrics_and_matches_sklearn(shared_data):
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = pd.read_csv(shared_data / "lyrics" / "hblm100.csv")["lyrics"].tolist()
    model = LyricsTfidf(max_features=2000)
    assert model.fit(texts) is model
    X, mask = model.transform(texts)
    assert X.shape == (100, len(model.vocabulary_)) and X.dtype == np.float32
    assert 500 < X.shape[1] <= 2000 and model.idf_.shape == (X.shape[1],)
    assert mask.all()
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    ref = TfidfVectorizer(tokenizer=tokenize, token_pattern=None, lowercase=False, sublinear_tf=True,
                          max_features=2000).fit(texts)
    assert model.vocabulary_ == {str(k): int(v) for k, v in ref.vocabulary_.items()}
    assert np.allclose(X, ref.transform(texts).toarray(), atol=1e-6)
    # Bangla and English terms share one vocabulary
    assert any(_bengali_word(t) for t in model.vocabulary_) and "love" in model.vocabulary_


def test_tfidf_mask_marks_missing_lyrics_and_ignores_them_when_fitting():
    texts = ["love and fire", "", None, float("nan"), "   ", "আমার সোনার বাংলা", "love songs", "zzz qqq"]
    model = LyricsTfidf()
    X, mask = model.fit_transform(texts)
    assert mask.tolist() == [True, False, False, False, False, True, True, True]
    assert not X[~mask].any()
    # empty lyrics do not count as documents: idf equals a fit on the non-empty texts only
    alone = LyricsTfidf().fit([t for t in texts if isinstance(t, str) and t.strip()])
    assert np.allclose(model.idf_, alone.idf_)
    X2, mask2 = model.transform(["unseen words only", "fire"])
    assert mask2.tolist() == [False, True] and not X2[0].any()


def test_tfidf_max_features_and_empty_vocabulary():
    texts = ["a b c d e f", "a b c", "a b", "a"]
    model = LyricsTfidf(max_features=2).fit(texts)
    assert sorted(model.vocabulary_) == ["a", "b"]
    empty = LyricsTfidf().fit(["", "।।"])
    X, mask = empty.transform(["anything"])
    assert X.shape == (1, 0) and not mask.any()


def test_tfidf_state_is_json_safe_and_round_trips(shared_data):
    texts = pd.read_csv(shared_data / "lyrics" / "hblm100.csv")["lyrics"].tolist()
    model = LyricsTfidf(max_features=300, min_df=2).fit(texts)
    state = json.loads(json.dumps(model.get_state(), ensure_ascii=False))
    clone = LyricsTfidf.from_state(state)
    assert clone.max_features == 300 and clone.min_df == 2
    a, ma = model.transform(texts[:10] + [""])
    b, mb = clone.transform(texts[:10] + [""])
    assert np.array_equal(a, b) and np.array_equal(ma, mb)


def test_from_state_rejects_malformed_state():
    with pytest.raises(BadInputError, match="terms"):
        LyricsTfidf.from_state({"params": {}, "terms": ["a", "b"], "idf": [1.0]})
    with pytest.raises(BadInputError, match="malformed"):
        LyricsTfidf.from_state({"terms": []})
    with pytest.raises(RuntimeError, match="not fitted"):
        LyricsTfidf().transform(["x"])


# ------------------------------------------------------------------ decoding
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_decode_unicode_encodings(encoding):
    text = "আমার সোনার বাংলা\nযাই, don't stop"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    assert decode_lyrics_bytes(data, "song.txt") == text


def test_decode_cp1252_and_line_endings():
    data = "Caf\u00e9 don\u2019t stop\r\nna\u00efve".encode("cp1252")
    assert decode_lyrics_bytes(data, "song.txt") == "Caf\u00e9 don\u2019t stop\nna\u00efve"


@pytest.mark.parametrize("data", [b"\x81\x8d\x8f\x90 lyrics",  # bytes cp1252 leaves undefined
                                  "আমার গান".encode("utf-16-le"),  # UTF-16 without a BOM
                                  b"ok\x00\x01\x02"])  # binary
def test_decode_garbage_names_the_file(data):
    with pytest.raises(BadInputError, match="not UTF-8") as err:
        decode_lyrics_bytes(data, "/data/lyrics/song 7.txt")
    assert err.value.path == "/data/lyrics/song 7.txt"
    assert "song 7.txt" in str(err.value)

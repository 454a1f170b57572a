"""Every data source loader, on tiny trees built here and on the real feature tables."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core.corpus import (
    CLIPS_PER_TRACK, FEATURE_NAMES, Corpus, detect_kind, load_banglabeats, load_folder, load_gtzan, load_manifest,
    load_merge, load_source, load_sources, parse_spec, read_feature_table,
)
from core.errors import BadInputError

SR = 22050


def wav(path: Path, *, seconds: float = 0.2, value: float | None = None, fmt: str = "WAV", seed: int = 0) -> Path:
    """Write a short mono 16-bit clip: a constant ``value`` or a seeded tone-plus-noise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * SR)
    if value is None:
        rng = np.random.default_rng(seed)
        y = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 800) * np.arange(n) / SR) + 0.01 * rng.standard_normal(n)
    else:
        y = np.full(n, value)
    sf.write(str(path), y, SR, subtype="PCM_16", format=fmt)
    return path


def skipped_reasons(corpus: Corpus) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in corpus.skipped}


# ====================================================================== GTZAN
def test_gtzan_kaggle_layout_with_a_non_audio_file(tmp_path):
    for g in ("blues", "jazz"):
        for i in range(3):
            wav(tmp_path / "genres_original" / g / f"{g}.{i:05d}.wav", seed=i)
    (tmp_path / "genres_original" / "jazz" / "notes.md").write_text("not audio")
    (tmp_path / "genres_original" / "jazz" / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "genres_original" / "jazz" / "jazz.00054.wav").write_bytes(b"")
    c = load_gtzan(tmp_path)
    assert len(c) == 6 and c.name == "gtzan"
    assert c.tracks.set_index("track_id").loc["jazz.00002", "genre"] == "jazz"
    assert set(c.tracks["language"]) == {"eng"} and set(c.tracks["source"]) == {"gtzan"}
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in c.tracks["path"])
    reasons = skipped_reasons(c)
    assert reasons == {"notes.md": "not an audio file", "jazz.00054.wav": "empty file (0 bytes)"}


def test_gtzan_original_au_layout_and_direct_genre_folders(tmp_path):
    for g in ("rock", "pop"):
        wav(tmp_path / "orig" / "genres" / g / f"{g}.00000.au", fmt="AU")
        wav(tmp_path / "direct" / g / f"{g}.00007.wav")
    orig = load_gtzan(tmp_path / "orig")
    assert sorted(orig.track_ids) == ["pop.00000", "rock.00000"]
    assert all(p.endswith(".au") for p in orig.tracks["path"])
    direct = load_gtzan(tmp_path / "direct", language="bng")
    assert sorted(direct.tracks["genre"]) == ["pop", "rock"] and set(direct.tracks["language"]) == {"bng"}
    assert detect_kind(tmp_path / "orig") == "gtzan" and detect_kind(tmp_path / "direct") == "gtzan"


def test_gtzan_errors_name_the_folder(tmp_path):
    with pytest.raises(BadInputError, match="not found") as err:
        load_gtzan(tmp_path / "nope")
    assert "nope" in str(err.value)
    (tmp_path / "empty" / "genres_original" / "blues").mkdir(parents=True)
    with pytest.raises(BadInputError, match="no usable tracks"):
        load_gtzan(tmp_path / "empty")


# =============================================================== BanglaBeats
def test_banglabeats_clips_as_tracks(tmp_path):
    for i in range(1, 4):
        wav(tmp_path / "Folk" / f"{i}.wav", seed=i)
        wav(tmp_path / "Rock" / f"{i}.wav", seed=10 + i)
    c = load_banglabeats(tmp_path)
    assert len(c) == 6 and set(c.tracks["language"]) == {"bng"}
    assert set(c.tracks["genre"]) == {"Folk", "Rock"}
    assert len(set(c.track_ids)) == 6  # stems repeat across genres: ids fall back to paths
    assert "Folk/1" in c.track_ids


def test_banglabeats_join_numeric_order_gaps_and_leftovers(tmp_path):
    clip_s = 0.2
    # Folk: clips 1..23 without 15 -> run 1..14 (one track + 4 leftovers), run 16..23 (8 leftovers)
    for i in [k for k in range(1, 24) if k != 15]:
        wav(tmp_path / "Folk" / f"{i}.wav", seconds=clip_s, value=i / 100)
    # Pop: one named song, indices written without zero padding and listed out of order
    for i in (10, 2, 1, 9, 3, 4, 5, 6, 7, 8):
        wav(tmp_path / "Pop" / f"tumi_amar_{i}.wav", seconds=clip_s, value=-i / 100)
    wav(tmp_path / "Pop" / "intro.wav", seconds=clip_s)
    c = load_banglabeats(tmp_path, join_clips=True)
    assert sorted(c.track_ids) == ["Folk.00000", "tumi_amar.00000"]
    t = c.tracks.set_index("track_id")
    assert t.loc["Folk.00000", "genre"] == "Folk" and t.loc["tumi_amar.00000", "song"] == "tumi_amar"
    clips = [Path(p).stem for p in t.loc["tumi_amar.00000", "clips"].split("|")]
    assert clips == [f"tumi_amar_{i}" for i in range(1, 11)]
    # the joined file is real audio: 10 clips in numeric order
    y, sr = sf.read(t.loc["tumi_amar.00000", "path"])
    n = int(clip_s * SR)
    assert sr == SR and len(y) == CLIPS_PER_TRACK * n
    levels = [float(np.median(y[k * n:(k + 1) * n])) for k in range(CLIPS_PER_TRACK)]
    assert np.allclose(levels, [-i / 100 for i in range(1, 11)], atol=2e-3)
    reasons = [s.reason for s in c.skipped]
    assert sum("gap in clip numbering" in r for r in reasons) == 1
    assert sum("leftover clip" in r for r in reasons) == 4 + 8
    assert any("does not end with an index" in r for r in reasons)
    # the cache is reused: a second load gives the same file without rewriting it
    joined = Path(t.loc["Folk.00000", "path"])
    mtime = joined.stat().st_mtime_ns
    again = load_banglabeats(tmp_path, join_clips=True)
    assert again.tracks.set_index("track_id").loc["Folk.00000", "path"] == str(joined)
    assert joined.stat().st_mtime_ns == mtime


def test_banglabeats_join_lists_a_corrupt_clip(tmp_path):
    for i in range(1, 11):
        wav(tmp_path / "Metal" / f"{i}.wav", seed=i)
    (tmp_path / "Metal" / "4.wav").write_bytes(b"RIFF not really a wav file at all")
    with pytest.raises(BadInputError, match="no usable tracks"):
        load_banglabeats(tmp_path, join_clips=True)
    for i in range(11, 21):
        wav(tmp_path / "Metal" / f"{i}.wav", seed=i)
    c = load_banglabeats(tmp_path, join_clips=True)
    assert c.track_ids == ["Metal.00001"]
    assert any(Path(s.path).name == "4.wav" and "Metal.00000 not joined" in s.reason for s in c.skipped)


# ===================================================================== MERGE
def test_merge_audio_lyrics_and_metadata(tmp_path):
    ids = ["A001", "A002", "MT0000004637"]
    quads = ["Q1", "Q3", "Q2"]
    for sid, q in zip(ids, quads):
        wav(tmp_path / "MERGE_Audio" / q / f"{sid}.wav")
    (tmp_path / "MERGE_Lyrics" / "Q1").mkdir(parents=True)
    (tmp_path / "MERGE_Lyrics" / "Q1" / "A001.txt").write_text("Happy days are here again", encoding="utf-8")
    (tmp_path / "MERGE_Lyrics" / "Q3").mkdir(parents=True)
    (tmp_path / "MERGE_Lyrics" / "Q3" / "A002.txt").write_bytes("don\u2019t cry".encode("cp1252"))
    meta = pd.DataFrame({"Song": ids, "Quadrant": quads, "Artist": ["x", "y", "z"]})
    meta.to_csv(tmp_path / "metadata.csv", index=False)
    pd.DataFrame({"Song": ids, "Arousal": [0.8, -0.5, 0.6], "Valence": [0.7, -0.4, -0.3]}).to_csv(
        tmp_path / "av_values.csv", index=False)
    c = load_merge(tmp_path)
    t = c.tracks.set_index("track_id")
    assert sorted(t.index) == sorted(ids)
    assert t.loc["A001", "quadrant"] == "Q1" and t.loc["A002", "arousal"] == -0.5
    assert t.loc["A001", "lyrics"] == "Happy days are here again"
    assert t.loc["A002", "lyrics"] == "don\u2019t cry" and t.loc["MT0000004637", "lyrics"] == ""
    assert t.loc["A002", "Artist"] == "y"
    assert set(t["language"]) == {"eng"} and set(t["source"]) == {"merge"}
    assert detect_kind(tmp_path) == "merge"


def test_merge_without_metadata_uses_quadrant_folders(tmp_path):
    for sid, q in (("L1", "Q4"), ("L2", "Q2")):
        wav(tmp_path / q / f"{sid}.wav")
    c = load_merge(tmp_path)
    assert dict(zip(c.track_ids, c.tracks["quadrant"])) == {"L1": "Q4", "L2": "Q2"}


# ================================================================== manifest
def test_manifest_relative_paths_missing_file_and_lyrics_files(tmp_path):
    wav(tmp_path / "audio" / "a.wav")
    wav(tmp_path / "audio" / "b.wav")
    wav(tmp_path / "audio" / "c.wav")
    (tmp_path / "lyr").mkdir()
    (tmp_path / "lyr" / "a.txt").write_text("আমার সোনার বাংলা", encoding="utf-16")
    (tmp_path / "lyr" / "b.txt").write_bytes(b"\x81\x8d\x8f\x90\x9d")
    pd.DataFrame({
        "path": ["audio/a.wav", "audio/b.wav", "audio/missing.wav", str(tmp_path / "audio" / "c.wav")],
        "genre": ["Folk", "rock", "pop", "jazz"],
        "language": ["bangla", "en", "eng", ""],
        "lyrics_file": ["lyr/a.txt", "lyr/b.txt", "", ""],
        "lyrics": ["", "", "", "inline words"],
        "mood": ["calm", "angry", "happy", "calm"],
    }).to_csv(tmp_path / "list.csv", index=False)
    c = load_manifest(tmp_path / "list.csv")
    t = c.tracks.set_index("track_id")
    assert sorted(t.index) == ["audio/a", "audio/b", "audio/c"]
    assert t.loc["audio/a", "lyrics"] == "আমার সোনার বাংলা" and t.loc["audio/a", "language"] == "bng"
    assert t.loc["audio/b", "lyrics"] == "" and t.loc["audio/b", "language"] == "eng"
    assert t.loc["audio/c", "lyrics"] == "inline words"
    assert t.loc["audio/b", "mood"] == "angry" and "lyrics_file" not in t.columns
    assert all(Path(p).is_absolute() for p in t["path"])
    reasons = skipped_reasons(c)
    assert reasons["missing.wav"].startswith("audio file not found")
    assert "not UTF-8" in reasons["b.txt"] and "kept without lyrics" in reasons["b.txt"]


def test_manifest_errors(tmp_path):
    pd.DataFrame({"file": ["a.wav"]}).to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(BadInputError, match="needs a 'path' column") as err:
        load_manifest(tmp_path / "m.csv")
    assert "m.csv" in str(err.value)
    pd.DataFrame({"path": ["gone.wav"]}).to_csv(tmp_path / "m2.csv", index=False)
    with pytest.raises(BadInputError, match="no usable audio file.*gone.wav"):
        load_manifest(tmp_path / "m2.csv")
    wav(tmp_path / "x.wav")
    pd.DataFrame({"path": ["x.wav", "x.wav"], "track_id": ["same", "same"]}).to_csv(tmp_path / "m3.csv", index=False)
    with pytest.raises(BadInputError, match="duplicate track_id"):
        load_manifest(tmp_path / "m3.csv")


# ==================================================================== folder
def test_folder_genres_lyrics_and_skips(tmp_path):
    wav(tmp_path / "rock" / "song1.wav")
    (tmp_path / "rock" / "song1.txt").write_text("loud guitars tonight")
    wav(tmp_path / "baul" / "gaan.wav")
    (tmp_path / "baul" / "gaan.txt").write_bytes("মন আমার".encode("utf-8-sig"))
    wav(tmp_path / "loose.wav")
    (tmp_path / "rock" / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / ".hidden").mkdir()
    wav(tmp_path / ".hidden" / "x.wav")
    (tmp_path / "baul" / "bad.wav").write_bytes(b"")
    c = load_folder(tmp_path, language="bng")
    t = c.tracks.set_index("track_id")
    assert sorted(t.index) == ["baul/gaan", "loose", "rock/song1"]
    assert t.loc["rock/song1", "genre"] == "rock" and t.loc["loose", "genre"] == ""
    assert t.loc["baul/gaan", "lyrics"] == "মন আমার" and t.loc["rock/song1", "lyrics"] == "loud guitars tonight"
    assert skipped_reasons(c) == {"cover.jpg": "not an audio file", "bad.wav": "empty file (0 bytes)"}
    assert detect_kind(tmp_path) == "folder"


def test_folder_reports_undecodable_lyrics(tmp_path):
    wav(tmp_path / "pop" / "s.wav")
    (tmp_path / "pop" / "s.txt").write_bytes("hello".encode("utf-16-le"))  # UTF-16 without a BOM
    c = load_folder(tmp_path)
    assert c.tracks["lyrics"].tolist() == [""]
    assert "not UTF-8" in skipped_reasons(c)["s.txt"]


# ============================================================ feature tables
def test_real_study_table(shared_data):
    c = read_feature_table(shared_data / "features" / "gtzan_banglabeats_30s.csv")
    assert len(c) == 2617 and c.features57.shape == (2617, 57)
    assert list(c.features57.columns) == list(FEATURE_NAMES)
    assert c.tracks["language"].value_counts().to_dict() == {"bng": 1617, "eng": 1000}
    assert not c.has_audio and (c.tracks["path"] == "").all()
    genres = set(c.tracks["genre"])
    assert {"hiphop", "Hiphop", "blues", "Adhunik"} <= genres and len(genres) == 18
    assert c.tracks.set_index("track_id").loc["Rock.00190", "language"] == "bng"
    raw = pd.read_csv(shared_data / "features" / "gtzan_banglabeats_30s.csv")
    assert np.array_equal(c.features57.to_numpy(), raw[list(FEATURE_NAMES)].to_numpy())


def test_real_kaggle_table_and_language_override(shared_data):
    path = shared_data / "features" / "gtzan_kaggle_30s.csv"
    c = read_feature_table(path)
    assert len(c) == 1000 and set(c.tracks["language"]) == {""}
    assert "jazz.00054" in c.track_ids and "song" not in c.tracks.columns
    assert set(read_feature_table(path, language="eng").tracks["language"]) == {"eng"}
    assert detect_kind(path) == "features"
    via_spec = load_source(f"{path}@en")
    assert set(via_spec.tracks["language"]) == {"eng"} and via_spec.features57 is not None


@pytest.fixture
def small_table(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "features" / "gtzan_kaggle_30s.csv").head(6)


def test_three_second_table_gets_song_and_segment(tmp_path, small_table):
    df = small_table.copy()
    df["filename"] = [f"blues.0000{i // 3}.{i % 3}.wav" for i in range(6)]
    df.to_csv(tmp_path / "features_3_sec.csv", index=False)
    c = read_feature_table(tmp_path / "features_3_sec.csv")
    assert c.tracks["song"].tolist() == ["blues.00000"] * 3 + ["blues.00001"] * 3
    assert c.tracks["segment"].tolist() == [0, 1, 2, 0, 1, 2]
    assert c.track_ids[1] == "blues.00000.1"


def test_feature_table_missing_column(tmp_path, small_table):
    small_table.drop(columns=["mfcc7_var", "tempo"]).to_csv(tmp_path / "f.csv", index=False)
    with pytest.raises(BadInputError, match="lacks 2 column") as err:
        read_feature_table(tmp_path / "f.csv")
    assert "mfcc7_var" in str(err.value) and "tempo" in str(err.value) and "f.csv" in str(err.value)


def test_feature_table_extra_column_is_an_error_but_index_columns_are_dropped(tmp_path, small_table):
    df = small_table.copy()
    df["artist"] = "x"
    df.to_csv(tmp_path / "extra.csv", index=False)
    with pytest.raises(BadInputError, match=r"unknown column\(s\) \['artist'\]"):
        read_feature_table(tmp_path / "extra.csv")
    small_table.to_csv(tmp_path / "indexed.csv")  # pandas writes an unnamed index column
    assert len(read_feature_table(tmp_path / "indexed.csv")) == 6


@pytest.mark.parametrize("bad,message", [(np.nan, "missing \\(NaN\\)"), (np.inf, "infinite"), ("n/a?", "non-numeric")])
def test_feature_table_bad_values_name_rows_and_columns(tmp_path, small_table, bad, message):
    df = small_table.astype({"rms_mean": object, "mfcc3_mean": object})
    df.loc[2, "rms_mean"] = bad
    df.loc[4, "mfcc3_mean"] = bad
    df.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(BadInputError, match=message) as err:
        read_feature_table(tmp_path / "bad.csv")
    text = str(err.value)
    assert "bad.csv" in text and "2 row(s)" in text
    for name in (small_table.loc[2, "filename"], small_table.loc[4, "filename"], "rms_mean", "mfcc3_mean"):
        assert name in text
    assert small_table.loc[3, "filename"] not in text


def test_feature_table_duplicates_and_unreadable(tmp_path, small_table):
    df = small_table.copy()
    df.loc[1, "filename"] = df.loc[0, "filename"]
    df.to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(BadInputError, match="duplicate filename"):
        read_feature_table(tmp_path / "dup.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(BadInputError, match="not a readable CSV"):
        read_feature_table(tmp_path / "empty.csv")


# ===================================================================== specs
def test_parse_spec():
    assert parse_spec("banglabeats:/data/bb@bng") == ("banglabeats", "/data/bb", "bng")
    assert parse_spec("/data/gtzan") == (None, "/data/gtzan", None)
    assert parse_spec("gtzan:/data/g@English") == ("gtzan", "/data/g", "eng")
    assert parse_spec("/mail/me@host/x") == (None, "/mail/me@host/x", None)
    assert parse_spec("C:/music@bn") == (None, "C:/music", "bng")
    assert parse_spec("demo") == ("demo", "", None)
    assert parse_spec("demo@bn") == ("demo", "", "bng")
    assert parse_spec("demo:/tmp/d") == ("demo", "/tmp/d", None)
    assert parse_spec("banglabeats+join:/bb") == ("banglabeats+join", "/bb", None)
    with pytest.raises(BadInputError, match="empty source spec"):
        parse_spec("  ")


def test_parse_spec_keeps_an_existing_path_with_an_at_sign(tmp_path):
    folder = tmp_path / "songs@home"
    folder.mkdir()
    assert parse_spec(f"folder:{folder}") == ("folder", str(folder), None)
    assert parse_spec(f"{folder}@bng") == (None, str(folder), "bng")


def test_detect_kind_for_csvs_and_missing_paths(tmp_path, small_table):
    small_table.to_csv(tmp_path / "feats.csv", index=False)
    pd.DataFrame({"path": ["a.wav"]}).to_csv(tmp_path / "list.csv", index=False)
    assert detect_kind(tmp_path / "feats.csv") == "features"
    assert detect_kind(tmp_path / "list.csv") == "manifest"
    (tmp_path / "m").mkdir()
    (tmp_path / "list.csv").rename(tmp_path / "m" / "manifest.csv")
    assert detect_kind(tmp_path / "m") == "manifest"
    with pytest.raises(BadInputError, match="source not found"):
        detect_kind(tmp_path / "nowhere")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(BadInputError, match="must be a .csv"):
        detect_kind(tmp_path / "x.txt")


def test_hybrid_corpus_from_several_specs(tmp_path):
    for g in ("rock", "pop"):
        wav(tmp_path / "gtzan" / "genres_original" / g / f"{g}.00000.wav")
    for i in range(1, 11):
        wav(tmp_path / "bb" / "Rock" / f"{i}.wav", seed=i)
    wav(tmp_path / "mine" / "rock" / "rock.00000.wav")
    c = load_sources([f"{tmp_path / 'gtzan'}", f"banglabeats+join:{tmp_path / 'bb'}@bng",
                      f"folder:{tmp_path / 'mine'}@bn"])
    assert len(c) == 4 and c.name == "hybrid"
    assert c.tracks.groupby("source")["language"].first().to_dict() == {"gtzan": "eng", "banglabeats": "bng",
                                                                          "folder": "bng"}
    assert len(set(c.track_ids)) == 4 and "Rock.00000" in c.track_ids
    assert c.features57 is None
    kwargs = load_source(f"banglabeats:{tmp_path / 'bb'}", join_clips=True)
    assert kwargs.track_ids == ["Rock.00000"]


def test_clashing_ids_fall_back_to_paths(tmp_path):
    wav(tmp_path / "pop" / "a.wav")
    wav(tmp_path / "pop" / "a.flac", fmt="FLAC")
    wav(tmp_path / "rock" / "a.wav")
    c = load_folder(tmp_path)
    assert sorted(c.track_ids) == ["pop/a.flac", "pop/a.wav", "rock/a"]
    for genre in ("Folk", "Pop"):
        for i in range(1, 11):
            wav(tmp_path / "bb" / genre / f"gaan-{i}.wav", seed=i)
    joined = load_banglabeats(tmp_path / "bb", join_clips=True)
    assert sorted(joined.track_ids) == ["Folk/gaan.00000", "Pop/gaan.00000"]


# ================================================================= fingerprint
def test_fingerprint_follows_file_contents_not_paths(tmp_path):
    for name, seed in (("a", 1), ("b", 2)):
        wav(tmp_path / "one" / "rock" / f"{name}.wav", seconds=0.5, seed=seed)
    before = load_folder(tmp_path / "one").fingerprint()
    assert load_folder(tmp_path / "one").fingerprint() == before  # stable

    clip = tmp_path / "one" / "rock" / "b.wav"
    data = bytearray(clip.read_bytes())
    data[-2:] = bytes([data[-2] ^ 0xFF, data[-1] ^ 0xFF])  # one sample edited, same size
    old_mtime = clip.stat().st_mtime_ns
    clip.write_bytes(bytes(data))
    os.utime(clip, ns=(old_mtime, old_mtime + 10**9))  # a coarse file-system clock could leave mtime unchanged
    edited = load_folder(tmp_path / "one").fingerprint()
    assert edited != before

    (tmp_path / "one").rename(tmp_path / "two")  # same bytes elsewhere: same latents, same fingerprint
    assert load_folder(tmp_path / "two").fingerprint() == edited


def test_fingerprint_covers_labels_lyrics_and_precomputed_features(tmp_path, small_table):
    wav(tmp_path / "rock" / "a.wav", seconds=0.5)
    corpus = load_folder(tmp_path)
    relabelled = Corpus(corpus.tracks.assign(genre="pop"), name=corpus.name)
    with_lyrics = Corpus(corpus.tracks.assign(lyrics="la la"), name=corpus.name)
    assert len({corpus.fingerprint(), relabelled.fingerprint(), with_lyrics.fingerprint()}) == 3

    small_table.to_csv(tmp_path / "table.csv", index=False)
    table = read_feature_table(tmp_path / "table.csv")
    changed = table.features57.copy()
    changed.iloc[0, 0] += 1.0
    assert Corpus(table.tracks, changed, name=table.name).fingerprint() != table.fingerprint()


def test_every_language_gets_one_iso_639_3_tag_and_a_readable_name(tmp_path):
    from core.corpus import language_name, load_manifest

    sr = 22050
    rows = []
    for i, lang in enumerate(["en", "de", "German", "ger", "FR", "bn", "Bangla", "ben", "xx-custom", ""]):
        path = tmp_path / f"s{i}.wav"
        sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * np.arange(sr) / sr)).astype(np.float32), sr)
        rows.append({"path": path.name, "language": lang})
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    corpus = load_manifest(tmp_path / "manifest.csv")
    assert corpus.tracks["language"].tolist() == ["eng", "deu", "deu", "deu", "fra", "bng", "bng", "bng",
                                                  "xx-custom", ""]
    assert [language_name(t) for t in ("eng", "deu", "fra", "bng", "xx-custom")] == [
        "English", "German", "French", "Bangla", "xx-custom"]

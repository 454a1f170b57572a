"""Bad inputs to a corpus (data roots, lyrics files, folder links and loops, unreadable folders, odd manifests
and feature tables, truncated audio) each get a message naming the file, and nothing else is lost.

Each test builds its bad input itself. Bad checkpoint files are in test_checkpoint_bad_files.py, damaged
caches in test_cache_damage.py, and the subprocess cases (orphans, kills, CLI exits) in test_cli_processes.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core import config
from core.audio import load_audio
from core.cli import main
from core.corpus import FEATURE_NAMES, load_banglabeats, load_folder, load_manifest, load_source
from core.corpus import read_feature_table, scan
from core.corpus.roots import ENV, MAX_LYRICS_BYTES, data_roots, restrict_corpus
from core.corpus.specs import check_specs
from core.errors import BadInputError

SR = 22050


def wav(path: Path, *, seconds: float = 2.0, freq: float = 330.0, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.4 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32),
             SR, subtype="PCM_16")
    return path


# ---------------------------------------------------------------------------------------- corpus
def test_data_roots_setting_and_spec_check(tmp_path, monkeypatch):
    inside, outside = tmp_path / "music", tmp_path / "elsewhere"
    wav(inside / "a.wav")
    wav(outside / "b.wav")
    monkeypatch.setenv(ENV, f"{inside}{os.pathsep}{tmp_path / 'other'}")
    assert data_roots() == [inside.resolve(), (tmp_path / "other").resolve()]
    check_specs([f"folder:{inside}@eng", "demo"])
    for spec in (f"folder:{outside}", "/usr", f"{inside}/../elsewhere"):
        with pytest.raises(BadInputError, match="outside the data roots"):
            check_specs([spec])
    monkeypatch.delenv(ENV)
    assert Path.home().resolve() in data_roots() and config.DATA_DIR.resolve() in data_roots()


def test_dashboard_restriction_drops_audio_outside_the_roots(tmp_path, monkeypatch):
    root = tmp_path / "root"
    a = wav(root / "a.wav")
    b = wav(tmp_path / "secret" / "b.wav", seed=1)
    pd.DataFrame({"path": [str(a), str(b)]}).to_csv(root / "m.csv", index=False)
    monkeypatch.setenv(ENV, str(root))
    corpus = restrict_corpus(load_manifest(root / "m.csv"))
    assert corpus.tracks["path"].tolist() == [str(a.resolve())]
    assert any(s.path == str(b.resolve()) and "outside the data roots" in s.reason for s in corpus.skipped)


@pytest.mark.parametrize("target,message", [
    ("/etc/passwd", "outside the manifest's folder and the data roots"),
    ("folder", "is a folder"),
    ("/dev/zero", "not a regular file"),
    ("big", "too large"),
])
def test_lyrics_file_rules(tmp_path, monkeypatch, target, message):
    root = tmp_path / "m"
    a = wav(root / "a.wav")
    wav(root / "b.wav", seed=2)
    (root / "b.txt").write_text("la la la")
    if target == "folder":
        (root / "sub").mkdir()
        target = str(root / "sub")
    elif target == "big":
        (root / "big.txt").write_bytes(b"a" * (MAX_LYRICS_BYTES + 1))
        target = str(root / "big.txt")
    elif target == "/dev/zero":
        monkeypatch.setenv(ENV, f"{tmp_path}{os.pathsep}/dev")  # allowed by location: refused as a device
    pd.DataFrame({"path": [a.name, "b.wav"], "lyrics_file": [target, "b.txt"]}).to_csv(root / "m.csv", index=False)
    corpus = load_manifest(root / "m.csv")
    assert len(corpus) == 2  # both tracks kept
    lyrics = dict(zip(corpus.tracks["track_id"], corpus.tracks["lyrics"]))
    assert lyrics == {"a": "", "b": "la la la"}
    (note,) = [s for s in corpus.skipped if "lyrics" in s.reason]
    assert message in note.reason and "track a kept without lyrics" in note.reason
    assert "root:" not in corpus.tracks.to_csv()  # nothing of /etc/passwd in the table


def test_folder_source_lists_links_loops_and_devices(tmp_path, monkeypatch):
    root = tmp_path / "music"
    wav(root / "rock" / "a.wav")
    (root / "rock" / "dangling.wav").symlink_to(root / "nope.wav")
    (root / "rock" / "self.wav").symlink_to(root / "rock" / "self.wav")
    (root / "rock" / "up").symlink_to(root)  # a folder loop
    os.mkfifo(root / "rock" / "pipe.wav")
    corpus = load_folder(root)
    assert corpus.tracks["track_id"].tolist() == ["rock/a"]
    reasons = {Path(s.path).name: s.reason for s in corpus.skipped}
    assert reasons["dangling.wav"].startswith("dangling symbolic link")
    assert reasons["self.wav"] == "cannot be read (symbolic link loop)"
    assert reasons["pipe.wav"].startswith("not a regular file")
    assert any(r.startswith("symbolic link loop") for r in reasons.values())
    monkeypatch.setattr(scan, "MAX_ENTRIES", 3)
    with pytest.raises(BadInputError, match="more than 3 entries under this folder"):
        load_folder(root)


def test_unreadable_subfolder_is_listed(tmp_path, monkeypatch):
    root = tmp_path / "music"
    wav(root / "ok" / "a.wav")
    (root / "locked").mkdir()
    real_walk = os.walk

    def walk(top, onerror=None, followlinks=False):  # root can read anything: simulate EACCES on one folder
        for dirpath, dirnames, filenames in real_walk(top, onerror=onerror, followlinks=followlinks):
            if "locked" in dirnames:
                dirnames.remove("locked")
                onerror(PermissionError(13, "Permission denied", str(root / "locked")))
            yield dirpath, dirnames, filenames

    monkeypatch.setattr(scan.os, "walk", walk)
    corpus = load_folder(root)
    assert corpus.track_ids == ["ok/a"]
    assert [(s.path, s.reason) for s in corpus.skipped] == [
        (str(root / "locked"), "folder cannot be read (permission denied); its files are left out")]


def test_manifest_labels_and_ids_are_text(tmp_path):
    for i in range(3):
        wav(tmp_path / f"{i}.wav", seed=i)
    (tmp_path / "m.csv").write_text("path,track_id,genre\n0.wav,1,NaN\n1.wav,1.0,rock\n2.wav,01,N/A\n")
    corpus = load_manifest(tmp_path / "m.csv")
    assert corpus.track_ids == ["1", "1.0", "01"]
    assert corpus.tracks["genre"].tolist() == ["", "rock", ""]
    assert "NaN" not in corpus.label_columns() and "NaN" not in set(corpus.tracks["genre"])


def test_a_feature_table_missing_columns_is_described(tmp_path):
    df = pd.DataFrame(np.ones((3, 50)), columns=list(FEATURE_NAMES)[:50])
    df.insert(0, "filename", ["a.wav", "b.wav", "c.wav"])
    df.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(BadInputError, match=r"looks like a feature table \(50 of the 57") as err:
        load_source(str(tmp_path / "t.csv"))
    assert "lacks 7" in str(err.value) and str(tmp_path / "t.csv") in str(err.value)
    pd.DataFrame({"x": [1], "y": [2]}).to_csv(tmp_path / "u.csv", index=False)
    with pytest.raises(BadInputError, match=r"neither a manifest nor a feature table.*\['x', 'y'\]"):
        load_source(str(tmp_path / "u.csv"))


def test_huge_feature_value_names_file_row_and_line(tmp_path):
    df = pd.DataFrame(np.ones((4, 57)), columns=list(FEATURE_NAMES))
    df.insert(0, "filename", [f"s{i}.wav" for i in range(4)])
    df.loc[2, "tempo"] = 1e300
    df.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(BadInputError, match=r"too large.*\['s2.wav'\] \(CSV line\(s\) \[4\]\).*\['tempo'\]") as err:
        read_feature_table(tmp_path / "t.csv")
    assert str(tmp_path / "t.csv") in str(err.value)


def test_truncated_wav_and_mp3_are_skipped_with_both_lengths(tmp_path):
    y = (0.3 * np.sin(2 * np.pi * 440 * np.arange(SR * 4) / SR)).astype(np.float32)
    for ext in ("wav", "mp3"):
        full = tmp_path / f"full.{ext}"
        sf.write(full, y, SR, format=ext.upper())
        cut = tmp_path / f"cut.{ext}"
        data = full.read_bytes()
        cut.write_bytes(data[: len(data) // 2])
        assert abs(len(load_audio(full)) - len(y)) < SR // 100
        with pytest.raises(BadInputError, match=r"truncated: the header promises 4.00 s, only [12]\.\d\d s") as err:
            load_audio(cut)
        assert str(cut) in str(err.value)


def test_damaged_joined_banglabeats_track_is_rebuilt(tmp_path):
    root = tmp_path / "bb"
    for i in range(10):
        wav(root / "Folk" / f"{i}.wav", seconds=1.0, seed=i)
    first = load_banglabeats(root, join_clips=True)
    joined = Path(first.tracks["path"].iloc[0])
    whole = joined.read_bytes()
    joined.write_bytes(whole[: len(whole) // 3])
    again = load_banglabeats(root, join_clips=True)
    assert Path(again.tracks["path"].iloc[0]) == joined and joined.read_bytes() == whole
    assert len(load_audio(joined)) == 10 * SR


def test_features_csv_round_trips_same_names_and_joined_ids(tmp_path):
    wav(tmp_path / "src" / "rock" / "song.wav", seed=1)
    wav(tmp_path / "src" / "pop" / "song.wav", seed=2)
    wav(tmp_path / "src" / "pop" / "other.wav", seed=3)
    out = tmp_path / "f.csv"
    assert main(["features", f"folder:{tmp_path / 'src'}", "--out", str(out), "--jobs", "1"]) == 0
    names = pd.read_csv(out)["filename"].tolist()
    assert sorted(names) == ["other.wav", "pop/song.wav", "rock/song.wav"]
    back = read_feature_table(out)
    assert sorted(back.track_ids) == ["other", "pop/song", "rock/song"]
    for i in range(10):
        wav(tmp_path / "bb" / "Folk" / f"{i}.wav", seconds=1.0, seed=i)
    out2 = tmp_path / "j.csv"
    assert main(["features", f"banglabeats+join:{tmp_path / 'bb'}", "--out", str(out2), "--jobs", "1"]) == 0
    assert pd.read_csv(out2)["filename"].tolist() == ["Folk.00000.wav"]
    assert read_feature_table(out2).track_ids == ["Folk.00000"]


def test_train_reports_the_loader_skips_too(tmp_path, capsys):
    src = tmp_path / "src"
    for i in range(6):
        wav(src / "g" / f"s{i}.wav", seconds=1.5, seed=i, freq=200 + 50 * i)
    (src / "g" / "notes.pdf").write_bytes(b"%PDF")           # loader skip: not audio
    (src / "g" / "empty.wav").write_bytes(b"")               # loader skip: empty
    (src / "g" / "bad.wav").write_bytes(b"RIFF" + bytes(64))  # extractor skip: corrupt
    assert main(["features", f"folder:{src}", "--out", str(tmp_path / "f.csv"), "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "skipped 3:" in err
    assert main(["train", "--model", "basic", "--data", f"folder:{src}", "--out", str(tmp_path / "m.pt"),
                 "--epochs", "1"]) == 0
    err = capsys.readouterr().err
    assert "(3 skipped)" in err

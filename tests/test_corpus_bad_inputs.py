"""Every bad input gets a message naming the file or argument, and nothing else is lost.

Each test builds its bad input itself. The subprocess cases (orphans, kills, CLI exits) are in
tests/test_faults.py.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from core import checkpoint, config
from core.audio import load_audio
from core.cli import main
from core.corpus import FEATURE_NAMES, Corpus, load_banglabeats, load_folder, load_manifest, load_source
from core.corpus import read_feature_table, scan
from core.corpus.roots import ENV, MAX_LYRICS_BYTES, data_roots, restrict_corpus
from core.corpus.specs import check_specs
from core.errors import BadInputError, CheckpointError
from core.features.cache import FeatureCache
from core.latents import encode_corpus
from core.models import create
from tests.test_models import feature_inputs

SR = 22050


def wav(path: Path, *, seconds: float = 2.0, freq: float = 330.0, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.4 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32),
             SR, subtype="PCM_16")
    return path


# ------------------------------------------------------------------------------------------ checkpoints
@pytest.fixture(scope="module")
def ckpt_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("ck") / "basic.pt"
    checkpoint.fit(create("basic", epochs=2), feature_inputs(n=40), path)
    return path.read_bytes()


def _write(tmp_path: Path, payload: dict, *, fix_checksum: bool = True) -> Path:
    if fix_checksum:
        payload = dict(payload, checksum=checkpoint.content_checksum(payload))
    path = tmp_path / "crafted.pt"
    torch.save(payload, path)
    return path


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_text("epoch,loss\n1,0.5\n"), "looks like a text file, not a PyTorch file"),
    (lambda p: p.write_bytes(b"ID3\x03\x00\x00\x00" + bytes(range(256)) * 8), "looks like an MP3 audio file"),
    (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt "), "looks like a WAV"),
    (lambda p: torch.save({"x": Evil()}, p), "refused: it holds Python objects that could run code"),
    (lambda p: os.mkfifo(p), "is a named pipe (FIFO), not a checkpoint file"),
])
def test_foreign_files_get_a_message_that_says_what_they_are(tmp_path, make, message):
    path = tmp_path / "x.pt"
    make(path)
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        checkpoint.read(path)
    assert str(path) in str(err.value)  # and the read returned: a FIFO opened for reading would block


def test_a_character_device_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="is a device"):
        checkpoint.read("/dev/zero")


def test_unreadable_checkpoint_says_permission_denied(tmp_path, ckpt_bytes, monkeypatch):
    path = tmp_path / "locked.pt"
    path.write_bytes(ckpt_bytes)

    def denied(p):
        raise PermissionError(13, "Permission denied", str(p))

    monkeypatch.setattr(checkpoint.format, "_head", denied)  # running as root, chmod 000 would not stop the read
    with pytest.raises(CheckpointError, match=r"cannot be read \(permission denied\)") as err:
        checkpoint.read(path)
    assert str(path) in str(err.value)


def test_a_flipped_bit_in_the_weights_fails_the_checksum(tmp_path, ckpt_bytes):
    good = tmp_path / "good.pt"
    good.write_bytes(ckpt_bytes)
    payload = torch.load(good, weights_only=True)
    name = sorted(payload["weights"])[0]
    flipped = payload["weights"][name].clone()
    flipped.view(-1).view(torch.int32)[0] ^= 1 << 30  # one exponent bit
    path = _write(tmp_path, dict(payload, weights={**payload["weights"], name: flipped}), fix_checksum=False)
    with pytest.raises(CheckpointError, match="checksum does not match"):
        checkpoint.read(path)
    assert checkpoint.load(good).is_fitted()  # the intact file still loads


@pytest.mark.parametrize("change,message", [
    (lambda c: c.update(history=[{"epoch": 1, "loss": "low", "val_loss": 1.0}]), "loss is 'low'"),
    (lambda c: c.update(history="lots"), "history must be a list"),
    (lambda c: c.update(model_config={"latent_dim": -2, "hidden": [32, 16]}), "latent_dim must be"),
    (lambda c: c.update(train_config=dict(c["train_config"], lr=float("nan"))), "lr must be"),
    (lambda c: c.update(model_config=[1, 2]), "model_config must be a dict"),
    (lambda c: c.update(random_state="seven"), "random_state must be a whole number"),
    (lambda c: c.update(weights={"a": [1, 2]}), "weights must map names to tensors"),
])
def test_loadable_but_malformed_checkpoints_are_refused(tmp_path, ckpt_bytes, change, message, capsys):
    (tmp_path / "g.pt").write_bytes(ckpt_bytes)
    payload = torch.load(tmp_path / "g.pt", weights_only=True)
    change(payload)
    path = _write(tmp_path, payload)
    with pytest.raises(CheckpointError, match=message) as err:
        checkpoint.load(path)
    assert "is malformed" in str(err.value) and str(path) in str(err.value)
    assert main(["info", str(path)]) == 2  # `core info` prints the message instead of crashing
    assert message.split(" ")[0] in capsys.readouterr().err


@pytest.fixture(scope="module")
def unfinished(tmp_path_factory):
    """A resumable run: 2 of 6 epochs done, and the inputs it was trained on."""
    inputs = feature_inputs(n=40)
    path = tmp_path_factory.mktemp("run") / "part.pt"
    import threading

    stop = threading.Event()
    checkpoint.fit(create("basic", epochs=6), inputs, path,
                   callback=lambda info: stop.set() if info["epoch"] >= 2 else None, stop=stop)
    return path, inputs


def _state_edits():
    def opt_shape(s):
        st = s["optimizer"]["state"]
        k = sorted(st)[0]
        st[k] = dict(st[k], exp_avg=torch.zeros(3, 3))

    return [
        ("optimizer-shape", opt_shape, "cannot be resumed"),
        ("last-weights", lambda s: s["last_weights"].pop(sorted(s["last_weights"])[0]), "last_weights"),
        ("history-length", lambda s: s["history"].pop(), "one record per epoch"),
        ("counters", lambda s: s.update(best_epoch=99), "counters do not add up"),
        ("epochs", lambda s: s.update(epochs=-3), "epochs must be"),
        ("best-val", lambda s: s.update(best_val="x"), "best_val"),
        ("optimizer-type", lambda s: s.update(optimizer=[1, 2]), "not an optimizer state"),
        ("version", lambda s: s.update(version=99), "train_state version"),
    ]


@pytest.mark.parametrize("name,edit,message", _state_edits(), ids=[e[0] for e in _state_edits()])
def test_crafted_resume_states_are_refused_before_training(tmp_path, unfinished, name, edit, message):
    path, inputs = unfinished
    payload = torch.load(path, weights_only=True)
    edit(payload["train_state"])
    crafted = _write(tmp_path, payload)
    epochs_run = []
    with pytest.raises(CheckpointError, match=message) as err:
        checkpoint.resume(crafted, inputs, callback=lambda info: epochs_run.append(info["epoch"]))
    assert str(crafted) in str(err.value)
    assert epochs_run == []  # refused before any epoch ran
    assert len(torch.load(path, weights_only=True)["history"]) == 2  # the real run is untouched


def test_stale_temporary_files_are_removed_on_save(tmp_path, ckpt_bytes):
    out = tmp_path / "run.pt"
    stale = tmp_path / ".run.pt.abc123.tmp"
    fresh = tmp_path / ".run.pt.def456.tmp"
    for p in (stale, fresh):
        p.write_bytes(b"partial")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    checkpoint.fit(create("basic", epochs=1), feature_inputs(n=20), out)
    assert not stale.exists() and fresh.exists()  # a save in progress elsewhere keeps its file
    assert checkpoint.load(out).is_fitted()


# ---------------------------------------------------------------------------------------- caches
def test_flipped_exponent_bit_in_a_cache_entry_is_recomputed(tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    clip = wav(tmp_path / "a.wav")
    value = np.full(57, 4325.0)
    cache.put(clip, "gtzan57", None, value)
    entry = cache.feature_path(clip, "gtzan57")
    data = bytearray(entry.read_bytes())
    pos = len(data) - 8 * 57 + 7  # the last byte (sign + exponent) of the first float64
    data[pos] ^= 0x04
    entry.write_bytes(bytes(data))
    assert cache.get(clip, "gtzan57") is None and not entry.exists()  # dropped: the caller recomputes
    cache.put(clip, "gtzan57", None, value)
    np.testing.assert_array_equal(cache.get(clip, "gtzan57"), value)


def test_another_songs_entry_is_not_served(tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    a, b = wav(tmp_path / "a.wav", freq=200), wav(tmp_path / "b.wav", freq=900)
    cache.put(a, "gtzan57", None, np.zeros(57))
    cache.put(b, "gtzan57", None, np.ones(57))
    cache.feature_path(b, "gtzan57").write_bytes(cache.feature_path(a, "gtzan57").read_bytes())
    assert cache.get(b, "gtzan57") is None
    np.testing.assert_array_equal(cache.get(a, "gtzan57"), np.zeros(57))  # a's own entry is kept


def _feature_corpus(n: int = 30) -> Corpus:
    X = feature_inputs(n=n, f=len(FEATURE_NAMES), seed=5).features
    ids = [f"t{i}" for i in range(n)]
    tracks = pd.DataFrame({"track_id": ids, "path": "", "genre": "g", "source": "features"})
    return Corpus(tracks, pd.DataFrame(X, index=ids, columns=list(FEATURE_NAMES)), [], "features")


@pytest.mark.parametrize("damage", ["swapped", "cut", "out-of-range", "bytes"])
def test_damaged_latents_cache_is_recomputed(tmp_path, damage):
    corpus = _feature_corpus()
    model = create("basic", epochs=2)
    from core.inputs import build_inputs

    model.fit(build_inputs(corpus, needs=model.needs)[0])
    ids, Z = encode_corpus(model, corpus)
    cache = FeatureCache()
    key = f"latents/{model.name}-{model.fingerprint()}-{corpus.fingerprint()}"
    hit = cache.get_arrays(key)
    assert hit is not None
    z, rows = hit["z"].copy(), hit["rows"].copy()
    if damage == "swapped":
        rows[[0, 1]] = rows[[1, 0]]
        cache.put_arrays(key, {"z": z, "rows": rows})
    elif damage == "cut":
        cache.put_arrays(key, {"z": z[:-3], "rows": rows})
    elif damage == "out-of-range":
        rows[-1] = 10_000
        cache.put_arrays(key, {"z": z, "rows": rows})
    else:
        file = cache.array_path(key)
        data = bytearray(file.read_bytes())
        data[-5] ^= 0xFF
        file.write_bytes(bytes(data))
    again_ids, again = encode_corpus(model, corpus)
    assert again_ids == ids
    np.testing.assert_allclose(again, Z)


def test_concurrent_encodings_of_the_same_latents_run_once_and_share_progress(monkeypatch):
    """Two threads (two sessions, or a session and the background warm-up) ask for the same latents: the
    inputs are built and encoded once; the second thread waits, passing on the first one's progress, and
    gets the same latents. When the first fails, the second does the work itself."""
    import core.latents as latents
    from core.inputs import build_inputs
    from tests.helpers import race_two_callers

    corpus = _feature_corpus(n=24)
    model = create("basic", epochs=2)
    model.fit(build_inputs(corpus, needs=model.needs)[0])
    key = f"latents/{model.name}-{model.fingerprint()}-{corpus.fingerprint()}"
    failed, succeeded = race_two_callers(
        monkeypatch, latents, "build_inputs", lambda progress: encode_corpus(model, corpus, progress=progress),
        fresh=lambda: FeatureCache().array_path(key).unlink(missing_ok=True))
    assert failed["second"][1].shape == (24, model.latent_dim)
    np.testing.assert_array_equal(succeeded["first"][1], succeeded["second"][1])
    assert succeeded["first"][0] == succeeded["second"][0]


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

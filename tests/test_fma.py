"""The fma: loader on an FMA-shaped folder the test writes itself (MP3s made by soundfile, nothing downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.corpus.fma import load_fma
from core.corpus import detect_kind, load_source
from core.errors import BadInputError
from core.features.extract import extract
from tests.helpers import fma_folder


@pytest.fixture(scope="module")
def fma(tmp_path_factory):
    return fma_folder(tmp_path_factory.mktemp("fma"))


def test_tracks_labels_and_paths(fma):
    corpus = load_fma(fma)
    t = corpus.tracks.set_index("track_id")
    assert list(t.index) == ["000002", "000005", "000010", "001039"]
    assert t.loc["000002", "path"] == str(fma / "fma_small" / "000" / "000002.mp3")
    assert t.loc["001039", "path"] == str(fma / "fma_small" / "001" / "001039.mp3")
    assert t["genre"].to_dict() == {"000002": "Hip-Hop", "000005": "Rock", "000010": "Rock", "001039": "Folk"}
    # language_code where present, normalised like every other source to ISO 639-3 (en -> eng, fr -> fra)
    assert t["language"].to_dict() == {"000002": "eng", "000005": "", "000010": "fra", "001039": "eng"}
    assert t.loc["000010", "title"] == "Song 10" and t["source"].eq("fma").all()
    assert corpus.features57 is None


def test_unusable_files_are_listed_with_a_reason(fma):
    reasons = {s.path: s.reason for s in load_fma(fma).skipped}
    audio = fma / "fma_small"
    assert reasons[str(audio / "000" / "000140.mp3")].startswith("unreadable or corrupt audio file")
    assert reasons[str(audio / "000" / "000141.mp3")].startswith("too short: 0.3")
    assert reasons[str(audio / "000" / "000148.mp3")] == "empty file (0 bytes)"
    assert reasons[str(audio / "000" / "000182.mp3")].startswith("audio file not found")
    # the medium-subset track is not part of fma_small, so it is neither a track nor a skip
    assert len(reasons) == 4 and not any("002000" in p for p in reasons)


def test_dispatch_from_a_spec_and_detection(fma):
    assert detect_kind(fma) == "fma"
    by_root = load_source(f"fma:{fma}")
    by_audio_folder = load_source(f"fma:{fma / 'fma_small'}@bng")
    assert by_root.track_ids == by_audio_folder.track_ids
    assert set(by_audio_folder.tracks["language"]) == {"bng"}


def test_subsets_nest_and_full_expects_every_track(tmp_path):
    root = fma_folder(tmp_path, {7: ("small", "Rock", "[12]", "en", 2.0), 8: ("medium", "Folk", "[17]", "en", None)})
    small = load_fma(root)
    assert small.track_ids == ["000007"] and small.skipped == []
    (root / "fma_small").rename(root / "fma_full")
    full = load_fma(root)
    assert full.track_ids == ["000007"]
    assert [(Path(s.path).name, s.reason) for s in full.skipped] == [
        ("000008.mp3", "audio file not found (listed in fma_metadata/tracks.csv)")]


def test_bad_folders_and_metadata_name_the_file(tmp_path):
    with pytest.raises(BadInputError, match="not an FMA folder"):
        load_fma(tmp_path)
    root = fma_folder(tmp_path / "a", {2: ("small", "Rock", "[12]", "en", 2.0)})
    (root / "fma_metadata" / "tracks.csv").write_text("track_id,genre\n2,Rock\n")
    with pytest.raises(BadInputError, match="tracks.csv") as err:
        load_fma(root)
    assert "two-row header" in str(err.value)
    root = fma_folder(tmp_path / "b", {2: ("small", "Rock", "[12]", "en", None)})
    with pytest.raises(BadInputError, match="no usable FMA tracks"):
        load_fma(root)


def test_silent_clip_is_skipped_by_extraction(fma):
    fs = extract(load_fma(fma), kind="gtzan57", n_jobs=1, cache=False)
    assert fs.track_ids == ["000002", "000005", "000010"]
    assert fs.X.shape == (3, 57) and np.isfinite(fs.X).all()
    assert [s.reason for s in fs.skipped] == ["silent: peak level below -100 dBFS"]

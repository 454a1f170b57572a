"""Uploaded embeddings (core.embeddings.save_upload and the readers' memory bounds): an upload is checked in
memory before anything is written, never replaces a file another session added, and a file that would
decompress to more than MAX_BYTES is refused from its headers, before any allocation."""

from __future__ import annotations

import io
import resource
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import config, embeddings
from core.errors import BadInputError

ROOT = Path(__file__).resolve().parent.parent
TRACKS = [f"t{i:02d}" for i in range(12)]


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "DATA_DIR", tmp_path)
    return embeddings.folder()


def _csv(values: np.ndarray, ids=TRACKS) -> bytes:
    frame = pd.DataFrame(values, columns=[f"d{j}" for j in range(values.shape[1])])
    frame.insert(0, "track_id", ids)
    return frame.to_csv(index=False).encode()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.is_dir() else {}


def test_a_bad_reupload_under_a_taken_name_leaves_the_good_file(data_dir):
    good = _csv(np.arange(24, dtype=float).reshape(12, 2))
    path, note = embeddings.save_upload("vectors.csv", good, track_ids=TRACKS)
    assert path == data_dir / "vectors.csv" and note == ""
    with pytest.raises(BadInputError, match=r"^vectors\.csv: 1 vectors hold NaN"):
        embeddings.save_upload("vectors.csv", _csv(np.r_[np.full((1, 2), np.nan), np.ones((11, 2))]),
                               track_ids=TRACKS)
    assert _listing(data_dir) == {"vectors.csv": good}


def test_a_good_reupload_of_other_vectors_is_kept_beside_and_says_so(data_dir):
    first = _csv(np.zeros((12, 2)) + np.arange(12)[:, None])
    embeddings.save_upload("v.csv", first, track_ids=TRACKS)
    other = _csv(np.ones((12, 3)) * np.arange(12)[:, None])
    path, note = embeddings.save_upload("v.csv", other, track_ids=TRACKS)
    assert path.name == "v-2.csv" and note == "v.csv already holds other vectors, so these are kept as v-2.csv"
    assert _listing(data_dir) == {"v.csv": first, "v-2.csv": other}
    # the same file again is kept once, under the name it already has
    assert embeddings.save_upload("v.csv", other, track_ids=TRACKS)[0].name == "v-2.csv"
    assert len(_listing(data_dir)) == 2


@pytest.mark.parametrize("ids_file, said", [
    (b'track_id,x\n"t00,1\n', r"the ids file of v\.npy: cannot be read as a CSV of track ids"),
    (b"a,b\n,1\n,2\n", r"the ids file of v\.npy: column 'a' is empty in 2 rows"),
    (b"\xff\xfe,\x00\n" * 12, r"v\.npy: 11 track ids for 12 vectors: every row needs one id"),
])
def test_a_malformed_ids_file_is_a_message_and_leaves_nothing(data_dir, ids_file, said):
    with pytest.raises(BadInputError, match=said):
        embeddings.save_upload("v.npy", _npy(np.ones((12, 2))), ids=ids_file, track_ids=TRACKS)
    assert _listing(data_dir) == {}


def test_an_npy_with_its_ids_is_kept_with_them(data_dir):
    vectors = np.arange(36, dtype=np.float32).reshape(12, 3)
    path, _ = embeddings.save_upload("v.npy", _npy(vectors), ids=("track_id\n" + "\n".join(TRACKS)).encode(),
                                     track_ids=TRACKS)
    back = embeddings.load_embeddings(path)
    assert back.ids == TRACKS and np.array_equal(back.vectors, vectors)
    assert (data_dir / "v.ids.txt").read_text().split() == TRACKS


def test_ids_that_match_no_track_are_not_kept(data_dir):
    with pytest.raises(BadInputError, match=r"^v\.csv: only 0 of its 12 ids are tracks of the corpus"):
        embeddings.save_upload("v.csv", _csv(np.ones((12, 2)), ids=[f"x{i}" for i in range(12)]), track_ids=TRACKS)
    assert embeddings.list_files() == []


def test_a_very_long_name_is_cut_keeping_its_extension(data_dir):
    path, _ = embeddings.save_upload("a" * 251 + ".csv", _csv(np.ones((12, 2)) * np.arange(12)[:, None]),
                                     track_ids=TRACKS)
    assert path.name == "a" * (embeddings.MAX_NAME - 4) + ".csv" and path.is_file()


def test_complex_vectors_are_refused(data_dir, tmp_path):
    complex_npy = tmp_path / "c.npy"
    complex_npy.write_bytes(_npy(np.ones((12, 2), dtype=np.complex128) * 1j))
    (tmp_path / "c.ids.txt").write_text("\n".join(TRACKS))
    with pytest.raises(BadInputError, match=r"c\.npy: the vectors are complex numbers \(complex128\)"):
        embeddings.load_embeddings(complex_npy)
    with pytest.raises(BadInputError, match="complex numbers"):
        embeddings.save_upload("c.npz", _npz(ids=np.array(TRACKS), vectors=np.ones((12, 2), np.complex64)))
    assert _listing(data_dir) == {}


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _bomb_npz(rows: int, cols: int) -> bytes:
    """An NPZ of zeros whose arrays declare rows x cols float64, written entry by entry (never in memory)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ids.npy", _npy(np.array([f"t{i}" for i in range(8)])))
        with archive.open("vectors.npy", "w", force_zip64=True) as member:
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                          "shape": (rows, cols)})
            member.write(header.getvalue())
            block = bytes(1 << 20)
            left = rows * cols * 8
            while left:
                member.write(block[:min(left, len(block))])
                left -= min(left, len(block))
    return buffer.getvalue()


def test_a_decompression_bomb_is_refused_from_its_headers_without_growing_memory(data_dir, tmp_path):
    bomb = _bomb_npz(2**28 // 8, 8)  # 2 GiB of zeros in a few MB
    assert len(bomb) < 8 * 2**20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(BadInputError, match=r"^bomb\.npz: holds 2,048 MiB once decompressed; at most 512 MiB"):
        embeddings.save_upload("bomb.npz", bomb, track_ids=TRACKS)
    (tmp_path / "bomb.npz").write_bytes(bomb)
    with pytest.raises(BadInputError, match="holds 2,048 MiB once decompressed"):
        embeddings.load_embeddings(tmp_path / "bomb.npz")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 256, f"peak memory grew by {grown_mib:.0f} MiB reading a refused file"
    assert _listing(data_dir) == {}


def test_an_array_header_promising_more_than_the_limit_is_refused_before_loading(data_dir):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 64)})
    npy = header.getvalue()  # the magic and the header, and none of the data it promises
    with pytest.raises(BadInputError, match=r"shape \(1000000000, 64\) \(float32\) is 244,141 MiB"):
        embeddings.save_upload("big.npy", npy, ids="\n".join(TRACKS).encode())
    # an NPZ entry whose zip directory says little but whose array header promises much
    small = io.BytesIO()
    with zipfile.ZipFile(small, "w") as archive:
        archive.writestr("ids.npy", _npy(np.array(TRACKS)))
        archive.writestr("vectors.npy", npy)
    with pytest.raises(BadInputError, match=r"array 'vectors': an array of shape \(1000000000, 64\)"):
        embeddings.save_upload("big.npz", small.getvalue())
    assert _listing(data_dir) == {}


def test_the_dashboard_upload_limit_is_set_to_the_readers_bound():
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["server"]["maxUploadSize"] * 2**20 == embeddings.MAX_BYTES

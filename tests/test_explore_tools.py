"""The logic behind the Explore page's tools: search, nearest neighbours, embeddings files, export."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core import embeddings, explore
from core.clustering import NeighbourIndex
from core.errors import BadInputError


def _tracks():
    return pd.DataFrame({"track_id": ["eng:rock-01", "eng:pop-02", "bng:baul-03", "bng:pop-04"],
                         "genre": ["rock", "pop", "baul", "pop"], "language": ["eng", "eng", "bng", "bng"],
                         "path": ["/x/pop.wav"] * 4, "lyrics": ["rock me"] * 4, "mood": ["Q1", "Q2", "Q1", "Q3"]})


# ------------------------------------------------------------------------------------------ search
def test_search_matches_ids_labels_and_any_metadata_case_insensitively():
    t = _tracks()
    assert explore.search(t, "POP").tolist() == [False, True, False, True]
    assert explore.search(t, "pop bng").tolist() == [False, False, False, True]       # every word must match
    assert explore.search(t, "eng:rock-01").tolist() == [True, False, False, False]  # an id with a colon
    assert explore.search(t, "q1").tolist() == [True, False, True, False]            # any metadata column
    assert explore.search(t, "genre:pop language:eng").tolist() == [False, True, False, False]
    assert not explore.search(t, "").any() and not explore.search(t, "   ").any()
    # path and lyrics are not searched ("rock me" is in every lyric, "pop" in every path)
    assert explore.search(t, "me").tolist() == [False] * 4
    assert explore.search(t, "wav").tolist() == [False] * 4
    # a regex character is a plain character
    assert not explore.search(t, "r.ck").any()


# ------------------------------------------------------------------------------- nearest neighbours
def test_nearest_tracks_lists_the_k_nearest_with_distances_itself_left_out():
    Z = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [10.0, 10.0], [0.5, 0.0]])
    ids = ["a", "b", "c", "d", "e"]
    table = explore.nearest_tracks(NeighbourIndex(Z), ids, "a", k=3)
    assert table["track_id"].tolist() == ["e", "b", "c"]
    assert np.allclose(table["distance"], [0.5, 1.0, 3.0])
    assert table["rank"].tolist() == [1, 2, 3]
    # k larger than the corpus: every other track, never the track itself
    assert explore.nearest_tracks(NeighbourIndex(Z), ids, "d", k=50)["track_id"].tolist() == ["c", "b", "e", "a"]
    with pytest.raises(BadInputError, match="'zz'"):
        explore.nearest_tracks(NeighbourIndex(Z), ids, "zz")


def test_nearest_agrees_with_brute_force_on_random_latents():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(300, 8))
    index = NeighbourIndex(Z)
    rows, dist = index.nearest(17, k=6)
    brute = np.linalg.norm(Z - Z[17], axis=1)
    brute[17] = np.inf
    assert rows.tolist() == np.argsort(brute)[:6].tolist()
    assert np.allclose(dist, np.sort(brute)[:6])


# ------------------------------------------------------------------------------- embeddings files
def test_csv_parquet_npz_and_npy_with_ids_load_the_same_vectors(tmp_path):
    ids = [f"t{i}" for i in range(6)]
    V = np.arange(18, dtype=float).reshape(6, 3) / 7
    frame = pd.DataFrame(V, columns=["d0", "d1", "d2"]).assign(track_id=ids)
    frame.to_csv(tmp_path / "e.csv", index=False)
    frame.to_parquet(tmp_path / "e.parquet", index=False)
    pd.DataFrame({"id": ids, "embedding": list(V)}).to_parquet(tmp_path / "lists.parquet", index=False)
    pd.DataFrame({"id": ids, "embedding": [json.dumps(list(v)) for v in V]}).to_csv(tmp_path / "lists.csv", index=False)
    np.savez(tmp_path / "e.npz", ids=np.array(ids), vectors=V)
    np.save(tmp_path / "e.npy", V)
    (tmp_path / "e.ids.txt").write_text("\n".join(ids) + "\n")
    for name in ("e.csv", "e.parquet", "lists.parquet", "lists.csv", "e.npz", "e.npy"):
        emb = embeddings.load_embeddings(tmp_path / name)
        assert emb.ids == ids, name
        assert emb.vectors.shape == (6, 3) and np.allclose(emb.vectors, V, atol=1e-6), name
    np.save(tmp_path / "other.npy", V)
    (tmp_path / "names.csv").write_text("track_id\n" + "\n".join(ids) + "\n")
    assert embeddings.load_embeddings(tmp_path / "other.npy", ids_path=tmp_path / "names.csv").ids == ids


@pytest.mark.parametrize("content, problem", [
    ("track_id,a,b\nt1,1,2\nt1,3,4\n", "duplicate track ids, e.g. 't1'"),
    ("track_id,a,b\nt1,1,\nt2,3,4\n", "NaN or infinite values, e.g. tracks 't1'"),
    ("track_id,a,b\nt1,1,x\nt2,3,4\n", "column(s) 'b' are not numbers"),
    ("a,b\n1,2\n3,4\n", "no track id column"),
    ("track_id\nt1\nt2\n", "no vector columns"),
    ('track_id,embedding\nt1,"[1, 2]"\nt2,"[1, 2, 3]"\n', "different lengths [2, 3]"),
    ("track_id,a\n", "has no rows"),
])
def test_bad_csv_files_are_refused_naming_the_file_and_the_problem(tmp_path, content, problem):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(BadInputError) as err:
        embeddings.load_embeddings(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_bad_npy_and_other_files_are_refused_with_reasons(tmp_path):
    np.save(tmp_path / "v.npy", np.zeros((4, 2)))
    with pytest.raises(BadInputError, match=r"v.npy: an NPY file holds no track ids"):
        embeddings.load_embeddings(tmp_path / "v.npy")
    (tmp_path / "v.ids.txt").write_text("a\nb\nc\n")
    with pytest.raises(BadInputError, match="3 track ids for 4 vectors"):
        embeddings.load_embeddings(tmp_path / "v.npy")
    np.save(tmp_path / "flat.npy", np.zeros(4))
    (tmp_path / "flat.ids.txt").write_text("a\nb\nc\nd\n")
    with pytest.raises(BadInputError, match=r"flat.npy: the vectors must be a 2-D array"):
        embeddings.load_embeddings(tmp_path / "flat.npy")
    (tmp_path / "v.ids.txt").write_text("a\nb\nc\nd\n")
    with pytest.raises(BadInputError, match="2 dimensions, expected 512"):
        embeddings.load_embeddings(tmp_path / "v.npy", dim=512)
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(BadInputError, match=r"junk.parquet: cannot be read as PARQUET"):
        embeddings.load_embeddings(tmp_path / "junk.parquet")
    with pytest.raises(BadInputError, match="unknown embeddings file type '.h5'"):
        embeddings.load_embeddings(tmp_path / "x.h5")
    with pytest.raises(BadInputError, match="no such file"):
        embeddings.load_embeddings(tmp_path / "gone.csv")
    np.savez(tmp_path / "w.npz", something=np.zeros((2, 2)))
    with pytest.raises(BadInputError, match=r"needs arrays 'ids' and 'vectors'; it has \['something'\]"):
        embeddings.load_embeddings(tmp_path / "w.npz")


def test_align_orders_rows_like_the_corpus_and_counts_what_does_not_match(tmp_path):
    emb = embeddings.Embeddings([f"t{i}" for i in range(8)] + ["stranger"],
                                np.arange(9, dtype=np.float32)[:, None] * [1, 1], "x.csv")
    corpus_ids = ["t7", "t0", "t3", "t5", "t1", "t2", "missing-1"]
    out = embeddings.align(emb, corpus_ids)
    assert out.ids == ["t7", "t0", "t3", "t5", "t1", "t2"]
    assert out.vectors[:, 0].tolist() == [7, 0, 3, 5, 1, 2]
    assert out.unknown == ["t4", "t6", "stranger"]
    assert out.missing == ["missing-1"]
    assert "1 corpus tracks have no vector" in out.note() and "3 ids of the file" in out.note()
    with pytest.raises(BadInputError, match=r"x.csv: only 2 of its 9 ids are tracks of the corpus"):
        embeddings.align(emb, ["t0", "t1", "a", "b"])


def test_vector_table_round_trips_through_csv_and_parquet_atomically(tmp_path):
    ids = ["a", "b", "c"]
    Z = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], dtype=np.float32)
    points = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    labels = pd.DataFrame({"genre": ["rock", "pop", "pop"], "language": ["eng", "bng", "eng"]})
    table = embeddings.vector_table(ids, vectors=Z, points=points, clusters=np.array([0, -1, 1]), labels=labels)
    assert table.columns.tolist() == ["track_id", "genre", "language", "cluster", "x", "y", "z0", "z1"]
    for name in ("out.csv", "out.parquet"):
        path = embeddings.write_table(table, tmp_path / "sub" / name)
        back = pd.read_parquet(path) if name.endswith("parquet") else pd.read_csv(path)
        assert back["track_id"].tolist() == ids and back["cluster"].tolist() == [0, -1, 1]
        assert np.allclose(back[["z0", "z1"]].to_numpy(), Z)
    assert not list((tmp_path / "sub").glob(".*.tmp"))
    # an exported table loads back as embeddings (the z columns; labels are text, so name the vectors)
    back = embeddings.load_embeddings(embeddings.write_table(table[["track_id", "z0", "z1"]], tmp_path / "z.parquet"))
    assert back.ids == ids and np.allclose(back.vectors, Z)
    with pytest.raises(ValueError, match="points has 2 rows for 3 track ids"):
        embeddings.vector_table(ids, points=points[:2])


def test_the_listened_track_stands_out_from_every_colour_of_the_map():
    """The focus star's fill is far (in RGB) from each colour the map may give a genre or cluster."""
    from ui.explore_view import HIGHLIGHTS
    from ui.figures import PALETTE

    def rgb(hex_colour: str) -> np.ndarray:
        return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)

    star = rgb(HIGHLIGHTS["focus"][0]["color"])
    nearest = min(np.linalg.norm(star - rgb(c)) for c in PALETTE)
    assert nearest > 120, nearest

"""What the Explore page's WebGL map sends (ui.point_map, ui.explore_map), in Streamlit's AppTest: every array
once per session as a hashed binary part, then names only; a colour change or a new clustering sends no
coordinates; the parts decode to the numbers the page holds. Drawing and picking need a browser
(tests/test_browser_map.py)."""

from __future__ import annotations

import base64
import gzip
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import tiny_demo, tiny_demo_app
from ui import explore_map
from ui import point_map as pm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("explore_map")
    with tiny_demo_app(root) as mp:
        mp.setenv("SONGSCAPE_NO_WARMUP", "1")
        mp.setattr(explore_map, "MAP_ABOVE", 0)  # the map at any size
        yield root


def _sent(at) -> dict:
    """The map's data of the last run (the component's JSON)."""
    maps = at.get("bidi_component")
    assert len(maps) == 1, [m.proto.component_name for m in maps]
    return json.loads(maps[0].proto.json)


def _decode(spec: dict):
    raw = base64.b64decode(spec["b64"])
    if spec["gzip"]:
        raw = gzip.decompress(raw)
    if spec["dtype"] == "text":
        return raw.decode("utf-8").split("\n")
    return np.frombuffer(raw, dtype={"f32": "<f4", "u8": "u1", "u16": "<u2", "u32": "<u4"}[spec["dtype"]])


def test_the_map_sends_each_array_once_and_then_only_its_name(app_env):
    at = AppTest.from_file("../app.py", default_timeout=240)
    at.query_params["model"] = "basic"  # the Basic VAE encodes 30 tracks in a moment
    at.query_params["proj"] = "pca"
    at.query_params["colour"] = "genre"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.get("plotly_chart")  # the map replaces the Plotly scatter
    first = _sent(at)
    ids = at.session_state["explore_table_ids"]
    assert first["n"] == 30 and first["colour"] == "genre"
    blobs = first["blobs"]
    assert {first["xy"], first["ids"]} <= set(blobs)
    xy = _decode(blobs[first["xy"]]).reshape(-1, 2)
    assert xy.shape == (30, 2) and np.isfinite(xy).all()
    assert _decode(blobs[first["ids"]])[:len(ids)] == ids  # the table's first page lists the first rows
    genre = next(c for c in first["columns"] if c["name"] == "genre")
    codes = _decode(blobs[genre["part"]])
    assert len(codes) == 30 and set(codes) <= set(range(len(genre["names"])))
    # a rerun names the parts and sends none again
    at.run()
    again = _sent(at)
    assert again["blobs"] == {} and again["xy"] == first["xy"]
    # a colour change: no part at all (every column went with the first run)
    at.selectbox(key="explore_colour").set_value("language").run()
    coloured = _sent(at)
    assert coloured["colour"] == "language" and coloured["blobs"] == {}
    # another clustering: its codes only, never the coordinates
    at.session_state["clustering"] = {"name": "kmeans", "params": {"n_clusters": 3}, "context": None}
    at.run()
    clustered = _sent(at)
    cluster = next(c for c in clustered["columns"] if c["name"] == "cluster")
    assert list(clustered["blobs"]) == [cluster["part"]] and len(cluster["names"]) == 3


def test_parts_are_compact_binary_named_by_their_content():
    xy = np.arange(10, dtype=np.float32).reshape(5, 2)
    part = pm.array_part(xy, "f32")
    assert len(part.data) == 40 and part.length == 10 and len(part.hash) == 32
    assert pm.array_part(xy.copy(), "f32").hash == part.hash  # the same numbers, the same name
    assert pm.array_part(xy + 1, "f32").hash != part.hash
    assert pm.array_part(xy, "u8").hash != part.hash  # another type is another part
    assert np.frombuffer(pm.rows_part([3, 1, 2]).data, dtype="<u4").tolist() == [3, 1, 2]
    text = pm.text_part(["a", "b\nc"])
    assert gzip.decompress(text.data).decode() == "a\nb c" and text.length == 2


def test_columns_are_categories_or_a_ramp():
    cat = pm.column_of("genre", ["pop", "rock", "pop", ""])
    assert cat.kind == "cat" and cat.names == ("", "pop", "rock")
    assert list(np.frombuffer(cat.part.data, dtype="u1")) == [1, 2, 1, 0]
    num = pm.column_of("tempo", np.linspace(60, 180, 100))
    assert num.kind == "num" and (num.low, num.high) == (60.0, 180.0)
    noise = pm.category_column("cluster", np.array([0, 1, 0]), ["noise", "c0"])
    assert noise.colours[0] == pm.NOISE_COLOUR and noise.colours[1] == pm.PALETTE[0]
    assert explore_map.placed_note(10_000, "tsne") == "" and explore_map.placed_note(10**6, "pca") == ""
    assert "20,000 of the 1,000,000" in explore_map.placed_note(10**6, "tsne")


@pytest.mark.parametrize("labels", [
    np.random.default_rng(0).integers(-1, 300, 5_000),   # DBSCAN: noise and hundreds of clusters
    np.array([3, 3, 7, 7, 0]),                           # gaps: 1, 2 and 4..6 absent
    np.array([2, 0, 1]),                                 # no noise
    np.array([-1, -1]),                                  # every point noise
    np.array([10**9, 5, -1]),                            # too large to count: sorted instead
])
def test_the_cluster_column_codes_each_clustering_as_numpy_unique_does(labels):
    """The codes an eps move sends are counted, not sorted; they must be the sorted distinct labels' codes."""
    column, categories = explore_map.cluster_column(labels)
    values, codes = np.unique(labels, return_inverse=True)
    sent = np.frombuffer(column.part.data, dtype={"u8": "u1", "u16": "<u2", "u32": "<u4"}[column.part.dtype])
    assert sent.tolist() == codes.ravel().tolist()
    assert list(column.names) == [("noise" if v == -1 else f"c{v}") for v in values]
    assert list(categories.astype(str)) == [column.names[c] for c in codes.ravel()]




def test_search_on_the_map_follows_the_clustering(app_env):
    """The map keeps its search index per map and clustering: after a new clustering, cluster:c0 names its tracks."""
    at = AppTest.from_file("../app.py", default_timeout=240)
    at.query_params["model"] = "basic"
    at.query_params["proj"] = "pca"
    at.run()
    found = {}
    for k in (3, 2):
        at.session_state["clustering"] = {"name": "kmeans", "params": {"n_clusters": k}, "context": None}
        at.text_input(key="explore_search").set_value("cluster:c0").run()
        assert not at.exception, [e.value for e in at.exception]
        found[k] = list(at.session_state["explore_table_ids"])
    assert found[3] and found[2] and found[3] != found[2]


def test_a_number_per_track_colours_the_map_on_a_ramp(app_env, monkeypatch):
    """A column of numbers (a year) is offered in Colour by and in a link, and colours both maps on a ramp:
    the WebGL map gets a numeric column with its range, the Plotly map of a small corpus a colour scale."""
    import pandas as pd


    folder = tiny_demo(app_env / "years", n_tracks=30)
    manifest = pd.read_csv(folder / "manifest.csv")
    years = 1960 + np.arange(len(manifest)) * 2
    manifest.assign(year=years).to_csv(folder / "manifest_years.csv", index=False)
    monkeypatch.setenv("SONGSCAPE_CORPUS", f"manifest:{folder / 'manifest_years.csv'}")
    at = AppTest.from_file("../app.py", default_timeout=240)
    at.query_params.update({"model": "basic", "proj": "pca", "colour": "year"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "year" in at.selectbox(key="explore_colour").options and at.selectbox(key="explore_colour").value == "year"
    sent = _sent(at)
    year = next(c for c in sent["columns"] if c["name"] == "year")
    assert sent["colour"] == "year" and year["kind"] == "num"
    assert (year["min"], year["max"]) == (1960.0, float(years.max()))
    # the same corpus under the Plotly map (the WebGL one only above 1,000 points here)
    monkeypatch.setattr(explore_map, "MAP_ABOVE", 1000)
    at.run()
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "coloraxis" in figure["layout"] and figure["layout"]["coloraxis"]["colorbar"]["title"]["text"] == "year"

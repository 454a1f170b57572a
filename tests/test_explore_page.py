"""The Explore page in Streamlit's AppTest: the view from the URL, search, the paged table, nearest
neighbours, your own embeddings side by side, and export. Chart selections need a browser
(tests/test_browser_explore.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import embeddings
from tests.helpers import plotly_values, tiny_demo_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("explore")
    with tiny_demo_app(root):
        yield root


def _app(**query) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=240)
    for key, value in query.items():
        at.query_params[key.replace("__", ".")] = value
    return at.run()


def _ok(at):
    assert not at.exception, [e.value for e in at.exception]


def _traces(at, which: int = 0) -> dict[str, dict]:
    spec = json.loads(at.get("plotly_chart")[which].proto.spec)
    return {t.get("name"): t for t in spec["data"]}


def _notes(at) -> str:
    return "\n".join(w.value for w in at.warning)


def test_a_link_restores_the_view_and_the_url_follows_the_page(app_env):
    at = _app(model="basic", proj="pca", dim="3", colour="genre", cl="kmeans", cl__n_clusters="3", q="rock")
    _ok(at)
    assert not at.warning, _notes(at)
    assert at.session_state["checkpoint"].endswith("basic.pt")
    assert at.segmented_control(key="explore_method").value == "pca"
    assert at.segmented_control(key="explore_dim").value == 3
    assert at.selectbox(key="explore_colour").value == "genre"
    assert at.text_input(key="explore_search").value == "rock"
    assert any("model **basic**" in c.value and "K-Means, k = 3 → 3 clusters" in c.value for c in at.caption)
    # 3D: the page says plainly that clicking and lasso work in 2D only; highlights still show
    assert any("work in the **2D** view only" in i.value for i in at.info)
    traces = _traces(at)
    assert all(t["type"] == "scatter3d" for t in traces.values())
    # the URL now holds the whole view; a change on the page changes the URL
    assert {k: at.query_params[k] for k in ("model", "proj", "dim", "colour", "cl", "cl.n_clusters", "q")} == {
        "model": "basic", "proj": "pca", "dim": "3", "colour": "genre", "cl": "kmeans", "cl.n_clusters": "3",
        "q": "rock"}
    at.segmented_control(key="explore_method").set_value("tsne").run()
    at.segmented_control(key="explore_dim").set_value(2).run()
    _ok(at)
    assert at.query_params["proj"] == "tsne" and at.query_params["dim"] == "2"
    assert all(t["type"] == "scattergl" for t in _traces(at).values())  # WebGL in 2D


def test_bad_values_in_the_link_fall_back_to_defaults_with_a_note(app_env):
    at = _app(model="no-such-model", proj="xyz", dim="7", colour="mood-of-the-day", cl="bogus", k="999",
              side="model:nope", corpus="folder:/nonexistent/songs", emb="missing.csv", track="not-a-track")
    _ok(at)
    notes = _notes(at)
    for bad in ("no checkpoint `no-such-model`", "`proj=xyz` is not a projection", "`dim=7`",
                "`colour=mood-of-the-day`", "`cl=bogus` is not a clustering", "`k=999`", "`side=model:nope`",
                "corpus `folder:/nonexistent/songs` cannot be opened", "no embeddings file `missing.csv`"):
        assert bad in notes, (bad, notes)
    assert at.segmented_control(key="explore_method").value == "tsne"
    assert at.segmented_control(key="explore_dim").value == 2
    assert at.get("plotly_chart")
    # a parameter out of range, or one the clustering does not have
    at = _app(cl="dbscan", **{"cl.eps": "-3", "cl.min_samples": "5", "cl.n_clusters": "4"})
    _ok(at)
    assert "eps=-3" in _notes(at) and "has no parameter `n_clusters`" in _notes(at)


def test_search_and_filter_highlight_the_matches_and_fill_the_table(app_env):
    at = _app()
    _ok(at)
    assert "match: " not in " ".join(_traces(at))
    at.text_input(key="explore_search").input("rock").run()
    _ok(at)
    table = at.dataframe[0].value
    assert len(table) > 0 and (table["genre"] == "rock").all()
    assert f"match: {len(table)}" in _traces(at)
    assert any(s.value.startswith(f"{len(table)} tracks match") for s in at.subheader)
    # a filter narrows the same rows: language bng + "rock" = nothing in the demo corpus? count exactly
    at.selectbox(key="explore_filter_col").set_value("language").run()
    at.multiselect(key="explore_filter_values").set_value(["eng"]).run()
    _ok(at)
    table2 = at.dataframe[0].value
    assert len(table2) and (table2["language"] == "eng").all() and (table2["genre"] == "rock").all()
    assert f"match: {len(table2)}" in _traces(at)


def test_the_table_pages_through_every_listed_track_and_any_one_can_be_heard(app_env):
    at = _app(q="eng")  # about half the corpus
    _ok(at)
    n = int(next(s.value for s in at.subheader if "tracks match" in s.value).split()[0])
    at.selectbox(key="explore_page_size").set_value(10).run()
    seen = []
    pages = -(-n // 10)
    assert pages >= 2
    for page in range(1, pages + 1):
        at.number_input(key="explore_page_no").set_value(page).run()
        _ok(at)
        rows = at.dataframe[0].value["track_id"].tolist()
        heard = {label.split(" · ")[0] for label in at.selectbox(key="explore_listen").options}
        assert set(rows) <= heard  # any row of the page can be heard
        seen += rows
    assert len(seen) == n and len(set(seen)) == n
    last = seen[-1]
    at.selectbox(key="explore_listen").set_value(last).run()
    _ok(at)
    assert at.query_params["track"] == last
    assert len(at.get("audio")) >= 1 and any(m.value == f"**{last}**" for m in at.markdown)


def test_nearest_neighbours_are_listed_with_distances_and_play(app_env):
    at = _app(track="eng_rock_0002", k="4")
    _ok(at)
    assert at.selectbox(key="explore_listen").value == "eng_rock_0002"
    nn = at.dataframe[1].value
    assert len(nn) == 4 and "eng_rock_0002" not in nn["track_id"].tolist()
    assert nn["distance"].is_monotonic_increasing and (nn["distance"] > 0).all()
    assert "neighbour: 4" in _traces(at) and "focus: 1" in _traces(at)
    before = len(at.get("audio"))
    at.selectbox(key="explore_nn_play").set_value(nn["track_id"].iloc[0]).run()
    _ok(at)
    assert len(at.get("audio")) > before
    assert any(m.value == f"**{nn['track_id'].iloc[0]}**" for m in at.markdown)
    at.slider(key="explore_k").set_value(7).run()
    assert len(at.dataframe[1].value) == 7 and at.query_params["k"] == "7"


def test_own_embeddings_are_explored_scored_and_shown_beside_a_model(app_env):
    # vectors from "another model": the demo's genre as one-hot plus noise, for every track but two
    tracks = pd.read_csv(app_env / "demo" / "manifest.csv")
    ids = [str(t) for t in tracks["track_id"]][2:]
    genres = sorted(tracks["genre"].unique())
    rng = np.random.default_rng(0)
    V = np.array([[float(g == genre) for genre in genres] for g in tracks["genre"][2:]]) + rng.normal(0, .05, (len(ids), len(genres)))
    folder = embeddings.folder()
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(V, columns=[f"e{j}" for j in range(V.shape[1])]).assign(track_id=ids).to_csv(folder / "other.csv",
                                                                                             index=False)
    (folder / "broken.csv").write_text("track_id,a\nx,1\nx,2\n")

    at = _app(emb="other.csv", cl="kmeans", **{"cl.n_clusters": str(len(genres))})
    _ok(at)
    caption = next(c.value for c in at.caption if "tracks ·" in c.value)
    assert caption.startswith(f"{len(ids)} tracks · embeddings **other.csv** · {len(genres)} dimensions")
    nmi = float(caption.split("NMI vs genre ")[1].split()[0])
    assert nmi > 0.9  # the vectors encode the genre: clustering them finds it (through core.scoring)
    assert any("2 corpus tracks have no vector" in c.value for c in at.caption)
    # side by side with a VAE, the same clustering scored on both
    at.toggle(key="explore_side").set_value(True).run()
    at.radio(key="explore_side_kind").set_value("vectors").run()
    at.selectbox(key="explore_side_vectors").set_value("model:conv").run()
    _ok(at)
    assert len(at.get("plotly_chart")) == 2
    assert any(c.value.startswith("model conv: 30 tracks") for c in at.caption)
    assert at.query_params["side"] == "model:conv" and at.query_params["emb"] == "other.csv"
    # a broken file says what is wrong with it, no traceback
    at.selectbox(key="explore_vectors").set_value("file:broken.csv").run()
    _ok(at)
    assert any("broken.csv" in e.value and "duplicate track ids" in e.value for e in at.error)


def test_side_by_side_projections_share_the_highlights(app_env):
    at = _app(q="rock", side="proj:pca")
    _ok(at)
    assert at.toggle(key="explore_side").value is True
    left, right = _traces(at, 0), _traces(at, 1)
    match = next(k for k in left if k.startswith("match: "))
    assert match in right
    assert sorted(np.ravel(left[match]["customdata"]).tolist()) == sorted(np.ravel(right[match]["customdata"]).tolist())


def test_export_saves_vectors_projection_and_clusters_as_csv_and_parquet(app_env):
    at = _app(model="basic", proj="pca")
    _ok(at)
    at.button(key="explore_export_save").click().run()
    _ok(at)
    out = app_env / "exports"
    csv, parquet = pd.read_csv(out / "basic_pca2d.csv"), pd.read_parquet(out / "basic_pca2d.parquet")
    assert len(csv) == len(parquet) == 30
    assert {"track_id", "genre", "language", "cluster", "x", "y", "z0", "z1"} <= set(parquet.columns)
    assert np.allclose(csv[["z0", "z1", "x", "y"]], parquet[["z0", "z1", "x", "y"]], atol=1e-5)


def test_a_search_that_matches_nothing_is_an_empty_state_with_the_map_kept(app_env):
    at = _app(model="basic", proj="pca", q="nomatchzzz")
    _ok(at)
    assert any(s.value == "No track matches `nomatchzzz`" for s in at.subheader)
    assert any(i.value.startswith("No track matches the search or filter") for i in at.info)
    assert len(at.get("plotly_chart")) == 1 and _traces(at)  # the map is still drawn
    assert any(c.value.startswith("30 tracks · model **basic**") for c in at.caption)
    assert at.selectbox(key="explore_listen").value == ""
    at.text_input(key="explore_search").set_value("").run()  # cleared: every track listed again
    _ok(at)
    assert any(s.value == "All 30 tracks" for s in at.subheader)


def test_values_from_the_link_never_render_as_links_or_images(app_env):
    markdown_it = pytest.importorskip("markdown_it")
    phish = "x` [Click to re-login](http://127.0.0.1:8999/phish) `"
    image = "![img](http://127.0.0.1:8999/pixel.png)"
    at = _app(model=phish, emb=image, proj=f"``{image}", side=f"model:{phish}",
              corpus="folder:/nonexistent/[a](http://127.0.0.1:8999/x)")
    _ok(at)
    notes = _notes(at)
    for value in ("there is no checkpoint", "there is no embeddings file", "is not a projection", "side=",
                  "cannot be opened"):
        assert value in notes
    html = markdown_it.MarkdownIt("commonmark").render(notes)
    assert "<a " not in html and "<img" not in html, html
    assert "http://127.0.0.1:8999/phish" in html  # shown, as text


def test_the_colour_chosen_survives_another_page_and_a_corpus_without_languages_colours_by_genre(app_env):
    at = _app()
    _ok(at)
    assert at.selectbox(key="explore_colour").value == "language"  # the demo has two languages
    at.selectbox(key="explore_colour").set_value("genre").run()
    at.switch_page("views/data_page.py").run()
    _ok(at)
    at.switch_page("views/explore_page.py").run()
    _ok(at)
    assert at.selectbox(key="explore_colour").value == "genre"
    # own music without a language: every point would be one colour, so the map opens on the genre
    manifest = pd.read_csv(app_env / "demo" / "manifest.csv", keep_default_na=False)
    path = app_env / "demo" / "no_language.csv"
    manifest.drop(columns=["language"]).to_csv(path, index=False)
    other = _app(corpus=f"manifest:{path}")
    _ok(other)
    assert other.selectbox(key="explore_colour").value == "genre"


def _points(at) -> set[tuple[float, float]]:
    return {(round(x, 4), round(y, 4)) for t in _traces(at).values()
            for x, y in zip(plotly_values(t["x"]), plotly_values(t["y"]))}


def test_the_projection_chosen_on_explore_lays_out_the_clusters_map_and_is_there_on_return(app_env):
    at = _app()
    at.segmented_control(key="explore_method").set_value("pca").run()
    _ok(at)
    on_explore = _points(at)
    at.query_params.clear()  # as a browser does when the user changes page: the view's URL stays behind
    at.switch_page("views/clusters_page.py").run()
    at.run()  # a second run on the page (any widget moved): Streamlit has dropped Explore's widgets by now
    _ok(at)
    assert _points(at) == on_explore  # the same PCA layout, not the t-SNE of a first visit
    at.switch_page("views/explore_page.py").run()
    _ok(at)
    assert at.segmented_control(key="explore_method").value == "pca"
    assert _points(at) == on_explore

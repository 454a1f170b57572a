"""Explore: the latent space (or your own embeddings) projected to 2D/3D.

Search and filter tracks, select them on the map (click, box, lasso: 2D) or in the table, hear
any of them next to the model's reconstruction, list the tracks nearest one in latent space,
put two maps side by side, export the vectors, and share the view as a link (``ui.explore_url``).
"""

import json
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from core import clustering, embeddings, explore
from core.errors import BadInputError, SongscapeError
from ui import explore_map
from ui import explore_sources as sources
from ui import explore_url as url
from ui import explore_view as view
from ui import caches, frames, markdown, real_music, scale, state, tables
from ui.listen import track_panel

SELECTION = url.SELECTION          # track ids selected on a map (click, box, lasso); kept in the link
PICKED = "explore_picked"          # track ids of the rows picked in the table
TABLE_IDS = "explore_table_ids"    # the ids the table showed, to map its row numbers back
ROWSET = "explore_rowset"          # what the table listed last run (a new list starts on page 1)
NEXT_VECTORS = "explore_vectors_next"
ADDED = "explore_upload_added"     # what the last upload added, shown after the rerun that selects it
PAGE_SIZES = [10, 25, 50, 100]


def _on_map_select(key: str) -> None:
    """A user selection on a map (not a remount): it becomes the page's selection."""
    ids = frames.selected_track_ids(st.session_state.get(key))
    st.session_state[SELECTION] = ids
    st.session_state[PICKED] = []
    _focus(ids[0] if ids else None)


def _on_map_rows(mapped: explore_map.MapBase, rows: np.ndarray, how: str) -> None:
    """A click or a lasso on the WebGL map: its rows become the page's selection."""
    ids_ = mapped.frame["track_id"].iloc[rows].tolist()
    st.session_state[SELECTION] = ids_
    st.session_state[PICKED] = []
    _focus(ids_[0] if ids_ else None)


def _on_map_colour(column: str) -> None:
    """A colour chosen in the WebGL map's legend (the map shows it already): the page and the link follow."""
    st.session_state["explore_colour"] = column
    state.keep("explore_colour", column)


def _focus(track_id: str | None) -> None:
    st.session_state[url.FOCUS] = track_id
    st.session_state["explore_listen"] = track_id or ""


def _on_table_select() -> None:
    rows = tables.picked_rows(st.session_state.get("explore_table"))
    shown = st.session_state.get(TABLE_IDS) or []
    st.session_state[PICKED] = [shown[i] for i in rows if 0 <= i < len(shown)]
    if st.session_state[PICKED]:
        _focus(st.session_state[PICKED][0])


def _clear() -> None:
    st.session_state[SELECTION] = []
    st.session_state[PICKED] = []
    st.session_state["explore_search"] = ""
    st.session_state["explore_filter_values"] = []
    _focus(None)


def _scores(report: dict, name: str, params: dict) -> str:
    """The map clustering's scores, named with that clustering: the same metric of another clustering (the
    Compare page's k = the number of classes) is another number. Undefined ones say n/a, with the reason."""
    bits = []
    for key in ("silhouette", "nmi_genre", "nmi_language"):
        if key in report:
            bits.append(f"{tables.nice(key).replace(' ↑', '')} {tables.format_value(report[key])}")
    if not bits:
        return ""
    text = f"scores of {clustering.describe(name, params)}: " + " · ".join(bits)
    if report.get("notes") and any(report.get(k) is None for k in ("silhouette", "nmi_genre", "nmi_language")):
        text += f" (n/a: {report['notes']})"
    return text


st.title("Explore the latent space")
for note in url.notes():
    st.warning(f"From the link: {note}.", icon=":material/link:")
corpus, entry = state.active()
specs = state.current_specs()
real_music.offer(corpus, key="explore")  # a collection of one's own: the real-music model, no training

# --- what to look at -------------------------------------------------------------------------------
files = [p.name for p in embeddings.list_files()]
vector_options = ["model"] + [f"file:{n}" for n in files]
if st.session_state.get(NEXT_VECTORS):
    st.session_state["explore_vectors"] = st.session_state.pop(NEXT_VECTORS)
if st.session_state.get("explore_vectors") not in vector_options:
    st.session_state["explore_vectors"] = "model"
colour_options = explore.colour_choices(corpus)  # labels, and numbers (a year, a length) on a ramp
# The colour box and the projection forget their values on another page; the user's choices are kept aside
# (state.keep) and put back, and a first visit colours by a column that varies on this corpus.
first_colour = explore.varying_colour(corpus.tracks, ["language", "genre"])
st.session_state.setdefault("explore_colour", state.kept("explore_colour", first_colour))
st.session_state.setdefault("explore_method", state.projection())
for key, default in (("explore_dim", 2), ("explore_colour", first_colour),
                     ("explore_search", ""), ("explore_k", 10), ("explore_page_size", 25), ("explore_page_no", 1),
                     ("explore_side", False), ("explore_side_kind", "projection"), ("explore_side_proj", "pca")):
    st.session_state.setdefault(key, default)
if st.session_state["explore_colour"] not in colour_options:
    st.session_state["explore_colour"] = first_colour
st.session_state.setdefault(SELECTION, [])
st.session_state.setdefault(PICKED, [])

c0, c1, c2, c3 = st.columns([2, 2, 1, 2])
vectors_choice = c0.selectbox(
    "Vectors", vector_options, key="explore_vectors",
    # not the checkpoint's name: the browser kept a keyed box's old label for one rerun after the sidebar changed it
    # (seen in Chromium), and the caption under the controls names the model
    format_func=lambda o: "the sidebar's model checkpoint" if o == "model" else f"embeddings: {o[5:]}",
    help="A checkpoint's latents (choose it in the sidebar), or an embeddings file of yours (below).")
method = c1.segmented_control("Projection", list(url.METHODS), key="explore_method",
                              format_func=url.METHODS.get) or state.DEFAULT_PROJECTION
state.keep("explore_method", method)
dim = c2.segmented_control("Dimensions", [2, 3], key="explore_dim") or 2
colour = c3.selectbox("Colour by", colour_options, key="explore_colour")
state.keep("explore_colour", colour)

primary = sources.model_source(entry) if vectors_choice == "model" else sources.find(vectors_choice)
try:
    ids, Z, vectors_note = sources.vectors(primary, specs)
except BadInputError as exc:
    if primary.kind == "model":
        st.error(f"The **{entry.name}** checkpoint cannot encode this corpus: {exc}. Choose another checkpoint in "
                 "the sidebar (the Basic VAE works on the 57 features).")
    else:
        st.error(f"These embeddings cannot be explored: {exc}")
    st.stop()

name, params = state.clustering_choice(corpus)
# 2-D above explore_map.MAP_ABOVE points: the WebGL map of every track; else (and in 3-D) a Plotly figure, which
# above scale.SCATTER_MAX points draws a sample (NaN elsewhere)
map_mode = explore_map.wanted(len(ids), dim)
part = state.part_for(primary.path, primary.stamp) if primary.kind == "model" else None
label_columns = [c for c in corpus.label_columns() if c != "cluster"] + corpus.measure_columns()
try:
    points, rows = explore_map.projected(primary, specs, Z, method, dim, every=map_mode)
    result, report = sources.clustered(primary, specs, name, params)
except (ValueError, SongscapeError) as exc:
    st.error(f"{primary.label}: {exc}")
    st.stop()
mapped, map_clusters = None, None
if map_mode:
    map_key = explore_map.key_of(primary, specs, method, dim, part)
    mapped = explore_map.base(map_key, ids, points, corpus.tracks, label_columns)
    map_clusters, cluster_values = explore_map.cluster_column(result.labels)
    frame = mapped.frame.assign(cluster=cluster_values)
    position = mapped.position
else:
    frame = frames.scatter_frame(ids, points, corpus.tracks, clusters=result.labels)
    position = pd.Index(frame["track_id"].to_numpy(dtype=object))
present = position  # track id -> row of frame (and `in`)

what = (f"model **{primary.name}** · {state.part_summary(primary.path, primary.stamp, Z.shape[1], specs)}"
        if primary.kind == "model" else f"embeddings **{primary.name}** · {Z.shape[1]} dimensions")
st.caption(f"{len(ids)} tracks · {what} · clusters: {clustering.describe(name, params, result)} · {_scores(report, name, params)}"
           " · change the clustering on the **Clusters** page")
if rows is not None:
    st.info(scale.sample_note(len(ids)), icon=":material/scatter_plot:")
elif map_mode and explore_map.placed_note(len(ids), method):
    st.caption(explore_map.placed_note(len(ids), method))
if vectors_note:
    st.caption(f"Not every track matched: {vectors_note}.")

# --- search and filter -------------------------------------------------------------------------------
s1, s2, s3 = st.columns([3, 2, 3])
query = s1.text_input("Search", key="explore_search",
                      placeholder="id, genre, language, cluster or any metadata (genre:pop, cluster:c3)",
                      help="Every word must match somewhere in the track's row; column:word looks in one column.")
filter_options = ["(none)", "cluster"] + [c for c in corpus.label_columns() if c in frame.columns]
if st.session_state.get("explore_filter_col") not in filter_options:
    st.session_state["explore_filter_col"] = "(none)"
filter_col = s2.selectbox("Filter", filter_options, key="explore_filter_col")
values: list[str] = []
if filter_col != "(none)":
    choices = explore_map.column_choices(frame[filter_col])
    st.session_state["explore_filter_values"] = [v for v in st.session_state.get("explore_filter_values", [])
                                                 if v in choices]
    values = s3.multiselect(f"{filter_col} is any of", choices, key="explore_filter_values")
searchable = [c for c in frame.columns if c not in ("x", "y", "z")]
if not query.strip():
    mask = np.ones(len(frame), dtype=bool)
elif map_mode:  # a million rows: the search index is kept per map and clustering, so a keystroke runs the query alone
    search_key = f"{map_key}|{name}|{json.dumps(params, sort_keys=True, default=str)}"
    mask = caches.track_search(search_key, frame, tuple(searchable)).match(query)
else:
    mask = explore.search(frame, query, columns=searchable)
searched = mask.copy() if query.strip() else None  # what the search alone keeps (the WebGL map fades the rest)
if values:
    mask &= explore_map.column_isin(frame[filter_col], values)
filtering = bool(query.strip()) or bool(values)
matched = frame["track_id"][mask].tolist() if filtering else []

# --- the rows the table lists ----------------------------------------------------------------------
selected = [t for t in st.session_state[SELECTION] if t in present]
if selected:
    rows_frame = frame.iloc[position.get_indexer(selected)].reset_index(drop=True)
    heading = f"{len(selected)} selected on the map"
elif filtering:
    rows_frame = frame[mask]
    heading = (f"{len(matched)} tracks match" if matched else "No track matches") + (
        f" {markdown.code(query.strip())}" if query.strip() else "")
else:
    rows_frame = frame
    heading = f"All {len(frame)} tracks"
if filtering and not matched and not selected:
    st.info("No track matches the search or filter: the map shows every track. Change the search, or clear it "
            "with the button above the table.", icon=":material/search_off:")
rowset = (heading, len(rows_frame), tuple(rows_frame["track_id"].head(3)))
if st.session_state.get(ROWSET) != rowset:
    st.session_state[ROWSET] = rowset
    st.session_state["explore_page_no"] = 1
size = int(st.session_state["explore_page_size"])
st.session_state["explore_page_no"] = min(max(1, int(st.session_state["explore_page_no"])),
                                          view.n_pages(len(rows_frame), size))
page_rows, page_no, page_text = view.page_of(rows_frame, page=st.session_state["explore_page_no"], size=size)
page_ids = page_rows["track_id"].tolist()
if st.session_state.get(TABLE_IDS) != page_ids:
    st.session_state[TABLE_IDS] = page_ids
    st.session_state[PICKED] = [t for t in st.session_state[PICKED] if t in page_ids]
picked = [t for t in st.session_state[PICKED] if t in present]

# --- the track to listen to, and its neighbours -----------------------------------------------------------
listen_options = list(dict.fromkeys(picked + page_ids))
wanted = st.session_state.get(url.FOCUS)
if wanted in present and wanted not in listen_options:
    listen_options = [wanted] + listen_options
interested = bool(selected or filtering or picked or wanted in present)
# the empty choice stays when nothing is of interest, and when nothing matches (a search for no track)
listen_options = ([] if interested and listen_options else [""]) + listen_options
if st.session_state.get("explore_listen") not in listen_options:
    st.session_state["explore_listen"] = wanted if wanted in listen_options else listen_options[0]
focus = st.session_state.get("explore_listen") or None
st.session_state[url.FOCUS] = focus
k = int(st.session_state["explore_k"])
index = sources.index(primary, specs)
neighbours = explore.nearest_tracks(index, ids, focus, k=k) if focus in present else None

# --- side by side ---------------------------------------------------------------------------------------
side_frame, side_title, side_key = None, None, None
side_map, side_clusters = None, None  # the second WebGL map, when map_mode
with st.expander("Side by side: another projection or other vectors, with linked selection",
                 expanded=bool(st.session_state["explore_side"])):
    side_on = st.toggle("Show a second map", key="explore_side")
    if side_on:
        b1, b2 = st.columns([1, 2])
        side_kind = b1.radio("Second map", ["projection", "vectors"], key="explore_side_kind", horizontal=True,
                             format_func={"projection": "another projection", "vectors": "other vectors"}.get)
        if side_kind == "projection":
            side_method = b2.segmented_control("Its projection", list(url.METHODS), key="explore_side_proj",
                                               format_func=url.METHODS.get) or "pca"
            side_title = f"{url.METHODS[side_method]} of the same vectors"
            side_key = f"proj:{side_method}"
            if map_mode:
                s_key = explore_map.key_of(primary, specs, side_method, dim, part)
                s_points, _ = explore_map.projected(primary, specs, Z, side_method, dim, every=True)
                side_map = explore_map.base(s_key, ids, s_points, corpus.tracks, label_columns)
                side_frame, side_clusters = side_map.frame, map_clusters
            else:
                side_points = sources.projection(primary, specs, side_method, dim)
                side_frame = frames.scatter_frame(ids, side_points, corpus.tracks, clusters=result.labels)
        else:
            others = [s for s in sources.available() if s.key != primary.key]
            keys = [s.key for s in others]
            if st.session_state.get("explore_side_vectors") not in keys:
                st.session_state["explore_side_vectors"] = keys[0] if keys else None
            choice = b2.selectbox("Its vectors", keys, key="explore_side_vectors",
                                  format_func=lambda kk: next(s.label for s in others if s.key == kk))
            other = sources.find(choice) if choice else None
            if other is not None:
                try:
                    o_ids, o_Z, o_note = sources.vectors(other, specs)
                    o_points = sources.projection(other, specs, method, dim)
                    o_result, o_report = sources.clustered(other, specs, name, params)
                    if map_mode:
                        o_part = state.part_for(other.path, other.stamp) if other.kind == "model" else None
                        o_key = explore_map.key_of(other, specs, method, dim, o_part)
                        side_map = explore_map.base(o_key, o_ids, o_points, corpus.tracks, label_columns)
                        side_frame, side_clusters = side_map.frame, explore_map.cluster_column(o_result.labels)[0]
                    else:
                        side_frame = frames.scatter_frame(o_ids, o_points, corpus.tracks, clusters=o_result.labels)
                    side_title = f"{other.label} ({url.METHODS[method]})"
                    side_key = other.key
                    st.caption(f"{other.label}: {len(o_ids)} tracks · {o_Z.shape[1]} dimensions · "
                               f"{clustering.describe(name, params, o_result)} · {_scores(o_report, name, params)}")
                except (ValueError, SongscapeError) as exc:
                    st.error(f"{other.label} cannot be shown: {exc}")

# --- the map(s) ---------------------------------------------------------------------------------------
highlights = {"selected": selected, "match": matched, "picked": picked,
              "neighbour": [] if neighbours is None else neighbours["track_id"].tolist(),
              "focus": [focus] if focus else []}
if dim == 3:
    st.info("3D view: drag to rotate, scroll to zoom. Clicking and lasso/box selection work in the **2D** view "
            "only; here, pick tracks with the search, the filter or the table below, and they are marked on the "
            "map.", icon=":material/3d_rotation:")


def _draw(frame_, key: str, title: str | None, height: int, mapped_=None, clusters_=None) -> None:
    if mapped_ is not None:  # the WebGL map: every point, kept in the browser; a click or a lasso sends rows back
        explore_map.draw(key, mapped_, clusters=clusters_, colour=colour, height=height, title=title,
                         highlights={k: v for k, v in highlights.items() if k != "match"},
                         filter=(filter_col, values) if values else None,
                         match=searched if searched is None or mapped_ is mapped else explore_map.rows_of(
                             mapped_, frame["track_id"].to_numpy()[searched]),
                         on_select=partial(_on_map_rows, mapped_), on_colour=_on_map_colour)
        return
    fig = view.explore_map(scale.drawn(frame_), color=colour, dim=dim, highlights=highlights, height=height, title=title)
    if dim == 2:
        st.plotly_chart(fig, key=key, on_select=partial(_on_map_select, key),
                        selection_mode=("points", "box", "lasso"))
    else:
        st.plotly_chart(fig, key=key)


if side_frame is not None:
    left, right = st.columns(2)
    with left:
        _draw(frame, "explore_scatter", f"{primary.label} ({url.METHODS[method]})", 520, mapped, map_clusters)
    with right:
        _draw(side_frame, "explore_scatter_b", side_title, 520, side_map, side_clusters)
else:
    _draw(frame, "explore_scatter", None, 560, mapped, map_clusters)

# --- the link -----------------------------------------------------------------------------------------
url.publish(url.view_of(
    specs=specs, model=entry.name, emb=primary.name if primary.kind == "file" else None, method=method, dim=dim,
    colour=colour, cluster=name, params=params, query=query.strip(), focus=focus, k=k,
    side=side_key if side_frame is not None else None, selection=selected,
    part=state.part_for(primary.path, primary.stamp) if primary.kind == "model" else None))
if len(selected) > url.MAX_SELECTION:
    st.caption(f"The link keeps the view but not this selection: {len(selected)} tracks are more than the "
               f"{url.MAX_SELECTION} a link holds.")

# --- the table ----------------------------------------------------------------------------------------------
h1, h2 = st.columns([4, 1])
h1.subheader(heading)
h2.button("Clear selection and search", on_click=_clear, key="explore_clear", width="stretch")
if not selected and not filtering:
    st.caption("Click a point, or draw a lasso or box around several (2D), search, or filter: the table lists "
               "those tracks. Click rows (or tick several) to mark them on the map; choose any track below to hear it next to the "
               "model's reconstruction and list the tracks like it.")
p1, p2, p3 = st.columns([1, 1, 3])
p1.number_input("Page", 1, view.n_pages(len(rows_frame), size), step=1, key="explore_page_no")
p2.selectbox("Rows per page", PAGE_SIZES, key="explore_page_size")
p3.caption(f"{page_text} · page {page_no} of {view.n_pages(len(rows_frame), size)}")
st.dataframe(page_rows.drop(columns=[c for c in ("x", "y", "z") if c in page_rows]), hide_index=True,
             width="stretch", key="explore_table", on_select=_on_table_select,
             selection_mode=["multi-row", "single-cell"])
if picked:
    st.caption(f"{len(picked)} picked in the table, marked ■ on the map: " + ", ".join(picked[:10])
               + (" …" if len(picked) > 10 else ""))

# --- listen ----------------------------------------------------------------------------------------------------
st.subheader("Listen")
meta = frame[[c for c in ("genre", "language", "cluster") if c in frame]]
named = [t for t in dict.fromkeys(listen_options + highlights["neighbour"]) if t in present]
labels_of = {t: " · ".join([t] + [str(v) for v in row if str(v)])
             for t, row in zip(named, meta.iloc[position.get_indexer(named)].itertuples(index=False))}
st.selectbox("Track", listen_options, key="explore_listen",
             format_func=lambda t: labels_of.get(t, t) if t else "— choose a track (or select some above) —",
             help="Any track of the table's current page, and the rows picked in it.")
listener = state.current_checkpoint()
if focus and listener is not None:
    with st.container(border=True):
        track_panel(focus, entry=listener, specs=specs, key="explore-focus")
    st.markdown(f"**Tracks like this one**: the nearest in the latent space of {primary.label}")
    st.slider("How many neighbours", 1, 50, key="explore_k")
    if neighbours is not None and len(neighbours):
        table = pd.concat([neighbours.drop(columns=["row"]).reset_index(drop=True), frame.iloc[neighbours["row"]][
            [c for c in ("genre", "language", "cluster") if c in frame]].reset_index(drop=True)], axis=1)
        st.dataframe(table, hide_index=True, width="stretch", key="explore_nn_table",
                     column_config={"distance": st.column_config.NumberColumn(format="%.4f")})
        nn_ids = table["track_id"].tolist()
        if st.session_state.get("explore_nn_play") not in [""] + nn_ids:
            st.session_state["explore_nn_play"] = ""
        dist = dict(zip(table["track_id"], table["distance"]))
        play = st.selectbox("Play a neighbour", [""] + nn_ids, key="explore_nn_play",
                            format_func=lambda t: (f"#{nn_ids.index(t) + 1} {labels_of.get(t, t)} · distance "
                                                   f"{dist[t]:.4f}") if t else "— choose a neighbour —")
        if play:
            with st.container(border=True):
                track_panel(play, entry=listener, specs=specs, key="explore-neighbour")
elif focus:
    st.caption("No checkpoint to reconstruct with; train one on the Train page.")

# --- export ------------------------------------------------------------------------------------------------
with st.expander("Export the vectors, the projection and the clusters"):
    stem = f"{primary.name.rsplit('.', 1)[0]}_{method}{dim}d"

    def _table():
        return embeddings.vector_table(ids, vectors=Z, points=points, clusters=result.labels,
                                       labels=caches.labels(specs, ids))

    e1, e2, e3 = st.columns(3)
    e1.download_button("Vectors + projection + clusters (CSV)", lambda: embeddings.table_bytes(_table(), "csv"),
                       f"{stem}.csv", "text/csv", key="explore_export_csv", on_click="ignore")
    e2.download_button("Vectors + projection + clusters (Parquet)",
                       lambda: embeddings.table_bytes(_table(), "parquet"), f"{stem}.parquet",
                       "application/vnd.apache.parquet", key="explore_export_parquet", on_click="ignore")
    e3.download_button("Cluster assignments (CSV)", lambda: frames.assignments_csv(frame),
                       f"clusters_{stem}_{name}.csv", "text/csv", key="explore_export_assign", on_click="ignore")
    if st.button("Save both files under data/exports", key="explore_export_save"):
        try:
            out = embeddings.folder().parent / "exports"
            table = _table()
            saved = [embeddings.write_table(table, out / f"{stem}.{ext}") for ext in ("csv", "parquet")]
            st.success("Saved " + " and ".join(f"`{p}`" for p in saved))
        except SongscapeError as exc:
            st.error(str(exc))

# --- bring your own embeddings ------------------------------------------------------------------------------
with st.expander("Bring your own embeddings (CSV, Parquet, NPY + ids, NPZ)"):
    st.caption("Vectors keyed by track id, e.g. from another audio model: a `track_id` column and one column per "
               "dimension (or one `embedding` column of lists); an NPY with its ids file; an NPZ with `ids` and "
               f"`vectors`. They are kept in `{embeddings.folder()}` and explored, clustered and scored like a "
               "model's latents. Choose them under **Vectors**, or as the second map.")
    u1, u2 = st.columns(2)
    upload = u1.file_uploader("Vectors", type=["csv", "parquet", "npy", "npz"], key="explore_upload")
    upload_ids = u2.file_uploader("Track ids of an NPY (one per line)", type=["txt", "csv"], key="explore_upload_ids")
    if upload is not None and st.button("Add these embeddings", key="explore_upload_add", type="primary"):
        try:
            saved, kept_as = embeddings.save_upload(upload.name, upload.getvalue(),
                                                    ids=upload_ids.getvalue() if upload_ids is not None else None,
                                                    track_ids=corpus.track_ids)
        except SongscapeError as exc:
            st.error(f"Not added: {markdown.code(str(exc))}")
        else:
            aligned = embeddings.align(embeddings.load_embeddings(saved), corpus.track_ids)
            st.session_state[NEXT_VECTORS] = f"file:{saved.name}"
            st.session_state[ADDED] = " ".join(filter(None, [
                f"Added {markdown.code(saved.name)}: {len(aligned.ids)} tracks of the corpus, "
                f"{aligned.vectors.shape[1]} dimensions.", markdown.plain(kept_as), markdown.plain(aligned.note(saved.name))]))
            st.rerun()
    if st.session_state.get(ADDED):
        st.success(st.session_state.pop(ADDED))

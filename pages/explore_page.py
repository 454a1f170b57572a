"""Explore: the latent space projected to 2D/3D; click or lasso points to listen."""

import streamlit as st

from ui import figures, frames, scale, state
from ui.listen import track_panel

st.title("Explore the latent space")
corpus, entry = state.active()
specs = state.current_specs()

c1, c2, c3 = st.columns([2, 1, 2])
method = c1.segmented_control("Projection", ["tsne", "umap", "pca"], default="tsne",
                              format_func={"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}.get, key="explore_method")
dim = c2.segmented_control("Dimensions", [2, 3], default=2, key="explore_dim")
colour_options = ["cluster", "language", "genre"] + [c for c in corpus.label_columns() if c not in ("genre", "language")]
colour = c3.selectbox("Colour by", colour_options, index=1, key="explore_colour")
method, dim = method or "tsne", dim or 2

ids, Z = state.encoded(entry, specs)
rows = scale.scatter_rows(len(ids))  # above scale.SCATTER_MAX points: a sample, with a note
projection = state.projection if rows is None else scale.sampled_projection
points = projection(str(entry.path), entry.stamp, specs, method, dim)
name, params = state.clustering_choice(corpus)
result, _ = state.clustered(entry, specs, name, params)
shown = (ids, result.labels) if rows is None else ([ids[i] for i in rows], result.labels[rows])
frame = frames.scatter_frame(shown[0], points, corpus.tracks, clusters=shown[1])

st.caption(f"{len(ids)} tracks · model **{entry.name}** · latent size {Z.shape[1]} · "
           f"clusters: {name} {params} → {result.n_clusters} clusters"
           + (f", {result.noise_fraction:.0%} noise" if result.noise_fraction else "")
           + " · change the clustering on the **Clusters** page")
if rows is not None:
    st.info(scale.sample_note(len(ids)))

event = st.plotly_chart(figures.latent_scatter(frame, color=colour, dim=dim), key="explore_scatter",
                        on_select="rerun", selection_mode=("points", "box", "lasso"))
selected = frames.selected_track_ids(event)

if not selected:
    st.info("Click a point, or draw a lasso or box around several, to list the tracks and hear them "
            "next to the model's reconstruction.")
    st.stop()

st.subheader(f"{len(selected)} selected")
chosen = frame.set_index("track_id").loc[selected].reset_index()
st.dataframe(chosen.drop(columns=[c for c in ("x", "y", "z") if c in chosen]), width="stretch", hide_index=True)
st.download_button("Download selection (CSV)", frames.assignments_csv(chosen), "selection.csv", "text/csv")
shown = selected[:5]
if len(selected) > len(shown):
    st.caption(f"Listening to the first {len(shown)} of {len(selected)}.")
for i, track_id in enumerate(shown):
    with st.container(border=True):
        track_panel(track_id, entry=entry, specs=specs, key=f"explore-{i}")

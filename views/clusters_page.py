"""Clusters: choose the algorithm and its parameters; scatter and metrics follow every slider move."""

import time
from functools import partial

import streamlit as st

from core import clustering, explore, metrics
from ui import caches, explore_map, figures, frames, scale, state, tables
from ui import explore_sources as sources
from ui.listen import track_panel

st.title("Clusters")
corpus, entry = state.active()
specs = state.current_specs()
ids, Z = state.encoded(entry, specs)
part = state.part_for(str(entry.path), entry.stamp)
index = caches.neighbour_index(str(entry.path), entry.stamp, specs, part)
st.caption(f"Clustering model **{entry.name}** · {state.part_summary(str(entry.path), entry.stamp, Z.shape[1], specs)}")

if state.clustering_stale():  # tuned for another checkpoint or corpus: the widgets start again from defaults
    for key in [k for k in st.session_state if k.split("_")[0] in clustering.CLUSTERERS]:
        del st.session_state[key]
current_name, current_params = state.clustering_choice(corpus)
context = state.clustering_context(entry, specs)
names = list(clustering.CLUSTERERS)
name = st.segmented_control("Algorithm", names, default=current_name, key="clusters_algorithm",
                            format_func=lambda n: clustering.CLUSTERERS[n].label) or current_name
spec = clustering.CLUSTERERS[name]
st.caption(spec.description)

# --- parameters: one widget per exposed parameter --------------------------------------------
params = {}
if name == "dbscan":
    samples = spec.params["min_samples"]  # the slider's bounds are the spec's (core.params)
    min_samples = st.slider("min_samples", int(samples.widget_range[0]), int(samples.widget_range[1]),
                            int(samples.clip(current_params.get("min_samples", samples.default), widget=True)),
                            key="dbscan_min_samples", help=samples.help)
    # above FIT_MAX["dbscan"] points DBSCAN is fitted on a seeded sample: its k-distances choose eps
    space = caches.dbscan_index(str(entry.path), entry.stamp, specs, part)
    kdist = clustering.k_distance(space, k=min_samples - 1)
    # The knee alone often starts at one cluster holding every point; the start is the scan's choice.
    choice = caches.eps_choice(str(entry.path), entry.stamp, specs, part, min_samples)
    span = clustering.eps_range(kdist, choice, spec.params["eps"])  # the k-distances', within the spec's bounds
    if st.session_state.get("dbscan_eps", span.low) > span.top:
        del st.session_state["dbscan_eps"]  # a value from larger latents: start again from the suggestion
    eps = st.slider("eps", span.low, span.high, span.start(current_params.get("eps") if current_name == "dbscan" else None),
                    step=span.step, key="dbscan_eps", format="%.3f", help=f"Suggested: {choice.why()}.")
    if not choice.found:
        st.warning(f"DBSCAN finds no density structure in these latents at min_samples {min_samples}: "
                   f"{choice.why()}. Try a smaller min_samples, or K-Means or the Gaussian mixture.",
                   icon=":material/blur_off:")
    params = {"eps": eps, "min_samples": min_samples}
else:
    cols = st.columns(len(spec.params))
    for col, (pname, p) in zip(cols, spec.params.items()):
        if current_name == name:
            value = current_params.get(pname, p.default)
        elif pname in ("n_clusters", "n_components"):
            value = state.default_k(corpus)
        else:
            value = p.default
        key = f"{name}_{pname}"
        if p.kind == "choice":
            params[pname] = col.selectbox(pname, list(p.choices), index=list(p.choices).index(value), key=key, help=p.help)
        else:  # a number: the box's bounds are the spec's widget range (core.params)
            lo, hi = p.widget_range
            if pname in ("n_clusters", "n_components"):
                hi = min(hi, len(ids) - 1)
            cast = int if p.kind == "int" else float
            params[pname] = col.number_input(pname, cast(lo), cast(hi), cast(min(max(value, lo), hi)),
                                             cast(p.step or (1 if p.kind == "int" else 0.01)), key=key, help=p.help)
state.set_clustering(name, params, context=context)

# --- cluster, map, metrics (cached latents; never retrain or reproject here) ------------------------
# The map is sent as soon as the clusters are known; the metrics follow into the box above it.
t0 = time.perf_counter()
truth = caches.source_labels(str(entry.path), entry.stamp, specs, part)  # categorical: counted by their codes
result = state.clustering(entry, specs, name, params)
cluster_ms = (time.perf_counter() - t0) * 1000
which = clustering.describe(name, params)
summary = st.container()


def _on_map_rows(mapped: explore_map.MapBase, rows, how: str) -> None:
    st.session_state["clusters_map_selection"] = mapped.frame["track_id"].iloc[rows].tolist()


left, right = st.columns([3, 2])
with left:
    method = state.projection()  # laid out as on Explore, whichever page the user came from
    event = None
    if explore_map.wanted(len(ids), 2):  # Explore's WebGL map of every track: a new clustering sends its codes only
        source = sources.model_source(entry)
        points, _ = explore_map.projected(source, specs, Z, method, 2, every=True)
        map_key = explore_map.key_of(source, specs, method, 2, part)
        mapped = explore_map.base(map_key, ids, points, corpus.tracks, corpus.label_columns())
        map_clusters, cluster_values = explore_map.cluster_column(result.labels)
        if explore_map.placed_note(len(ids), method):
            st.caption(explore_map.placed_note(len(ids), method))
        explore_map.draw("clusters_scatter", mapped, clusters=map_clusters, colour="cluster", highlights={},
                         height=460, on_select=lambda rows_, how: _on_map_rows(mapped, rows_, how))
        export_frame = partial(mapped.frame.assign, cluster=cluster_values)  # a million rows: made on click
    else:
        rows = scale.scatter_rows(len(ids))  # above scale.SCATTER_MAX points, the Explore page's sample (NaN elsewhere)
        points = (caches.projection(str(entry.path), entry.stamp, specs, method, 2, part) if rows is None
                  else scale.sample_points(Z, rows, method, 2))
        frame = frames.scatter_frame(ids, points, corpus.tracks, clusters=result.labels)
        if rows is not None:
            st.info(scale.sample_note(len(ids)), icon=":material/scatter_plot:")
        event = st.plotly_chart(figures.latent_scatter(scale.drawn(frame), color="cluster", height=460),
                                key="clusters_scatter", on_select="rerun", selection_mode=("points", "box", "lasso"))
        export_frame = frame.copy

t1 = time.perf_counter()
report = state.clustering_report(entry, specs, name, params)
elapsed_ms = cluster_ms + (time.perf_counter() - t1) * 1000
with summary:
    st.markdown(f"Every number below is of **{which}** → {clustering.describe_result(result)}.")
    m = st.columns(5)
    m[0].metric("clusters", result.n_clusters)
    m[1].metric("noise", f"{result.noise_fraction:.1%}")
    for col, key in zip(m[2:], ("silhouette", "nmi_genre", "nmi_language")):
        col.metric(tables.nice(key).replace(" ↑", ""), tables.format_value(report.get(key)), help=which)
    if result.n_clusters < 2:  # every metric is undefined, for one reason: say it once, not per label column
        st.caption(f"n/a: {'every point is noise' if result.n_clusters == 0 else 'only one cluster (besides noise)'}"
                   " — the internal metrics compare clusters and the external ones need two to separate any labels.")
    elif report.get("notes"):
        st.caption(f"undefined (n/a): {report['notes']}")
    # Only DBSCAN and HDBSCAN mark noise: under the others the note would describe points that do not exist.
    st.caption(f"computed in {elapsed_ms:.0f} ms" + (f" · noise points: {tables.NOISE_POLICY}" if spec.has_noise else ""))
    if result.fitted_on:
        st.info(scale.fit_note(result, len(ids)), icon=":material/grain:")
with right:
    st.dataframe(tables.report_table(report, clustering=which), width="stretch", hide_index=True, height=420)

# Figures below the map are built only while shown (an expander that is open, the tab that is chosen):
# an eps move then sends the map and the metrics, not four Plotly figures as well.
if name == "dbscan":
    kdist_box = st.expander("k-distance plot (choosing eps)", key="clusters_kdist_open", on_change="rerun")
    if kdist_box.open:
        kdist_box.plotly_chart(figures.k_distance(kdist, k=min_samples - 1, suggested=span.suggested, eps=eps),
                               key="kdist")
        if len(space) < len(ids):
            kdist_box.caption(f"The k-distances of the fixed uniform random sample of {len(space):,} of the "
                              f"{len(ids):,} tracks (seed 0) that DBSCAN is fitted on: each sampled track's distance "
                              f"to its {min_samples - 1}th nearest sampled track. Suggested: {choice.why()}.")
        else:
            kdist_box.caption(f"The k-distances of all {len(ids):,} tracks. Suggested: {choice.why()}.")

# --- purity heatmaps ----------------------------------------------------------------------------
st.subheader("Clusters against labels")
label = st.segmented_control("Label", corpus.label_columns(), default="genre" if "genre" in corpus.label_columns()
                             else corpus.label_columns()[0], key="clusters_label")
if label:
    shown = scale.HEATMAP_ROWS  # thousands of DBSCAN clusters at a million points: the largest, the rest summed
    table = metrics.contingency(result.labels, truth[label], max_rows=shown)
    if metrics.OTHER_NAME in table.index:
        st.caption(f"The {shown} largest of the {result.n_clusters:,} clusters; the row “{metrics.OTHER_NAME}” "
                   f"sums the other {result.n_clusters - shown:,}.")
    axes = dict(x_title=label, y_title="cluster")
    share_of_cluster, share_of_class, counts = st.tabs(["share of each cluster", "share of each class", "counts"],
                                                       key="clusters_heat_view", on_change="rerun")
    if share_of_cluster.open:
        share_of_cluster.plotly_chart(figures.heatmap(metrics.normalise_contingency(table, "cluster"), **axes,
                                                      title=f"cluster × {label}: rows sum to 1 (purity)"),
                                      key="heat_cluster", theme=None)
    if share_of_class.open:
        share_of_class.plotly_chart(figures.heatmap(metrics.normalise_contingency(table, "class"), **axes,
                                                    title=f"cluster × {label}: columns sum to 1"),
                                    key="heat_class", theme=None)
    if counts.open:
        counts.plotly_chart(figures.heatmap(table, title=f"cluster × {label}: track counts", fmt="d", **axes),
                            key="heat_counts", theme=None)

# --- listen to members ----------------------------------------------------------------------------
st.subheader("Listen to a cluster")
clusters_present, clusters_note = scale.cluster_choices(result.labels)  # at most the largest hundred, and noise
if not clusters_present:
    st.info("No clusters to listen to.")
else:
    if clusters_note:
        st.caption(clusters_note)
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    # Another eps or k changes the set of clusters: a remembered choice that is gone (e.g. "noise")
    # falls back to the first real cluster instead of leaving the box on a value it does not offer.
    if st.session_state.get("listen_cluster") not in clusters_present:
        st.session_state["listen_cluster"] = next((c for c in clusters_present if c >= 0), clusters_present[0])
    chosen = c1.selectbox("Cluster", clusters_present, format_func=frames.cluster_name, key="listen_cluster")
    how = c2.segmented_control("Which members", ["nearest", "random"], default="nearest", key="listen_how",
                               format_func={"nearest": "nearest the centre", "random": "random"}.get) or "nearest"
    # Random members keep their seed across reruns (an eps move must not reload three other clips);
    # only Reshuffle draws new ones.
    st.session_state.setdefault("listen_seed", 0)
    if how == "random" and c3.button("Reshuffle", key="listen_reshuffle"):
        st.session_state["listen_seed"] += 1
    members = explore.cluster_members(Z, result.labels, chosen, n=3, how=how,
                                      random_state=st.session_state["listen_seed"] if how == "random" else 0)
    for i, j in enumerate(members):
        with st.container(border=True):
            track_panel(ids[j], entry=entry, specs=specs, key=f"members-{i}")

selected = frames.selected_track_ids(event) if event is not None else st.session_state.get("clusters_map_selection", [])
if selected:
    st.caption(f"{len(selected)} selected on the scatter: " + ", ".join(selected[:10]))

st.download_button("Export cluster assignments (CSV)", lambda: frames.assignments_csv(export_frame()),  # made on click
                   f"clusters_{entry.name}_{name}.csv", "text/csv", type="primary", on_click="ignore")

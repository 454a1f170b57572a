"""Metric rows, metric tables and the checkpoint manager."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import checkpoint, scoring, shelf
from ui.state import use_checkpoint

NOISE_POLICY = ("noise is left out of every metric: the internal ones score the clusters, the external ones "
                "(ARI, NMI, purity) the clustered points, whose share is the coverage")

LABELS = {
    "silhouette": "silhouette ↑", "calinski_harabasz": "Calinski–Harabasz ↑", "davies_bouldin": "Davies–Bouldin ↓",
    "noise_fraction": "noise fraction", "n_clusters": "clusters", "coverage": "coverage (share clustered)",
}


def track_choices(tracks: pd.DataFrame, track_ids) -> dict[str, str]:
    """``"id · genre · language" -> id`` for the tracks in ``track_ids`` (corpus order), in O(n).

    The rows are picked with one vectorised ``isin`` and only they are turned into text: walking every row
    of a million-track table took 4.6 s per run of the Latent page."""
    picked = tracks.loc[tracks["track_id"].isin(list(track_ids)), ["track_id", "genre", "language"]]
    ids, genres, languages = (picked[c].astype(str).tolist() for c in ("track_id", "genre", "language"))
    return {f"{t} · {g} · {lang}": t for t, g, lang in zip(ids, genres, languages)}


def picked_rows(event) -> list[int]:
    """Row positions picked in an ``st.dataframe`` selection (``selection_mode`` with ``"single-cell"``):
    the row of a clicked cell first, then the rows ticked with the row markers. A click anywhere on a
    row picks it, as users expect of a track list. ``event``: the dataframe's return value or its
    session-state entry (attributes or keys)."""
    selection = getattr(event, "selection", None)
    if selection is None and isinstance(event, dict):
        selection = event.get("selection")
    if selection is None:
        return []

    def part(name: str) -> list:
        return list(getattr(selection, name, None) or (selection.get(name) if isinstance(selection, dict) else None)
                    or [])

    rows = [int(cell[0]) for cell in part("cells")] + [int(r) for r in part("rows")]
    return list(dict.fromkeys(rows))


def format_value(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    try:
        return f"{float(value):.3f}"
    except (TypeError, ValueError):
        return str(value)


def nice(key: str) -> str:
    """A readable name for a metric or result column: ``nmi_genre`` -> ``NMI vs genre``."""
    key = str(key)
    if key.endswith("_std"):
        return f"{nice(key[:-4])} (std)"
    if key in LABELS:
        return LABELS[key]
    if key in COLUMN_NAMES:
        return COLUMN_NAMES[key]
    metric, _, label = key.partition("_")
    if metric in ("ari", "nmi", "purity", "ami", "homogeneity", "completeness", "v") and label:
        return f"{metric.upper() if metric in ('ari', 'nmi', 'ami') else metric} vs {label}"
    return key


#: Names of the non-metric columns of the results and score tables.
COLUMN_NAMES = {"params": "setting", "n_tracks": "tracks", "recon": "reconstruction loss", "kl": "KL",
                "active_dims": "active dimensions", "beta": "β", "eps": "eps", "trained_on": "trained on",
                "trained": "trained for"}
#: The results table's columns shown by default (the rest behind "all columns").
RESULT_COLUMNS = ("task", "model", "clustering", "params", "n_clusters", "silhouette", "nmi_genre", "nmi_language",
                  "ari_genre", "ari_language", "purity_genre", "purity_language", "coverage", "note")
#: The checkpoint score table's columns shown.
SCORE_COLUMNS = ("checkpoint", "model", "latent", "β", "trained", "trained_on", "silhouette", "nmi_genre",
                 "nmi_language", "ari_genre", "ari_language", "purity_genre", "purity_language", "note")


def readable(table: pd.DataFrame, columns=None) -> pd.DataFrame:
    """``table`` with only ``columns`` (those present; all when None) under readable names."""
    if columns is not None:
        table = table[[c for c in columns if c in table.columns]]
    return table.rename(columns=nice)


def results_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The results rows with a ``run`` column naming model, clustering and its setting (k...):
    one bar each, so rows of another k are never stacked or summed."""
    parts = [table[c].astype(str) for c in ("model", "clustering", "params") if c in table.columns]
    run = parts[0]
    for part in parts[1:]:
        run = run + " · " + part
    return table.assign(run=run.values)


def named(key: str, clustering: str | None) -> str:
    """A metric's readable name with the clustering behind it: ``NMI vs language (K-Means, k = 8)``."""
    return f"{nice(key)} ({clustering})" if clustering else nice(key)


def by_label_names(report_or_table, keys) -> dict[str, str]:
    """``key -> "NMI vs genre (K-Means, k = 8)"`` for the metrics of ``core.scoring.score_by_label`` (a report, or
    a table of them whose rows share each k; where they do not, the name says k = the label's classes)."""
    rows = [report_or_table] if isinstance(report_or_table, dict) else report_or_table.to_dict("records")
    names = {}
    for key in keys:
        said = {scoring.by_label_clustering(row, key) for row in rows} - {None}
        names[key] = named(key, said.pop() if len(said) == 1 else
                           "K-Means, k = the number of classes" if said else None)
    return names


def metric_row(report: dict, *, keys) -> None:
    """One metric per key of a ``core.scoring.score_by_label`` report, each named with its clustering."""
    cols = st.columns(len(keys))
    names = by_label_names(report, keys)
    for col, key in zip(cols, keys):
        col.metric(names[key], format_value(report.get(key)))
    if report.get("notes"):
        st.caption("undefined: " + report["notes"])


def report_table(report: dict, *, clustering: str | None = None) -> pd.DataFrame:
    """Metric / value rows of a `core.metrics.report` dict; undefined values say n/a (reason in notes). With
    ``clustering`` (``core.clustering.describe``), a first row names the clustering every value is of."""
    rows = [{"metric": nice(k), "value": format_value(v)} for k, v in report.items() if k != "notes"]
    if clustering:
        rows.insert(0, {"metric": "clustering", "value": clustering})
    table = pd.DataFrame(rows)
    if report.get("notes"):
        table = pd.concat([table, pd.DataFrame([{"metric": "undefined", "value": report["notes"]}])])
    return table


def checkpoint_manager() -> None:
    """List checkpoints with what they hold; load one, or delete one of yours."""
    entries = shelf.list_checkpoints()
    if not entries:
        st.info("No checkpoints yet: train one on the **Train a model** tab.")
        return
    rows = []
    for e in entries:
        row = {"name": e.name, "kind": "ready-made" if e.shipped else "yours", "size (KB)": e.path.stat().st_size // 1024}
        try:
            info = checkpoint.describe(e.path)
            row.update({"model": info.get("model"), "epochs": info.get("epochs_trained", info.get("epochs")),
                        "latent": info["model_config"].get("latent_dim"), "β": (info["train_config"] or {}).get("beta")})
        except Exception as exc:  # an unreadable checkpoint is listed with its problem
            row["problem"] = str(exc)
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    names = {e.label: e for e in entries}
    c1, c2, c3 = st.columns([3, 1, 1])
    chosen = names[c1.selectbox("Checkpoint", list(names), key="manage_choice")]
    c2.button("Load", key="manage_load", width="stretch", on_click=use_checkpoint, args=(str(chosen.path),))
    if c3.button("Delete", key="manage_delete", disabled=chosen.shipped, width="stretch",
                 help="Ready-made checkpoints cannot be deleted." if chosen.shipped else None):
        shelf.delete_checkpoint(chosen.path)
        st.rerun()

"""Metric rows, metric tables and the checkpoint manager."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import checkpoint, workspace
from ui.state import use_checkpoint

NOISE_POLICY = ("noise is left out of every metric: the internal ones score the clusters, the external ones "
                "(ARI, NMI, purity) the clustered points, whose share is the coverage")

LABELS = {
    "silhouette": "silhouette ↑", "calinski_harabasz": "Calinski–Harabasz ↑", "davies_bouldin": "Davies–Bouldin ↓",
    "noise_fraction": "noise fraction", "n_clusters": "clusters", "coverage": "coverage (share clustered)",
}


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
    if key in LABELS:
        return LABELS[key]
    metric, _, label = key.partition("_")
    return f"{metric.upper() if metric in ('ari', 'nmi') else metric} vs {label}" if label else key


def metric_row(report: dict, *, keys) -> None:
    cols = st.columns(len(keys))
    for col, key in zip(cols, keys):
        col.metric(nice(key), format_value(report.get(key)))
    if report.get("notes"):
        st.caption("undefined: " + report["notes"])


def report_table(report: dict) -> pd.DataFrame:
    """Metric / value rows of a `core.metrics.report` dict; undefined values say n/a (reason in notes)."""
    rows = [{"metric": nice(k), "value": format_value(v)} for k, v in report.items() if k != "notes"]
    table = pd.DataFrame(rows)
    if report.get("notes"):
        table = pd.concat([table, pd.DataFrame([{"metric": "undefined", "value": report["notes"]}])])
    return table


def checkpoint_manager() -> None:
    """List checkpoints with what they hold; load one, or delete one of yours."""
    entries = workspace.list_checkpoints()
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
        workspace.delete_checkpoint(chosen.path)
        st.rerun()

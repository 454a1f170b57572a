"""The Markdown version of an evaluate or beta_sweep table (RESULTS.md style)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.evaluate.tasks import TASKS

__all__ = ["to_markdown"]

_COUNT_COLUMNS = ("n_clusters", "active_dims")


def _fmt(mean, std, *, count: bool = False) -> str:
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "n/a"
    if count:
        text = f"{mean:g}" if float(mean).is_integer() else f"{mean:.1f}"
        return text + (f" ± {std:.1f}" if std is not None and not np.isnan(std) and std > 0 else "")
    text = f"{mean:.4f}" if abs(mean) < 100 else f"{mean:.1f}"
    if std is not None and not (isinstance(std, float) and np.isnan(std)) and std > 0:
        text += f" ± {std:.4f}" if abs(mean) < 100 else f" ± {std:.1f}"
    return text


def to_markdown(df: pd.DataFrame, *, title: str | None = None, corpus_name: str | None = None) -> str:
    """A Markdown version of an :func:`evaluate` (or :func:`beta_sweep`) table, RESULTS.md style.

    One table per task; each cell is ``mean ± std`` over seeds ("n/a" when undefined,
    with the reason in the notes below the table).
    """
    label_columns = df.attrs.get("label_columns") or sorted(
        {c[len("ari_"):] for c in df.columns if c.startswith("ari_") and not c.endswith("_std")})
    lines = []
    if title:
        lines += [f"## {title}", ""]
    lines += ["Labels are never used in training: every model and clustering is fitted without them; the "
              "label columns only enter the external metrics (ARI, NMI, purity) afterwards. "
              "The external metrics are computed on the clustered points; `coverage` is the share of points "
              "clustered (below 1 only for DBSCAN/HDBSCAN, whose noise is left out). "
              "Cells are mean ± std over seeds.", ""]
    if corpus_name:
        lines += [f"Corpus: {corpus_name}.", ""]
    metric_cols = ["silhouette", "calinski_harabasz", "davies_bouldin", "n_clusters", "coverage"]
    for col in label_columns:
        metric_cols += [f"ari_{col}", f"nmi_{col}", f"purity_{col}"]
    is_sweep = "beta" in df.columns and "task" in df.columns and (df["task"] == "beta_sweep").all()
    if is_sweep:
        metric_cols = ["kl", "active_dims"] + metric_cols
    for task, part in df.groupby("task", sort=False) if "task" in df.columns else [("", df)]:
        titles = {"beta_sweep": "β sweep: the Beta-VAE network trained with each β, K-Means on the latent means"}
        lines += [f"### {TASKS[task].title if task in TASKS else titles.get(task, task)}", ""]
        if (part["model"] == "-").all():
            lines += [f"_{part['note'].iloc[0]}_", ""]
            continue
        cols = [c for c in metric_cols if c in part.columns]
        head = ["model", "clustering", "params"] + cols
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join("---" for _ in head) + "|")
        notes = []
        for _, r in part.iterrows():
            params = str(r["params"])
            if "eps" in r.index and pd.notna(r["eps"]):
                params += f" (eps {r['eps']:.3g})"
            cells = [str(r["model"]), str(r["clustering"]), params]
            for c in cols:
                std = r.get(f"{c}_std")
                cells.append(_fmt(r[c], std, count=c in _COUNT_COLUMNS))
            lines.append("| " + " | ".join(cells) + " |")
            if isinstance(r.get("note"), str) and r["note"]:
                notes.append(f"- {r['model']} / {r['clustering']} {r['params']}: {r['note']}")
        if "n_tracks" in part.columns:
            lines += ["", f"Tracks: {int(part['n_tracks'].max())}; seeds: {int(part['seeds'].max())}."]
        if notes:
            lines += ["", "Notes:"] + notes
        lines.append("")
    if df.attrs.get("skipped"):
        lines += [f"{len(df.attrs['skipped'])} track(s) skipped by feature extraction, e.g. "
                  f"{df.attrs['skipped'][:3]}.", ""]
    return "\n".join(lines)

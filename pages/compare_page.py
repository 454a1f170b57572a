"""Compare: the study-style results table for this corpus and models, and the β sweep."""

import pandas as pd
import streamlit as st

from core import config, workspace
from core.evaluate import beta_sweep, evaluate
from core.io import atomic_write
from ui import figures, state

st.title("Compare models")
corpus = state.current_corpus()
specs = state.current_specs()
results_path = config.DATA_DIR / "results" / f"{corpus.fingerprint()}.csv"
sweep_path = results_path.with_name(f"{corpus.fingerprint()}_beta.csv")

st.markdown("The study's three tasks on the current corpus — **easy**: Basic VAE vs PCA on the 57-value features; "
            "**medium**: ConvVAE vs PCA on spectrograms + lyrics, each clustering method; **hard**: Beta-VAE vs PCA, "
            "autoencoder and raw features. Labels are never used in training; they only score the clusters.")

st.subheader("Your checkpoints on this corpus")
st.caption("K-Means on each checkpoint's latent means, k = the number of classes of each label.")
scores = state.checkpoint_scores(specs, tuple(e.stamp for e in workspace.list_checkpoints()))
if scores.empty:
    st.info("No checkpoints yet: train one on the **Train** page.")
else:
    st.dataframe(scores, hide_index=True, width="stretch")
    shown = [c for c in ("nmi_genre", "nmi_language", "ari_language", "silhouette") if c in scores]
    if shown:
        long = scores.melt(id_vars="checkpoint", value_vars=shown, var_name="metric", value_name="value")
        st.plotly_chart(figures.bars(long, x="checkpoint", y="value", color="metric",
                                     title="checkpoints compared"), key="ckpt_bars")

st.subheader("The study's tasks, retrained on this corpus")
c1, c2, c3 = st.columns(3)
seeds = c1.number_input("seeds", 1, 10, 1, help="mean ± std over this many seeds")
scale = c2.select_slider("training length", [0.1, 0.25, 0.5, 1.0], value=0.25,
                         help="fraction of each model's default epochs: 1.0 reproduces the study's settings")
run = c3.button("Run the evaluation", type="primary")

if run:
    bar = st.progress(0.0, text="Evaluating…")
    progress = lambda d, t, m="": bar.progress(min(1.0, d / max(t, 1)), text=f"Evaluating… {m}")
    try:
        table = evaluate(corpus, seeds=int(seeds), epochs_scale=float(scale), progress=progress)
        atomic_write(results_path, table.to_csv(index=False))
        if corpus.has_audio:
            bar.progress(0.0, text="β sweep…")
            sweep = beta_sweep(corpus, seeds=int(seeds), epochs_scale=float(scale), progress=progress)
            atomic_write(sweep_path, sweep.to_csv(index=False))
    except Exception as exc:
        st.error(f"The evaluation failed: {exc}")
    finally:
        bar.empty()

if not results_path.exists():
    st.info("No results for this corpus yet. Press **Run the evaluation** (about a minute on the demo corpus at "
            "training length 0.25). The committed RESULTS.md holds full-length runs.")
    st.stop()

table = pd.read_csv(results_path)
st.subheader("Results")
st.dataframe(table, hide_index=True, width="stretch")
st.download_button("Download (CSV)", results_path.read_bytes(), "results.csv", "text/csv")

skipped = table["note"].fillna("").astype(str).str.startswith("skipped") if "note" in table else False
ran = table[~skipped] if "note" in table else table
metric_names = [c for c in ("silhouette", "nmi_genre", "nmi_language", "ari_genre", "ari_language", "purity_genre",
                            "calinski_harabasz", "davies_bouldin") if c in ran.columns]
if metric_names:
    metric = st.segmented_control("Metric", metric_names, default=metric_names[0], key="compare_metric") or metric_names[0]
    ran = ran.assign(run=ran["model"].astype(str) + " · " + ran["clustering"].astype(str))
    st.plotly_chart(figures.bars(ran, x="task", y=metric, color="run",
                                 error_y=f"{metric}_std" if f"{metric}_std" in ran else None,
                                 title=f"{metric} by task and model"), key="compare_bars")

if sweep_path.exists():
    st.subheader("β sweep")
    sweep = pd.read_csv(sweep_path)
    cols = [c for c in ("recon", "silhouette", "nmi_genre", "nmi_language") if c in sweep.columns]
    grid = st.columns(len(cols) or 1)
    for col, name in zip(grid, cols):
        col.plotly_chart(figures.line(sweep, x="beta", y=name, title=f"β vs {name}", log_x=True), key=f"sweep_{name}")

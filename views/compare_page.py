"""Compare: the study-style results table for this corpus and models, and the β sweep."""

import pandas as pd
import streamlit as st

from core import config, shelf
from core.jobs import EvaluationJob
from core.progress import duration_words
from ui import caches, figures, jobs, state, tables

st.title("Compare models")
corpus = state.current_corpus()
specs = state.current_specs()
results_path = config.DATA_DIR / "results" / f"{corpus.fingerprint()}.csv"
sweep_path = results_path.with_name(f"{corpus.fingerprint()}_beta.csv")
job_name = f"evaluation of corpus {corpus.fingerprint()[:8]}"

st.markdown("The study's three tasks on the current corpus — **easy**: Basic VAE vs PCA on the 57-value features; "
            "**medium**: ConvVAE vs PCA on spectrograms + lyrics, each clustering method; **hard**: Beta-VAE vs PCA, "
            "autoencoder and raw features. Labels are never used in training; they only score the clusters.")

st.subheader("Your checkpoints on this corpus")
st.caption("K-Means on each checkpoint's latent means, k = the number of classes of each label (each column "
           "names its k). **Trained for** is how long the checkpoint trained (epochs × optimisation steps, from its "
           "history): a short run scores lower than it would with more training. **Trained on** is "
           "what the checkpoint recorded: *this corpus* when its training corpus has this corpus's fingerprint, "
           "*one of its sources* when this corpus was one of several it was trained on, *other data* when neither "
           "(its scores here are a transfer; a spectrogram model reads 20 tracks or more with this collection's own band "
           "levels), *not recorded* for files saved before checkpoints recorded their data.")
scores = caches.checkpoint_scores(specs, tuple(e.stamp for e in shelf.list_checkpoints()))
if scores.empty:
    st.info("No checkpoints yet: train one on the **Train** page.")
else:
    # each metric column names the clustering behind it: the same metric at another k is another number
    metric_keys = [c for c in tables.SCORE_COLUMNS if c in scores and tables.nice(c) != c and scores[c].dtype != object]
    names = tables.by_label_names(scores, metric_keys)
    st.dataframe(tables.readable(scores, tables.SCORE_COLUMNS).rename(columns={tables.nice(k): v for k, v in names.items()}),
                 hide_index=True, width="stretch")
    shown = [c for c in ("nmi_genre", "ari_genre", "nmi_language", "ari_language", "silhouette") if c in scores]
    if shown:
        long = scores.melt(id_vars="checkpoint", value_vars=shown, var_name="metric", value_name="value")
        long["metric"] = long["metric"].map(tables.by_label_names(scores, shown))
        st.plotly_chart(figures.bars(long, x="checkpoint", y="value", color="metric",
                                     title="checkpoints compared"), key="ckpt_bars")

# --- the study's tasks: a background job with progress and Stop ----------------------------------
st.subheader("The study's tasks, retrained on this corpus")
job = jobs.mine("evaluation")
if job is not None and job.name != job_name:  # this session's evaluation of another corpus: not this page's status
    if job.running:
        st.caption(f"Your {job.name} still runs in the background; its results appear on that corpus's page.")
    job = None
if job is None:  # another session may be evaluating this corpus: show it (its owner may stop it)
    job = next((j for j in jobs.registry().jobs(kind="evaluate", running=True) if j.name == job_name), None)
    own = False
else:
    own = True
running = job is not None and job.running

c1, c2, c3 = st.columns(3, vertical_alignment="bottom")
seeds = c1.number_input("seeds", 1, 10, 1, key="compare_seeds", help="mean ± std over this many seeds",
                        disabled=running)
scale = c2.select_slider("training length", [0.1, 0.25, 0.5, 1.0], value=0.25, key="compare_scale", disabled=running,
                         help="fraction of each model's default epochs: 1.0 reproduces the study's settings")
if not running:
    # timed on this machine now, a few steps per model: an honest figure where a fixed one was off by 30x
    estimate = jobs.evaluation_time(specs, int(seeds), float(scale))
    if estimate.parts:
        longest = ", ".join(f"{label} ({task}{f', {runs} runs' if runs > 1 else ''}) {duration_words(sec)}"
                            for task, label, runs, sec in estimate.parts[:3])
        st.markdown(f"⏱ On this machine the evaluation trains for **about {duration_words(estimate.seconds)}** "
                    f"(steps timed just now, the machine's load included; clustering and the "
                    f"{', '.join(estimate.untimed) or 'untrained'} baselines add a little): {longest}. "
                    "Training length 0.1 takes about a tenth of 1.0.")
if c3.button("Run the evaluation", type="primary", key="compare_run", disabled=running,
             help="Runs in the background: keep using the dashboard; Stop ends it."):
    try:
        job = jobs.start(EvaluationJob(corpus, results_path=results_path, sweep_path=sweep_path, seeds=int(seeds),
                                       epochs_scale=float(scale), name=job_name, estimate=estimate), "evaluation")
    except Exception as exc:  # a cap: said, not raised
        st.error(str(exc))
    else:
        st.rerun()


@st.fragment(run_every=1.0 if running else None)
def evaluation_progress():
    if job is None:
        return
    if running and not job.running:
        st.rerun(scope="app")  # finished: show the new results
    jobs.progress_row(job, key="evaluation", can_stop=own)
    if not own and job.running:
        st.caption("Started from another session; its results appear here when it ends.")
    if job.status == "failed":
        st.error(f"The evaluation failed: {job.error}")
    elif job.status == "stopped":
        st.warning("The evaluation was stopped; the results below are from the last complete run, if any.")


evaluation_progress()

if not results_path.exists():
    st.info("No results for this corpus yet. Press **Run the evaluation** (the time it takes on this machine is "
            "above). The committed RESULTS.md holds full-length runs.")
    st.stop()

table = pd.read_csv(results_path)
st.subheader("Results")
all_columns = st.toggle("all columns", key="compare_all_columns", help="every metric with its standard deviation")
st.dataframe(tables.readable(table, None if all_columns else tables.RESULT_COLUMNS), hide_index=True, width="stretch")
st.download_button("Download (CSV)", results_path.read_bytes(), "results.csv", "text/csv")

skipped = table["note"].astype("string").fillna("").str.startswith("skipped") if "note" in table else False
ran = table[~skipped] if "note" in table else table
metric_names = [c for c in ("silhouette", "nmi_genre", "nmi_language", "ari_genre", "ari_language", "purity_genre",
                            "calinski_harabasz", "davies_bouldin") if c in ran.columns]
if metric_names:
    metric = st.segmented_control("Metric", metric_names, default=metric_names[0], key="compare_metric",
                                  format_func=tables.nice) or metric_names[0]
    # One bar per (task, model, clustering, setting): rows with another k are other bars, never summed.
    st.plotly_chart(figures.bars(tables.results_runs(ran), x="task", y=metric, color="run",
                                 error_y=f"{metric}_std" if f"{metric}_std" in ran else None,
                                 title=f"{tables.nice(metric)} by task and model", y_title=tables.nice(metric)),
                    key="compare_bars")

if sweep_path.exists():
    st.subheader("β sweep")
    sweep = pd.read_csv(sweep_path)
    cols = [c for c in ("recon", "silhouette", "nmi_genre", "nmi_language") if c in sweep.columns]
    group = "params" if "params" in sweep.columns and sweep["params"].nunique() > 1 else None
    if group:
        st.caption("One line per clustering setting (k of K-Means).")
    grid = st.columns(len(cols) or 1)
    for col, name in zip(grid, cols):
        col.plotly_chart(figures.line(sweep.dropna(subset=["beta"]), x="beta", y=name, color=group,
                                      title=f"β vs {tables.nice(name)}", log_x=True), key=f"sweep_{name}")

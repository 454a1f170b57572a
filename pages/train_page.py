"""Train: set up a model, watch it learn, save it; retrain the Basic VAE live with another β."""

import pandas as pd
import streamlit as st

from core import checkpoint, workspace
from core.jobs import TrainingJob, prepare_job
from core.scoring import TrainingMonitor
from ui import figures, frames, state, tables

st.title("Train")
corpus = state.current_corpus()
specs = state.current_specs()

MODEL_HELP = {
    "basic": "Basic VAE: dense network on the 57-value GTZAN features (seconds).",
    "conv": "ConvVAE: 4 conv layers on the 128×128 log-mel, fused with a lyrics branch (β = 1).",
    "beta": "Beta-VAE: the ConvVAE trained with a β-weighted KL (β = 4 by default).",
    "ae": "Plain autoencoder: the same encoder without the KL term.",
    "pca": "PCA baseline on the same inputs (instant).",
}

live_tab, train_tab, beta_tab, manage_tab = st.tabs(
    ["Live β (Basic VAE)", "Train a model", "β for the ConvVAE", "Checkpoints"])

# --------------------------------------------------------------------------- live β
with live_tab:
    st.markdown("Move β and the Basic VAE retrains on the current corpus; the metrics follow within seconds.")
    c1, c2, c3 = st.columns(3)
    beta = c1.select_slider("β", [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0], value=1.0, key="live_beta")
    latent = c2.select_slider("latent size", [2, 4, 8, 16], value=2, key="live_latent")
    seed = c3.number_input("seed", 0, 10_000, 0, key="live_seed")

    try:
        model, ids, Z, report = state.live_basic_vae(specs, float(beta), int(latent), int(seed))
    except Exception as exc:  # shown, not raised: the rest of the page stays usable
        st.error(f"Could not train the Basic VAE on this corpus: {exc}")
    else:
        tables.metric_row(report, keys=("silhouette", "nmi_genre", "nmi_language", "ari_language"))
        left, right = st.columns([3, 2])
        frame = frames.scatter_frame(ids, Z[:, :2], corpus.tracks)
        left.plotly_chart(figures.latent_scatter(frame, color="language", height=380), key="live_scatter")
        left.caption("The first two latent dimensions (latent means), coloured by language.")
        if model.kl_per_dim_ is not None:
            right.plotly_chart(figures.kl_bars(model.kl_per_dim_), key="live_kl")
        right.caption("K-Means on the latent means with k = number of classes of each label. "
                      "Labels are never used in training.")

# --------------------------------------------------------------------------- train
with train_tab:
    job: TrainingJob | None = st.session_state.get("job")
    running = job is not None and job.running
    with st.form("train_form", border=True):
        c1, c2, c3 = st.columns(3)
        model_name = c1.selectbox("Model", list(MODEL_HELP), format_func=lambda m: MODEL_HELP[m].split(":")[0],
                                  disabled=running)
        beta = c2.number_input("β (KL weight)", 0.0, 64.0, 4.0 if model_name == "beta" else 1.0, 0.5, disabled=running)
        latent = c3.number_input("latent size", 2, 128, 8 if model_name in ("conv", "beta", "ae") else 2, disabled=running)
        c4, c5, c6, c7 = st.columns(4)
        epochs = c4.number_input("epochs", 1, 1000, 40 if model_name in ("conv", "beta", "ae") else 120, disabled=running)
        lr = c5.number_input("learning rate", 1e-5, 1e-1, 1e-3, format="%.5f", disabled=running)
        batch = c6.number_input("batch size", 4, 1024, 32, disabled=running)
        seed = c7.number_input("seed", 0, 10_000, 0, disabled=running)
        name = st.text_input("Save as", f"{model_name}-run", disabled=running,
                             help="Saved under data/runs/NAME.pt when training ends or is stopped.")
        start = st.form_submit_button("Start training", type="primary", disabled=running)
    st.caption(MODEL_HELP[model_name])
    if start:
        try:
            params = workspace.model_settings(
                model_name, epochs=int(epochs), lr=float(lr), batch_size=int(batch), seed=int(seed),
                latent_dim=int(latent), beta=float(beta), random_state=int(seed))
            monitor = TrainingMonitor(n_clusters=state.default_k(corpus), every=max(1, int(epochs) // 20),
                                      random_state=int(seed))
            bar = st.progress(0.0, text="Extracting features…")
            job, skipped = prepare_job(
                corpus, model_name, params, save_to=workspace.run_path(name), monitor=monitor,
                progress=lambda d, t, m="": bar.progress(d / max(t, 1), text=f"Extracting features… {d}/{t}"))
            bar.empty()
            if skipped:
                st.warning(f"{len(skipped)} tracks skipped: " + "; ".join(map(str, skipped[:5])))
            st.session_state["job"] = job.start()
            st.rerun()
        except Exception as exc:
            st.error(str(exc))

    @st.fragment(run_every=1.0 if running else None)
    def live_progress():
        job: TrainingJob | None = st.session_state.get("job")
        if job is None:
            st.info("No training run yet. Choose a model and press **Start training**.")
            return
        if running and not job.running:
            st.rerun(scope="app")  # the run ended: re-enable the form, stop polling
        epochs_done = pd.DataFrame(job.epochs)
        total = getattr(job.model, "epochs", None) or max(len(epochs_done), 1)
        cols = st.columns([1, 4])
        if job.running:
            if cols[0].button("Stop", type="secondary", key="stop_training"):
                job.stop()
        status = {"running": "training", "done": "finished", "stopped": "stopped (best weights kept)",
                  "failed": "failed"}[job.status] if job.status in ("running", "done", "stopped", "failed") else job.status
        cols[1].progress(min(1.0, len(epochs_done) / total),
                         text=f"{job.model.name}: {status} · epoch {len(epochs_done)}/{total} · {job.elapsed:.0f} s")
        if job.status == "failed":
            st.error(job.error)
        if not epochs_done.empty:
            left, right = st.columns([3, 2])
            left.plotly_chart(figures.loss_curves(epochs_done), key="curves")
            kl = epochs_done["kl_per_dim"].iloc[-1] if "kl_per_dim" in epochs_done else None
            if kl is not None and len(kl):
                right.plotly_chart(figures.kl_bars(kl), key="kl_live")
            metric_cols = [c for c in epochs_done.columns if c.startswith("metric_") or c == "silhouette"]
            if "metrics" in epochs_done and epochs_done["metrics"].map(bool).any():
                flat = pd.json_normalize(epochs_done["metrics"].map(lambda m: m or {}).tolist())
                flat["epoch"] = epochs_done["epoch"].values
                for col in [c for c in flat.columns if c != "epoch"]:
                    right.plotly_chart(figures.line(flat.dropna(subset=[col]), x="epoch", y=col,
                                                    title=f"{col} on validation latents"), key=f"m_{col}")
            elif metric_cols:
                right.line_chart(epochs_done.set_index("epoch")[metric_cols])
        if job.status in ("done", "stopped") and job.save_to is not None:
            st.success(f"Saved to `{job.save_to}`.")
            if st.button("Explore this checkpoint", key="use_trained", on_click=state.use_checkpoint,
                         args=(str(job.save_to),)):
                st.switch_page("pages/explore_page.py")

    live_progress()

# --------------------------------------------------------------------------- β sweep
with beta_tab:
    rows = []
    for e in workspace.list_checkpoints():
        try:
            info = checkpoint.describe(e.path)
        except Exception:  # unreadable checkpoints are listed with their problem on the Checkpoints tab
            continue
        if info.get("model") in ("conv", "beta"):
            rows.append({"checkpoint": e.name, "β": (info["train_config"] or {}).get("beta"), "path": str(e.path)})
    if not rows:
        st.info("No ConvVAE checkpoints. Train one with another β on the **Train a model** tab.")
    else:
        table = pd.DataFrame(rows).sort_values(["β", "checkpoint"], na_position="last").set_index("path")
        choice = st.select_slider("β", options=table.index.tolist(), key="conv_beta",
                                  format_func=lambda p: f"β = {table.loc[p, 'β']:g} ({table.loc[p, 'checkpoint']})")
        st.button("Use this ConvVAE", type="primary", on_click=state.use_checkpoint, args=(choice,))
        st.caption("Each β is its own checkpoint, so switching is instant. For another β, train a Beta-VAE on "
                   "the **Train a model** tab; it joins this slider when saved.")

# --------------------------------------------------------------------------- manage
with manage_tab:
    tables.checkpoint_manager()

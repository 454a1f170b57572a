"""Train: set up a model, watch it learn, save it; retrain the Basic VAE live with another β."""

import pandas as pd
import streamlit as st

from core import checkpoint, clustering, shelf
from core.jobs import TrainingJob, prepare_job
from core.models import MODELS, create
from core.params import SPECS
from core.progress import duration_words
from core.model_scores import TrainingMonitor
from ui import caches, figures, frames, jobs, state, tables
from ui import train_form as form

st.title("Train")
corpus = state.current_corpus()
specs = state.current_specs()

#: The models the form offers, in the order it lists them (each shown by its ``label``).
FORM_MODELS = ("basic", "conv", "beta", "ae", "pca")
#: The form's number fields, keyed as the models' configs name them: their bounds, steps, labels and help are
#: their specs in ``core.params``. A model that does not take a field shows it disabled.
FIELDS = ("epochs", "beta", "latent_dim", "lr", "batch_size", "random_state")
#: The fields the spectrogram VAEs add (``Model.spectrogram_vae``): what shapes them besides their latent size.
SPECTROGRAM_FIELDS = ("width", "steps_per_epoch", "free_bits")


def model_defaults(name: str) -> dict:
    """The form's starting values for model ``name``: its own settings (``get_params()`` of a new model, that is
    its config classes' defaults, never copies); a field the model does not take shows its box's lowest value."""
    model = create(name)
    settings = model.get_params()
    out = {}
    for field in FIELDS + (SPECTROGRAM_FIELDS if model.spectrogram_vae else ()):
        spec, value = SPECS[field], settings.get(field)
        if field == "epochs" and field in settings and value is None:
            value = model.epochs  # None: the model's own number (the autoencoder's follows its inputs)
        out[field] = spec.type(spec.widget_range[0] if value is None else value)
    return out


def beta_normalised_line(name: str, beta: float, latent: int) -> str:
    """β normalised (``ConvVAE.beta_normalised``: β·d/(F·T), Higgins et al.) of ``beta`` with ``latent`` dims."""
    model = create(name, beta=beta, latent_dim=latent)
    value = model.beta_normalised()
    return (f"β = {beta:g} is **β normalised = {value:.3g}** (β·d/(F·T): d = {latent} audio latent dimensions, "
            f"F·T = 128 mel bands × {model.config.crop_frames} frames per crop); it follows the form when you "
            "start training.")


def model_help(name: str) -> str:
    """One line on model ``name``, its sizes read from its config classes."""
    model = create(name)
    c = model.config
    if model.spectrogram_vae:
        parent = type(model).__mro__[1]  # the Beta-VAE is the ConvVAE with another β
        network = f" (the {parent.label}'s network, β is a loss setting)." if parent in MODELS.values() else "."
        return (f"{model.label}: 1-D convolutions (width {c.width}) over random {c.crop_frames}-frame crops of "
                f"whole-clip log-mels (dB re. full scale, each band standardised), {c.crops_per_track} crops per "
                f"track sharing a track latent of {c.latent_dim} beside a crop latent of {c.crop_latent_dim}"
                + (f" and a temporal latent of {c.temporal_dim} channels every {c.temporal_hop} frames (the rhythm "
                   "of the reconstructions" + (f", learnt in {model.refine_epochs} epochs after the main ones with "
                                               "the encoders frozen)" if model.refine_epochs else ")")
                   if c.temporal_dim else "")
                + ("; the decoder gives each crop its own σ per mel band, so the latents keep how much each band "
                   "moves (its texture)" if c.crop_sigma else "")
                + (f"; the reconstruction is also scored on its first {c.cepstral_also} cepstral coefficients (the "
                   "shape of the spectrum)" if c.cepstral_also else "")
                + (f"; the latents also predict how percussive each of {c.percussive_also} groups of mel bands is "
                   "(drums against held notes)" if c.percussive_also else "")
                + f"; + lyrics latent {c.lyrics_latent_dim}, concatenated; β = {model.training.beta:g}" + network)
    if model.training is None:
        return f"{model.label} baseline on the standardised {c.inputs} (instant)."
    if model.variational:
        return (f"{model.label}: dense network 57 → {' → '.join(map(str, c.hidden))} → z = {c.latent_dim} on the "
                "57-value GTZAN features (seconds).")
    return (f"Plain autoencoder on the {c.inputs}: the {MODELS['basic'].label}'s dense network "
            f"({' → '.join(map(str, c.hidden))}) without the KL term.")


def warm_up_line(name: str, epochs: int, steps: int) -> str:
    """What the β warm-up of this run is, in words: β is not the β asked for until it ends."""
    planned = create(name, epochs=epochs, steps_per_epoch=steps)
    warm_up = planned.loss().warmup_steps
    if not warm_up:
        return "β is the β asked for from the first step (no warm-up)."
    total = epochs * steps
    run = "the main stage's" if planned.refine_epochs else "this run's"
    return (f"**β warm-up**: β grows from 0 to the β asked for over the first **{warm_up:,}** of {run} "
            f"{total:,} steps (epoch {-(-warm_up // steps)} of {epochs}), so the latent is not squeezed before it "
            f"has learnt anything; a run shorter than {3 * MODELS[name].training_defaults['warmup_steps']:,} "
            "steps warms up over its first third.")


def time_estimate(name: str, values: dict) -> None:
    """How long Start will take here, from a few steps timed on this machine now; a quick preset beside it.

    ``values``: the form's fields (config field names). Only the settings that change a step's cost are timed."""
    settings = create(name).get_params()

    def timed(**chosen) -> tuple:
        return tuple(sorted((k, v) for k, v in chosen.items() if k in settings))

    try:
        measured = jobs.training_time(specs, name, timed(latent_dim=values["latent_dim"],
                                                         batch_size=values["batch_size"],
                                                         **({"width": values["width"]} if "width" in values else {})))
    except Exception as exc:  # the estimate is a help: a corpus this model cannot train on is said at Start
        st.caption(f"No time estimate: {exc}")
        return
    steps = values.get("steps_per_epoch")
    planned = create(name, epochs=values["epochs"])
    epochs = planned.epochs  # with the refinement stage, where the model has one
    seconds = measured.seconds(epochs, steps)
    n_steps = epochs * (steps or measured.batches)
    last = "the last epoch" if planned.refine_epochs == 1 else f"the last {planned.refine_epochs} epochs"
    refine = (f", {last} a refinement in which only the temporal latent and the decoder learn"
              if planned.refine_epochs else "")
    st.markdown(f"⏱ On this machine this run takes **about {duration_words(seconds)}**: {n_steps:,} steps of "
                f"{measured.step:.2g} s each, timed just now (the machine's load included){refine}.")
    quick = getattr(MODELS[name], "quick_training", None)
    if quick and seconds > 5 * 60:
        q = jobs.training_time(specs, name, timed(latent_dim=values["latent_dim"], batch_size=quick["batch_size"],
                                                  width=quick["width"]))
        quick_epochs = create(name, **quick).epochs
        st.button(f"Quick run: about {duration_words(q.seconds(quick_epochs, quick['steps_per_epoch']))}",
                  key="train_quick", on_click=form.preset, kwargs=dict(quick),  # its keys are the form's fields
                  help=f"{quick['epochs']} epochs × {quick['steps_per_epoch']} steps of {quick['batch_size']} crops "
                       f"at width {quick['width']}: for a small machine. It learns less than the defaults.")


# A key keeps the open tab across reruns: choosing a model (a rerun) must not jump back to the first tab.
live_tab, train_tab, beta_tab, manage_tab = st.tabs(
    ["Live β (Basic VAE)", "Train a model", "β for the ConvVAE", "Checkpoints"], key="train_tabs")

# --------------------------------------------------------------------------- live β
with live_tab:
    st.markdown("Move β and the Basic VAE retrains on the current corpus; the metrics follow within seconds.")
    c1, c2, c3 = st.columns(3)
    beta = c1.select_slider("β", [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0], value=1.0, key="live_beta")
    latent = c2.select_slider("latent size", [2, 4, 8, 16], value=2, key="live_latent")
    seeds = SPECS["random_state"]
    seed = c3.number_input(seeds.title, int(seeds.widget_range[0]), int(seeds.widget_range[1]), seeds.default,
                           key="live_seed", help=seeds.help)

    try:
        model, ids, Z, report = caches.live_basic_vae(specs, float(beta), int(latent), int(seed))
    except Exception as exc:  # shown, not raised: the rest of the page stays usable
        st.error(f"Could not train the Basic VAE on this corpus: {exc}")
    else:
        tables.metric_row(report, keys=("silhouette", "nmi_genre", "ari_genre", "nmi_language", "ari_language"))
        left, right = st.columns([3, 2])
        frame = frames.scatter_frame(ids, Z[:, :2], corpus.tracks)
        left.plotly_chart(figures.latent_scatter(frame, color="language", height=380), key="live_scatter")
        left.caption("The first two latent dimensions (latent means), coloured by language.")
        if model.kl_per_dim_ is not None:
            right.plotly_chart(figures.kl_bars(model.kl_per_dim_), key="live_kl")
        right.caption("K-Means on the latent means with k = number of classes of each label. "
                      "Labels are never used in training.")

# --------------------------------------------------------------------------- train
def settings_table(settings: dict) -> pd.DataFrame:
    rows = [{"setting": SPECS[k].title if k in SPECS else k, "value": MODELS[v].label if k == "model" else v}
            for k, v in settings.items() if k not in ("random_state", "device")]
    return pd.DataFrame(rows).astype({"value": str})


def start_training(model_name: str, values: dict) -> None:
    """Check the caps, choose a name no other run uses, build the inputs, start the job."""
    registry = jobs.registry()
    path, renamed = shelf.free_run_path(values["name"], taken=registry.reserved_paths())
    registry.check("train", owner=jobs.session_id(), save_to=path)
    settings = create(model_name).get_params()
    params = {k: v for k, v in values.items() if k in settings}  # the form's fields this model takes
    monitor = TrainingMonitor(n_clusters=state.default_k(corpus), every=max(1, values["epochs"] // 20),
                              random_state=values["random_state"])
    bar = st.progress(0.0, text="Extracting features…")
    try:
        job, skipped = prepare_job(
            corpus, model_name, params, save_to=path, monitor=monitor, name=path.stem,
            progress=lambda d, t, m="": bar.progress(min(1.0, d / max(t, 1)), text=f"Extracting features… {d}/{t}"))
    finally:
        bar.empty()
    jobs.start(job, "job")
    # the form comes back with this run's values: a fresh name, so that Start does not reuse this one
    form.show_next(name=shelf.next_run_name(path, taken=registry.reserved_paths()))
    notes = []
    if renamed and values["name"].strip().removesuffix(".pt").lower() in shelf.shipped_names():
        notes.append(f"**{values['name']}** is the name of a ready-made checkpoint: this run is saved as "
                     f"**{path.stem}**, so a link to either opens the right one.")
    elif renamed:
        notes.append(f"A checkpoint called **{values['name']}** exists already (or another run writes it): "
                     f"this run is saved as **{path.stem}** instead.")
    if skipped:
        notes.append(f"{len(skipped)} tracks skipped: " + "; ".join(map(str, skipped[:5])))
    st.session_state["train_notes"] = (job.id, notes)


with train_tab:
    job = jobs.mine("job")
    running = job is not None and job.running
    if running:
        st.markdown(f"Training **{job.name}** with these settings (the form returns when it ends):")
        st.dataframe(settings_table(job.settings), hide_index=True, width=360)
    else:
        form.show_model(FORM_MODELS, "basic")
        model_name = st.selectbox("Model", FORM_MODELS, format_func=lambda n: MODELS[n].label, key=form.MODEL,
                                  help="The values you typed stay when you change the model; the others show "
                                       "that model's defaults.")
        st.caption(model_help(model_name))
        spectrogram_vae = MODELS[model_name].spectrogram_vae
        settings = create(model_name).get_params()
        # One key per field, whatever the model: what the user typed survives a model change (ui.train_form).
        defaults = {**model_defaults(model_name), "name": f"{model_name}-run"}
        form.show(model_name, defaults)

        def field(col, name: str, *, label: str | None = None, help: str | None = None):
            """The number box of setting ``name``, keyed by it: bounds, step, format and help from its spec,
            disabled when this model does not take it."""
            spec = SPECS[name]
            low, high = spec.widget_range
            extra = {} if spec.step is None else {"step": spec.type(spec.step)}
            if spec.format:
                extra["format"] = spec.format
            value = col.number_input(label or spec.title, spec.type(low), spec.type(high), key=form.key(name),
                                     on_change=form.touch, args=(name,), disabled=name not in settings,
                                     help=help or spec.help, **extra)
            return spec.type(value)

        values = {}
        with st.container(border=True):
            c1, c2, c3 = st.columns(3)
            values["epochs"] = field(c1, "epochs")
            values["beta"] = field(c2, "beta", help=f"{SPECS['beta'].help}; β normalised = β·d/(F·T) is shown under "
                                                    "the form" if spectrogram_vae else None)
            values["latent_dim"] = field(c3, "latent_dim", label="audio latent size" if spectrogram_vae else None,
                                         help="the audio block z_a; the lyrics block is added to it"
                                         if spectrogram_vae else None)
            for col, setting in zip(st.columns(3), ("lr", "batch_size", "random_state")):
                values[setting] = field(col, setting)
            if spectrogram_vae:
                for col, setting in zip(st.columns(3), SPECTROGRAM_FIELDS):
                    values[setting] = field(col, setting)
            run_name = st.text_input("Save as", key=form.key("name"), on_change=form.touch, args=("name",),
                                     help="Saved under data/runs/NAME.pt when training ends or is stopped. "
                                          "A name in use gets a number added: a run never overwrites another.")
            start = st.button("Start training", type="primary", key="train_start")
        if spectrogram_vae:
            st.caption(beta_normalised_line(model_name, values["beta"], values["latent_dim"]))
            st.caption(warm_up_line(model_name, values["epochs"], values["steps_per_epoch"]))
        if "epochs" in settings:  # trained by gradient descent: it takes time
            time_estimate(model_name, values)
        form.remember(defaults)
        if start:
            try:
                start_training(model_name, {**values, "name": run_name})
            except Exception as exc:  # a bad name, a cap, a corpus without the inputs: said, not raised
                st.error(str(exc))
            else:
                st.rerun()
    notes_for, notes = st.session_state.get("train_notes", (None, []))
    for note in notes if job is not None and notes_for == job.id else []:
        st.info(note)

    @st.fragment(run_every=1.0 if running else None)
    def live_progress():
        job: TrainingJob | None = jobs.mine("job")
        if job is None:
            st.info("No training run yet. Choose a model and press **Start training**.")
            return
        if running and not job.running:
            st.rerun(scope="app")  # the run ended: bring the form back, stop polling
        epochs_done = pd.DataFrame(job.history())
        jobs.progress_row(job, key="training", unit="epoch ")
        if job.status == "failed":
            st.error(job.error)
        if epochs_done.empty:
            return
        last = epochs_done.iloc[-1]
        warnings = [w for ws in epochs_done.get("warnings", pd.Series(dtype=object)).dropna() for w in (ws or [])]
        if warnings:
            st.warning("**Training warnings** (collapse or divergence):\n\n" +
                       "\n".join(f"- {w}" for w in dict.fromkeys(warnings)))
        if "active_units" in epochs_done and pd.notna(last.get("active_units")):
            units = int(last["active_units"])
            # out of the dimensions whose KL was counted: every block of the latent, not the audio block's size
            measured = last.get("val_kl_per_dim")
            total_units = (len(measured) if isinstance(measured, list) and measured
                           else int(getattr(getattr(job, "model", None), "latent_dim", 0)
                                    or job.settings.get("latent_dim") or 0))
            st.caption(f"active latent units (KL > 0.01 nats) at epoch {int(last['epoch'])}: **{units}**"
                       + (f" of {total_units}" if total_units else ""))
        if pd.notna(last.get("beta_normalised", None)):
            asked = float(job.settings.get("beta", last["beta"]))
            warming = (f" (warming up to {asked:g} over the first {job.model.loss().warmup_steps:,} steps)"
                       if last["beta"] < asked else "")
            st.caption(f"β at epoch {int(last['epoch'])}: **{last['beta']:.3g}**{warming}, β normalised "
                       f"(β·d/(F·T)): **{last['beta_normalised']:.3g}**")
        left, right = st.columns([3, 2])
        log_y = left.toggle("log scale", key="loss_log", help="Loss on a logarithmic axis")
        left.plotly_chart(figures.loss_curves(epochs_done, log_y=log_y), key="curves")
        if "active_units" in epochs_done and epochs_done["active_units"].notna().any():
            left.plotly_chart(figures.line(epochs_done.dropna(subset=["active_units"]), x="epoch", y="active_units",
                                           title="active latent units per epoch"), key="active_units")
        kl = last.get("kl_per_dim") if "kl_per_dim" in epochs_done else None
        if kl is not None and len(kl):
            right.plotly_chart(figures.kl_bars(kl), key="kl_live")
        if "metrics" in epochs_done and epochs_done["metrics"].map(bool).any():
            flat = pd.json_normalize(epochs_done["metrics"].map(lambda m: m or {}).tolist())
            flat["epoch"] = epochs_done["epoch"].values
            k = getattr(job.monitor, "n_clusters", None)
            which = clustering.describe("kmeans", {"n_clusters": k}) if k else None
            for col in [c for c in flat.columns if c != "epoch"]:
                right.plotly_chart(figures.line(flat.dropna(subset=[col]), x="epoch", y=col,
                                                title=f"{tables.named(col, which)} on validation latents"),
                                   key=f"m_{col}")
        if job.status in ("done", "stopped") and job.save_to is not None and job.save_to.exists():
            st.success(f"Saved to `{job.save_to}` ({'stopped early, best weights' if job.status == 'stopped' else 'finished'}).")
            if st.button("Explore this checkpoint", key="use_trained", on_click=state.use_checkpoint,
                         args=(str(job.save_to),)):
                st.switch_page("views/explore_page.py")

    live_progress()

    others = [j for j in jobs.registry().jobs(kind="train", running=True) if j is not job]
    if others:
        st.caption(f"{len(others)} other training run(s) on this server: "
                   + ", ".join(f"{j.name} (epoch {j.done}/{j.total})" for j in others))

# --------------------------------------------------------------------------- β sweep
with beta_tab:
    rows = []
    for e in shelf.list_checkpoints():
        try:
            info = checkpoint.describe(e.path)
        except Exception:  # unreadable checkpoints are listed with their problem on the Checkpoints tab
            continue
        if getattr(MODELS.get(info.get("model")), "spectrogram_vae", False):
            rows.append({"checkpoint": e.name, "β": (info["train_config"] or {}).get("beta"),
                         "β normalised": info.get("beta_normalised"), "path": str(e.path)})
    if not rows:
        st.info("No ConvVAE checkpoints. Train one with another β on the **Train a model** tab.")
    else:
        table = pd.DataFrame(rows).sort_values(["β", "checkpoint"], na_position="last").set_index("path")
        choice = st.select_slider("β", options=table.index.tolist(), key="conv_beta",
                                  format_func=lambda p: f"β = {table.loc[p, 'β']:g} ({table.loc[p, 'checkpoint']})")
        chosen_row = table.loc[choice]
        if pd.notna(chosen_row["β normalised"]):
            st.caption(f"β = {chosen_row['β']:g} is β normalised = **{chosen_row['β normalised']:.3g}** "
                       "(β·d/(F·T): d audio latent dimensions, F·T mel values per crop; Higgins et al.)")
        st.button("Use this ConvVAE", type="primary", on_click=state.use_checkpoint, args=(choice,))
        st.caption("Each β is its own checkpoint, so switching is instant. For another β, train a Beta-VAE on "
                   "the **Train a model** tab; it joins this slider when saved.")

# --------------------------------------------------------------------------- manage
with manage_tab:
    tables.checkpoint_manager()

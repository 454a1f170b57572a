"""Running the study's tasks on a corpus: fit every model without labels, cluster, score, aggregate.

The tasks are declared in :mod:`core.evaluate.tasks`; the scores come from
:mod:`core.scoring` (the same path as the dashboard and the training curves).

Labels are **never** used to fit a model or a clustering: every model is fitted
on the whole corpus without them, and the label columns (genre, language, any
other metadata) only enter the external metrics afterwards.

For each task the tracks are loaded once (``build_inputs``
with every input the task's models need), so all models of a task see the same
tracks. Each seed refits the models (built with ``random_state`` = the seed) and reruns the
clusterings (``random_state``); the table holds the mean over seeds of every
metric, and ``<metric>_std`` its standard deviation.

K-Means, Agglomerative and GMM run with each ``k`` of ``ks`` (default: the
number of languages and the number of genres, the two structures the study
looks for). DBSCAN takes ``eps`` at the knee of the k-distance curve
(:func:`core.clustering.suggest_eps`, ``min_samples = 5``) of each seed's
latents; HDBSCAN its defaults. Noise handling follows :mod:`core.metrics`: the external
metrics are computed on the clustered points, with ``coverage`` beside them.

A task the corpus cannot support (no audio, so no spectrograms, for a feature
table) gives one row whose ``note`` says why, and no metrics.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from core.clustering import NeighbourIndex, suggest_eps
from core.evaluate.tasks import (
    BETAS, DBSCAN_MIN_SAMPLES, DEFAULT_TASKS, TASKS, UMAP_BASELINE, ModelSpec, Task, clusterings,
)
from core.inputs import build_inputs
from core.latents import latent_part
from core.metrics import EXTERNAL, INTERNAL
from core.models import create
from core.progress import Progress, Stopped, null_progress
from core.projections import project
from core.scoring import label_table, score

__all__ = ["evaluate", "beta_sweep", "task_support", "fit_latents", "scaled_epochs", "planned_models"]

ID_COLUMNS = ("task", "model", "clustering", "params")
#: UMAP's own default layout length below 10,000 points: the UMAP(10) baseline keeps it.
UMAP_BASELINE_EPOCHS = 500


# --------------------------------------------------------------------------- models
def _needs(spec: ModelSpec) -> set[str]:
    if spec.model == UMAP_BASELINE:
        return {"features"}
    return set(create(spec.model, **spec.config).needs)


#: Fewest tracks a task clusters: two clusters and a silhouette need at least three points.
MIN_TRACKS = 3


def task_support(corpus, task: Task) -> str | None:
    """Why ``corpus``'s kind of data cannot run ``task`` (None when it can); its size is checked by ``evaluate``."""
    if task.requires_lyrics and not corpus.has_lyrics:
        return "the corpus has no lyrics, and the task compares lyrics, audio and both"
    needs = set().union(*(_needs(m) for m in task.models))
    if needs & {"mel", "clips"} and not corpus.has_audio:
        return "the corpus has no audio, so no spectrograms (a feature table holds only the 57 values)"
    if "features" in needs and corpus.features57 is None and not corpus.has_audio:
        return "the corpus has neither audio nor precomputed features"
    return None


def _adapt(spec: ModelSpec, corpus) -> tuple[ModelSpec, str]:
    """Drop the lyrics branch when the corpus has no lyrics at all (noted in the row)."""
    if spec.config.get("modality") == "both" and not corpus.has_lyrics:
        return dataclasses.replace(spec, config={**spec.config, "modality": "audio"}), "no lyrics: audio only"
    return spec, ""


def scaled_epochs(model, epochs_scale: float) -> int:
    """The main-stage epochs (``epochs``) a run at ``epochs_scale`` trains ``model`` (built with its default
    epochs) for; a refinement stage follows as the model says (``model.refine_epochs``)."""
    return model.main_epochs if epochs_scale == 1.0 else max(1, int(round(model.main_epochs * epochs_scale)))


def _build_model(spec: ModelSpec, *, seed: int, epochs_scale: float, extra: dict | None = None):
    """``create(spec.model, **params)`` with the seed and the scaled epochs among the params.

    Nothing is changed on a model after it is built: a default instance is built first
    and only read, for the number of epochs it trains by default.
    """
    config = {**spec.config, **(extra or {})}
    model = create(spec.model, random_state=seed, **config)
    if model.training is None or epochs_scale == 1.0:
        return model
    return create(spec.model, random_state=seed, **{**config, "epochs": scaled_epochs(model, epochs_scale)})


def planned_models(corpus, *, seeds: int = 1, tasks: Sequence[str | Task] = DEFAULT_TASKS,
                   betas: Sequence[float] | None = BETAS) -> list[tuple[str, ModelSpec, int]]:
    """What :func:`evaluate` (and, with ``betas``, :func:`beta_sweep`) would fit on ``corpus``: one
    ``(task name, spec, runs)`` per model, ``runs`` = seeds (times the βs in the sweep); tasks the corpus
    cannot support are left out, as the run skips them. What an estimate of the run's time scales up."""
    plan = []
    for task in (t if isinstance(t, Task) else TASKS[t] for t in tasks):
        if task_support(corpus, task) is None and len(corpus) >= MIN_TRACKS:
            plan += [(task.name, _adapt(spec, corpus)[0], seeds) for spec in task.models]
    sweep = _adapt(ModelSpec("Beta-VAE", "beta", {"modality": "both"}), corpus)[0]
    if betas and task_support(corpus, Task("beta_sweep", "β sweep", (sweep,), ("kmeans",))) is None:
        plan.append(("beta_sweep", sweep, seeds * len(betas)))
    return plan


def _check(stop) -> None:
    """Raise :class:`core.progress.Stopped` once ``stop`` (a threading.Event or None) is set."""
    if stop is not None and stop.is_set():
        raise Stopped()


def fit_latents(spec: ModelSpec, inputs, *, seed: int, epochs_scale: float = 1.0, extra: dict | None = None,
                part: str | None = None):
    """Public name of :func:`_latents` (``bench/bench_quality.py`` fits its representations with it)."""
    return _latents(spec, inputs, seed=seed, epochs_scale=epochs_scale, extra=extra, part=part)


def _latents(spec: ModelSpec, inputs, *, seed: int, epochs_scale: float, extra: dict | None = None,
             part: str | None = None, stop=None):
    """Fit the model of ``spec`` on ``inputs`` (no labels) and return (Z (n, d'), fitted model or None).

    Z is the latent ``part`` (:func:`core.latents.latent_part`; default: the model's default part,
    which every page clusters: a multimodal model's modalities at equal weight).

    The UMAP(10) baseline is StandardScaler -> ``core.projections.project(method="umap", dim=10)``.
    ``stop`` (a threading.Event): the training loop ends after its current step once it is set, and this
    raises :class:`core.progress.Stopped` instead of encoding a half-trained model.
    """
    if spec.model == UMAP_BASELINE:
        X = StandardScaler().fit_transform(np.asarray(inputs.features, dtype=np.float64))
        Z = project(X, method="umap", dim=10, random_state=seed, n_epochs=UMAP_BASELINE_EPOCHS)
        return np.asarray(Z, dtype=np.float64), None
    model = _build_model(spec, seed=seed, epochs_scale=epochs_scale, extra=extra)
    model.fit(inputs, stop=stop)
    _check(stop)
    return np.asarray(latent_part(model, model.encode(inputs), part), dtype=np.float64), model


# --------------------------------------------------------------------------- scores
def _default_ks(truth: pd.DataFrame) -> list[int]:
    ks = []
    for col in ("language", "genre"):
        if col in truth.columns:
            n = int(truth[col].astype(str).replace("", np.nan).nunique())
            if n >= 2:
                ks.append(n)
    return sorted(set(ks)) or [2]


def _score(Z: np.ndarray, method: str, ks: Sequence[int], truth: pd.DataFrame, *, seed: int) -> list[dict]:
    """Cluster ``Z`` with each table setting of ``method`` and score it: one row per setting."""
    index = NeighbourIndex(Z) if method == "dbscan" else None
    rows = []
    for params_label, params in clusterings(method, ks):
        params = dict(params)
        if any(params.get(k, 0) > len(Z) for k in ("n_clusters", "n_components")):
            continue
        if method == "dbscan":
            params["eps"] = max(suggest_eps(index, k=DBSCAN_MIN_SAMPLES - 1), 1e-3)
        row = score(Z, clusterer=method, params=params, labels=truth, random_state=seed, index=index)
        row.update({"clustering": method, "params": params_label})
        if method == "dbscan":
            row["eps"] = float(params["eps"])
        rows.append(row)
    return rows


def _aggregate(per_seed: list[dict], label_columns: Sequence[str]) -> pd.DataFrame:
    """Mean and std over seeds of every numeric column, grouped by the id columns."""
    df = pd.DataFrame(per_seed)
    numeric = [c for c in df.columns if c not in ID_COLUMNS + ("note", "notes", "seed")]
    for c in numeric:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    grouped = df.groupby(list(ID_COLUMNS), sort=False, dropna=False)
    mean = grouped[numeric].mean()
    std = grouped[numeric].std(ddof=0).add_suffix("_std")
    notes = grouped.agg(note=("note", lambda s: "; ".join(sorted({x for x in s if x}))),
                        notes=("notes", lambda s: "; ".join(sorted({x for x in s if x}))),
                        seeds=("seed", "nunique"))
    out = pd.concat([mean, std, notes], axis=1).reset_index()
    out["note"] = [
        "; ".join(x for x in (a, b) if x) for a, b in zip(out.pop("note"), out.pop("notes"))
    ]
    return out[_column_order(out.columns, label_columns)]


def _column_order(columns: Iterable[str], label_columns: Sequence[str]) -> list[str]:
    metrics = list(INTERNAL) + ["n_clusters", "coverage"]
    for col in label_columns:
        metrics += [f"{m}_{col}" for m in EXTERNAL]
    if "eps" in columns:
        metrics.append("eps")
    order = list(ID_COLUMNS)
    for m in metrics:
        order += [m, f"{m}_std"]
    order += ["seeds", "n_tracks", "note"]
    cols = list(columns)
    return [c for c in order if c in cols] + [c for c in cols if c not in order]


# --------------------------------------------------------------------------- run
def evaluate(
    corpus,
    *,
    seeds: int = 1,
    tasks: Sequence[str | Task] = DEFAULT_TASKS,
    epochs_scale: float = 1.0,
    ks: Sequence[int] | None = None,
    label_columns: Sequence[str] | None = None,
    progress: Progress | None = None,
    stop=None,
) -> pd.DataFrame:
    """Run ``tasks`` of :data:`TASKS` on ``corpus``; one row per (task, model, clustering, params).

    corpus : :class:`core.corpus.Corpus`.
    seeds : number of seeds (0..seeds-1) each model and clustering is run with.
    tasks : names in :data:`TASKS`, or :class:`Task` objects (any models and clusterings,
        e.g. a sweep over Basic VAE configurations).
    epochs_scale : multiplies every torch model's epochs (e.g. 0.05 for a smoke test).
    ks : cluster counts for K-Means/Agglomerative/GMM (default: #languages and #genres).
    label_columns : truth columns of the external metrics (default: ``corpus.label_columns()``).
    stop : a ``threading.Event``; once set, the model in training ends after its current step and this
        raises :class:`core.progress.Stopped` (Stop on the dashboard takes seconds, not a model's training).

    Returns a DataFrame: ``task, model, clustering, params``, every metric as its
    mean over seeds and ``<metric>_std``, ``seeds``, ``n_tracks`` and ``note``
    (skip reasons, undefined metrics, adaptations). ``df.attrs["skipped"]`` lists
    tracks the feature extraction left out.
    """
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    unknown = [t for t in tasks if not isinstance(t, Task) and t not in TASKS]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; choose from {list(TASKS)}")
    label_columns = list(corpus.label_columns() if label_columns is None else label_columns)
    report_progress = progress or null_progress
    chosen = [t if isinstance(t, Task) else TASKS[t] for t in tasks]
    too_few = (f"the corpus has {len(corpus)} track(s); clustering needs at least {MIN_TRACKS}"
               if len(corpus) < MIN_TRACKS else None)
    plan = [(task, task_support(corpus, task) or too_few) for task in chosen]
    total = sum(len(task.models) * seeds for task, why in plan if why is None) or 1
    done = 0
    skipped_rows: list[dict] = []
    per_seed: list[dict] = []
    skipped_tracks = []
    report_progress(0, total, "loading inputs")
    for task, why in plan:
        if why is not None:
            skipped_rows.append({"task": task.name, "model": "-", "clustering": "-", "params": "-",
                                 "note": f"skipped: {why}"})
            continue
        specs = [_adapt(spec, corpus) for spec in task.models]
        needs = set().union(*(_needs(s) for s, _ in specs))
        inputs, skipped = build_inputs(corpus, needs=needs, progress=None)
        skipped_tracks += skipped
        if len(inputs) < MIN_TRACKS:
            skipped_rows.append({"task": task.name, "model": "-", "clustering": "-", "params": "-",
                                 "note": f"skipped: {len(inputs)} usable track(s) after {len(skipped)} were "
                                         f"skipped; clustering needs at least {MIN_TRACKS}"})
            done += len(specs) * seeds
            continue
        truth = label_table(corpus, label_columns, track_ids=inputs.track_ids)
        task_ks = list(ks) if ks else _default_ks(truth)
        rows_before = len(per_seed)
        for spec, note in specs:
            for seed in range(seeds):
                report_progress(done, total, f"{task.name}: {spec.label} seed {seed}")
                Z, _ = _latents(spec, inputs, seed=seed, epochs_scale=epochs_scale, stop=stop)
                for method in task.clusterings:
                    _check(stop)
                    for row in _score(Z, method, task_ks, truth, seed=seed):
                        row.update({"task": task.name, "model": spec.label, "seed": seed, "note": note,
                                    "n_tracks": len(inputs)})
                        per_seed.append(row)
                done += 1
                report_progress(done, total, f"{task.name}: {spec.label} seed {seed}")
        if len(per_seed) == rows_before:
            skipped_rows.append({"task": task.name, "model": "-", "clustering": "-", "params": "-",
                                 "note": f"no clustering could run on {len(inputs)} tracks with k = {task_ks}"})
    frames = [_aggregate(per_seed, label_columns)] if per_seed else []
    if skipped_rows:
        frames.append(pd.DataFrame(skipped_rows))
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(ID_COLUMNS) + ["note"])
    order = {task.name: i for i, task in enumerate(chosen)}
    df = df.iloc[np.argsort(df["task"].map(order).to_numpy(), kind="stable")].reset_index(drop=True)
    df = df[_column_order(df.columns, label_columns)]
    df.attrs["skipped"] = [str(s) for s in skipped_tracks]
    df.attrs["label_columns"] = label_columns
    report_progress(total, total, "done")
    return df


def beta_sweep(
    corpus,
    *,
    betas: Sequence[float] = BETAS,
    seeds: int = 1,
    epochs_scale: float = 1.0,
    ks: Sequence[int] | None = None,
    label_columns: Sequence[str] | None = None,
    progress: Progress | None = None,
    stop=None,
) -> pd.DataFrame:
    """The ConvVAE/Beta-VAE network trained with each β of ``betas``, K-Means on its latent means.

    One row per (β, k): the metrics (mean and ``_std`` over seeds) plus ``kl`` (total KL
    per track on validation data) and ``active_dims`` (latent dimensions whose mean KL
    exceeds 0.01 nats: larger β switches dimensions off). Without audio the result is
    one row whose ``note`` gives the reason. ``stop``: as in :func:`evaluate`.
    """
    spec, note = _adapt(ModelSpec("Beta-VAE", "beta", {"modality": "both"}), corpus)
    task = Task("beta_sweep", "β sweep", (spec,), ("kmeans",))
    why = task_support(corpus, task)
    if why is not None:
        return pd.DataFrame([{"beta": np.nan, "note": f"skipped: {why}"}])
    label_columns = list(corpus.label_columns() if label_columns is None else label_columns)
    report_progress = progress or null_progress
    inputs, skipped = build_inputs(corpus, needs=_needs(spec))
    truth = label_table(corpus, label_columns, track_ids=inputs.track_ids)
    task_ks = list(ks) if ks else _default_ks(truth)
    total, done = len(betas) * seeds, 0
    rows = []
    for beta in betas:
        for seed in range(seeds):
            report_progress(done, total, f"β={beta} seed {seed}")
            Z, model = _latents(spec, inputs, seed=seed, epochs_scale=epochs_scale, extra={"beta": float(beta)},
                                stop=stop)
            kl = np.asarray(model.kl_per_dim_ if model.kl_per_dim_ is not None else [np.nan], dtype=float)
            for row in _score(Z, "kmeans", task_ks, truth, seed=seed):
                row.update({"task": "beta_sweep", "model": f"β={beta:g}", "seed": seed, "note": note,
                            "n_tracks": len(inputs), "beta": float(beta), "kl": float(np.nansum(kl)),
                            "recon": _final_recon(model), "active_dims": float((kl > 0.01).sum())})
                rows.append(row)
            done += 1
    report_progress(total, total, "done")
    df = _aggregate(rows, label_columns)
    df = df.drop(columns=["beta_std"], errors="ignore")
    first = ["beta", "params", "recon", "recon_std", "kl", "kl_std", "active_dims", "active_dims_std"]
    df = df[[c for c in first if c in df.columns] + [c for c in df.columns if c not in first]]
    df.attrs["label_columns"] = label_columns
    df.attrs["skipped"] = [str(s) for s in skipped]
    return df


def _final_recon(model) -> float:
    """Validation reconstruction loss of the epoch whose weights were kept (NaN without a history)."""
    history = getattr(model, "history_", None) or []
    kept = [h for h in history if h.get("best")] or history
    value = kept[-1].get("val_recon", kept[-1].get("recon")) if kept else None
    return float("nan") if value is None else float(value)

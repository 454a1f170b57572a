"""The study's results table, on any corpus: three tasks, several seeds, every metric.

============  =====================================================  =================
task          models (all fitted without labels)                     clustering
============  =====================================================  =================
easy          Basic VAE vs PCA, on the 57-value features             K-Means
medium        ConvVAE vs PCA, on log-mel spectrograms + lyrics       every method of
                                                                     core.clustering
hard          Beta-VAE vs PCA, the autoencoder and the raw            K-Means
              spectral summary (mel + lyrics where the model takes
              them)
beyond        the tuned Basic VAE (see RESULTS.md) vs PCA, the raw    K-Means and GMM
              features and UMAP(10 dims), on the 57-value features
============  =====================================================  =================

Labels are **never** used to fit a model or a clustering: every model is fitted
on the whole corpus without them, and the label columns (genre, language, any
other metadata) only enter the external metrics afterwards.

For each task the tracks are loaded once (:func:`core.latents.build_inputs`
with every input the task's models need), so all models of a task see the same
tracks. Each seed refits the models (``seed`` / ``random_state``) and reruns the
clusterings (``random_state``); the table holds the mean over seeds of every
metric, and ``<metric>_std`` its standard deviation.

K-Means, Agglomerative and GMM run with each ``k`` of ``ks`` (default: the
number of languages and the number of genres, the two structures the study
looks for). DBSCAN takes ``eps`` at the knee of the k-distance curve
(:func:`core.clustering.suggest_eps`, ``min_samples = 5``) of each seed's
latents; HDBSCAN its defaults. Noise handling follows :mod:`core.metrics`.

A task the corpus cannot support (no audio, so no spectrograms, for a feature
table) gives one row whose ``note`` says why, and no metrics.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from core.clustering import cluster, suggest_eps
from core.metrics import EXTERNAL, INTERNAL, report
from core.progress import Progress

__all__ = ["ModelSpec", "Task", "TASKS", "DEFAULT_TASKS", "BETAS", "BEST_BASIC", "evaluate", "beta_sweep",
           "to_markdown", "task_support"]


@dataclass(frozen=True)
class ModelSpec:
    """One model of a task: a display label, a registry name and its config overrides."""

    label: str
    model: str
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    models: tuple[ModelSpec, ...]
    clusterings: tuple[str, ...]


#: The Basic VAE configuration we found best on the study's table (RESULTS.md, "Beyond the study").
BEST_BASIC: dict[str, Any] = {"latent_dim": 16, "hidden": (32, 16), "epochs": 120, "beta": 1.0}

#: Not a registry model: StandardScaler -> UMAP(n_components=10) on the features (a baseline only).
UMAP_BASELINE = "umap10"

_MEL_BOTH = {"inputs": "mel", "modality": "both"}

TASKS: dict[str, Task] = {
    "easy": Task(
        "easy", "Easy: Basic VAE vs PCA on the 57-value features, K-Means",
        (ModelSpec("Basic VAE", "basic"), ModelSpec("PCA", "pca", {"inputs": "features"})),
        ("kmeans",),
    ),
    "medium": Task(
        "medium", "Medium: ConvVAE vs PCA on spectrograms + lyrics, every clustering method",
        (ModelSpec("ConvVAE", "conv", {"modality": "both"}), ModelSpec("PCA", "pca", _MEL_BOTH)),
        ("kmeans", "agglomerative", "gmm", "dbscan", "hdbscan"),
    ),
    "hard": Task(
        "hard", "Hard: Beta-VAE vs PCA, autoencoder and raw spectral features, K-Means",
        (
            ModelSpec("Beta-VAE", "beta", {"modality": "both"}),
            ModelSpec("PCA", "pca", _MEL_BOTH),
            ModelSpec("Autoencoder", "ae", _MEL_BOTH),
            ModelSpec("Raw spectral", "raw", {"inputs": "mel"}),
        ),
        ("kmeans",),
    ),
    "beyond": Task(
        "beyond", "Beyond the study: tuned Basic VAE vs PCA, raw features and UMAP(10) on the features",
        (
            ModelSpec("Basic VAE (tuned)", "basic", BEST_BASIC),
            ModelSpec("PCA", "pca", {"inputs": "features"}),
            ModelSpec("Raw features", "raw", {"inputs": "features"}),
            ModelSpec("UMAP(10)", UMAP_BASELINE),
        ),
        ("kmeans", "gmm"),
    ),
}
#: Tasks run by default (the study's three).
DEFAULT_TASKS = ("easy", "medium", "hard")
#: The β values of :func:`beta_sweep`.
BETAS = (0.5, 1.0, 2.0, 4.0, 8.0)
#: DBSCAN's min_samples in the tables; eps is taken at the k-distance knee with k = min_samples - 1.
DBSCAN_MIN_SAMPLES = 5

ID_COLUMNS = ("task", "model", "clustering", "params")


# --------------------------------------------------------------------------- helpers
def _needs(spec: ModelSpec) -> set[str]:
    if spec.model == UMAP_BASELINE:
        return {"features"}
    from core.models import create

    return set(create(spec.model, **spec.config).needs)


def task_support(corpus, task: Task) -> str | None:
    """Why ``corpus`` cannot run ``task`` (None when it can)."""
    needs = set().union(*(_needs(m) for m in task.models))
    if "mel" in needs and not corpus.has_audio:
        return "the corpus has no audio, so no spectrograms (a feature table holds only the 57 values)"
    if "features" in needs and corpus.features57 is None and not corpus.has_audio:
        return "the corpus has neither audio nor precomputed features"
    return None


def _adapt(spec: ModelSpec, corpus) -> tuple[ModelSpec, str]:
    """Drop the lyrics branch when the corpus has no lyrics at all (noted in the row)."""
    if spec.config.get("modality") == "both" and not corpus.has_lyrics:
        return dataclasses.replace(spec, config={**spec.config, "modality": "audio"}), "no lyrics: audio only"
    return spec, ""


def _build_model(spec: ModelSpec, *, seed: int, epochs_scale: float, extra: dict | None = None):
    from core.models import create

    config = {**spec.config, **(extra or {})}
    model = create(spec.model, random_state=seed, **config)
    if model.training is None:
        return model
    return create(spec.model, random_state=seed, **config, epochs=max(1, int(round(model.epochs * epochs_scale))))


def _umap_latents(X: np.ndarray, *, seed: int, n_components: int = 10) -> np.ndarray:
    """StandardScaler -> UMAP(n_components) with default UMAP settings (the beyond-the-study baseline)."""
    import warnings

    from sklearn.preprocessing import StandardScaler

    from core.projections import _numba_cache

    _numba_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import umap

        Xs = StandardScaler().fit_transform(np.asarray(X, dtype=np.float64))
        return umap.UMAP(n_components=n_components, random_state=seed).fit_transform(Xs)


def _latents(spec: ModelSpec, inputs, *, seed: int, epochs_scale: float, extra: dict | None = None):
    """Fit the model of ``spec`` on ``inputs`` (no labels) and return (Z (n, d), fitted model or None)."""
    if spec.model == UMAP_BASELINE:
        return _umap_latents(inputs.features, seed=seed), None
    model = _build_model(spec, seed=seed, epochs_scale=epochs_scale, extra=extra)
    model.fit(inputs)
    return np.asarray(model.encode(inputs), dtype=np.float64), model


def _clusterings(name: str, ks: Sequence[int]) -> list[tuple[str, dict]]:
    """(params label, cluster kwargs) of one method in the tables."""
    if name in ("kmeans", "agglomerative"):
        return [(f"k={k}", {"n_clusters": k}) for k in ks]
    if name == "gmm":
        return [(f"k={k}", {"n_components": k}) for k in ks]
    if name == "dbscan":
        return [(f"eps=knee, min_samples={DBSCAN_MIN_SAMPLES}", {"min_samples": DBSCAN_MIN_SAMPLES})]
    return [("defaults", {})]


def _default_ks(truth: pd.DataFrame) -> list[int]:
    ks = []
    for col in ("language", "genre"):
        if col in truth.columns:
            n = int(truth[col].astype(str).replace("", np.nan).nunique())
            if n >= 2:
                ks.append(n)
    return sorted(set(ks)) or [2]


def _score(Z, labels_spec, truth, label_columns, seed, ks) -> list[dict]:
    """Cluster Z with one method's settings and score it: one dict per setting."""
    name, settings = labels_spec
    rows = []
    for params_label, kwargs in settings:
        kwargs = dict(kwargs)
        if name == "dbscan":
            kwargs["eps"] = max(suggest_eps(Z, k=DBSCAN_MIN_SAMPLES - 1), 1e-3)
        if any(kwargs.get(k, 0) > len(Z) for k in ("n_clusters", "n_components")):
            continue
        res = cluster(name, Z, random_state=seed, **kwargs)
        row = report(Z, res.labels, truth, label_columns=label_columns, random_state=seed)
        row.update({"clustering": name, "params": params_label})
        if name == "dbscan":
            row["eps"] = float(kwargs["eps"])
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
    metrics = list(INTERNAL) + ["noise_fraction", "n_clusters"]
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


# --------------------------------------------------------------------------- evaluate
def evaluate(
    corpus,
    *,
    seeds: int = 1,
    tasks: Sequence[str | Task] = DEFAULT_TASKS,
    epochs_scale: float = 1.0,
    ks: Sequence[int] | None = None,
    label_columns: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Run ``tasks`` of :data:`TASKS` on ``corpus``; one row per (task, model, clustering, params).

    corpus : :class:`core.corpus.Corpus`.
    seeds : number of seeds (0..seeds-1) each model and clustering is run with.
    tasks : names in :data:`TASKS`, or :class:`Task` objects (any models and clusterings,
        e.g. a sweep over Basic VAE configurations).
    epochs_scale : multiplies every torch model's epochs (e.g. 0.05 for a smoke test).
    ks : cluster counts for K-Means/Agglomerative/GMM (default: #languages and #genres).
    label_columns : truth columns of the external metrics (default: ``corpus.label_columns()``).

    Returns a DataFrame: ``task, model, clustering, params``, every metric as its
    mean over seeds and ``<metric>_std``, ``seeds``, ``n_tracks`` and ``note``
    (skip reasons, undefined metrics, adaptations). ``df.attrs["skipped"]`` lists
    tracks the feature extraction left out.
    """
    from core.inputs import build_inputs

    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    unknown = [t for t in tasks if not isinstance(t, Task) and t not in TASKS]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; choose from {list(TASKS)}")
    label_columns = list(corpus.label_columns() if label_columns is None else label_columns)
    report_progress = progress or (lambda done, total, message="": None)
    chosen = [t if isinstance(t, Task) else TASKS[t] for t in tasks]
    plan = [(task, task_support(corpus, task)) for task in chosen]
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
        truth = corpus.tracks.set_index("track_id").loc[inputs.track_ids, label_columns].reset_index(drop=True)
        task_ks = list(ks) if ks else _default_ks(truth)
        for spec, note in specs:
            for seed in range(seeds):
                report_progress(done, total, f"{task.name}: {spec.label} seed {seed}")
                Z, _ = _latents(spec, inputs, seed=seed, epochs_scale=epochs_scale)
                for method in task.clusterings:
                    for row in _score(Z, (method, _clusterings(method, task_ks)), truth, label_columns, seed,
                                      task_ks):
                        row.update({"task": task.name, "model": spec.label, "seed": seed, "note": note,
                                    "n_tracks": len(inputs)})
                        per_seed.append(row)
                done += 1
                report_progress(done, total, f"{task.name}: {spec.label} seed {seed}")
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
) -> pd.DataFrame:
    """The ConvVAE/Beta-VAE network trained with each β of ``betas``, K-Means on its latent means.

    One row per (β, k): the metrics (mean and ``_std`` over seeds) plus ``kl`` (total KL
    per track on validation data) and ``active_dims`` (latent dimensions whose mean KL
    exceeds 0.01 nats: larger β switches dimensions off). Without audio the result is
    one row whose ``note`` gives the reason.
    """
    from core.inputs import build_inputs

    spec, note = _adapt(ModelSpec("Beta-VAE", "beta", {"modality": "both"}), corpus)
    task = Task("beta_sweep", "β sweep", (spec,), ("kmeans",))
    why = task_support(corpus, task)
    if why is not None:
        return pd.DataFrame([{"beta": np.nan, "note": f"skipped: {why}"}])
    label_columns = list(corpus.label_columns() if label_columns is None else label_columns)
    report_progress = progress or (lambda done, total, message="": None)
    inputs, skipped = build_inputs(corpus, needs=_needs(spec))
    truth = corpus.tracks.set_index("track_id").loc[inputs.track_ids, label_columns].reset_index(drop=True)
    task_ks = list(ks) if ks else _default_ks(truth)
    total, done = len(betas) * seeds, 0
    rows = []
    for beta in betas:
        for seed in range(seeds):
            report_progress(done, total, f"β={beta} seed {seed}")
            Z, model = _latents(spec, inputs, seed=seed, epochs_scale=epochs_scale, extra={"beta": float(beta)})
            kl = np.asarray(model.kl_per_dim_ if model.kl_per_dim_ is not None else [np.nan], dtype=float)
            for row in _score(Z, ("kmeans", _clusterings("kmeans", task_ks)), truth, label_columns, seed, task_ks):
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


# --------------------------------------------------------------------------- markdown
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
              "Cells are mean ± std over seeds.", ""]
    if corpus_name:
        lines += [f"Corpus: {corpus_name}.", ""]
    metric_cols = ["silhouette", "calinski_harabasz", "davies_bouldin", "noise_fraction", "n_clusters"]
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

"""The study's tasks: which models each one fits and which clusterings it scores them with.

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

Labels are **never** used to fit a model or a clustering (see :mod:`core.evaluate.run`).
This module only declares the tasks; it imports nothing heavy, so the CLI can list them
in its ``--help`` without loading torch or pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

__all__ = ["ModelSpec", "Task", "TASKS", "DEFAULT_TASKS", "BETAS", "BEST_BASIC", "UMAP_BASELINE",
           "DBSCAN_MIN_SAMPLES", "clusterings"]


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
    #: The task compares modalities: a corpus without lyrics skips it (with the reason).
    requires_lyrics: bool = False


#: The Basic VAE configuration we found best on the study's table (RESULTS.md, "Beyond the study").
BEST_BASIC: dict[str, Any] = {"latent_dim": 16, "hidden": (32, 16), "epochs": 120, "beta": 1.0}

#: Not a registry model: StandardScaler -> UMAP(n_components=10) on the features (a baseline only).
UMAP_BASELINE = "umap10"

_MEL_BOTH = {"inputs": "mel", "modality": "both"}
#: The fusion task's PCA rows keep as many components as the ConvVAE's latent (8), not the study's 2,
#: so the lyrics have room beside the mel (set from the ConvVAE's size, not from labels).
_FUSION_PCA_DIM = 8

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
    "fusion": Task(
        "fusion", "Fusion: lyrics alone, audio alone and both (TF-IDF, PCA plain and balanced, ConvVAE), K-Means",
        (
            ModelSpec("TF-IDF lyrics", "tfidf"),
            ModelSpec("PCA mel", "pca", {"inputs": "mel", "modality": "audio", "latent_dim": _FUSION_PCA_DIM}),
            ModelSpec("PCA mel+lyrics", "pca", {**_MEL_BOTH, "latent_dim": _FUSION_PCA_DIM}),
            ModelSpec("PCA mel+lyrics balanced", "pca_balanced", {"latent_dim": _FUSION_PCA_DIM}),
            ModelSpec("ConvVAE audio only", "conv", {"modality": "audio"}),
            ModelSpec("ConvVAE lyrics only", "conv", {"modality": "lyrics"}),
            ModelSpec("ConvVAE fused", "conv", {"modality": "both"}),
        ),
        ("kmeans",),
        requires_lyrics=True,
    ),
}
#: Tasks run by default (the study's three).
DEFAULT_TASKS = ("easy", "medium", "hard")
#: The β values of :func:`beta_sweep`.
BETAS = (0.5, 1.0, 2.0, 4.0, 8.0)
#: DBSCAN's min_samples in the tables; eps is taken at the k-distance knee with k = min_samples - 1.
DBSCAN_MIN_SAMPLES = 5


def clusterings(name: str, ks: Sequence[int]) -> list[tuple[str, dict]]:
    """``(params label, cluster params)`` of method ``name`` in the tables: one per k, or one setting.

    DBSCAN's eps is left out: the run takes it at the knee of each seed's k-distance curve.
    """
    if name in ("kmeans", "agglomerative"):
        return [(f"k={k}", {"n_clusters": k}) for k in ks]
    if name == "gmm":
        return [(f"k={k}", {"n_components": k}) for k in ks]
    if name == "dbscan":
        return [(f"eps=knee, min_samples={DBSCAN_MIN_SAMPLES}", {"min_samples": DBSCAN_MIN_SAMPLES})]
    return [("defaults", {})]

"""Every setting a person can choose, declared once: its type, its range, its default where it has one,
the step and bounds of its widget, and its help text.

:data:`SPECS` maps a setting's name (the name a model config, a clusterer or a projection takes it by) to
its :class:`Spec`. What reads it:

* the command line: each argument's type, range check, choices and help (:func:`core.cli.setting`);
* :mod:`core.checkpoint`: the settings stored in a checkpoint (:func:`check_settings`);
* ``core.models.create``: the settings it is given (:func:`check_settings`);
* the clusterers and projections: each method says which settings it exposes
  (:data:`core.clustering.CLUSTERERS`, :data:`core.projections.PROJECTION_PARAMS`) and checks them with these;
* the dashboard's widgets: the Train form and the Clusters page take their bounds, steps and help from here.

A range is ``low`` to ``high`` (``None``: an open end), each end inclusive or not. A widget may offer less
than the whole range where a box or slider over all of it would be unusable (``widget_min`` /
``widget_max``, e.g. up to 50 clusters on the Clusters page, 10,000 through the command line): the narrower
bounds are declared here too, beside the range they narrow. ``default`` is None where each model or method
has its own (a model's epochs: its config dataclass; K-Means' restarts: the clusterer registry).

This module imports nothing of the project (it sits under everything) and only the standard library, so
that the command line's ``--help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Spec", "SPECS", "describe", "check", "check_settings"]


@dataclass(frozen=True)
class Spec:
    """One setting: ``type`` is ``int``, ``float`` or ``str`` (a choice among ``choices``)."""

    name: str
    type: type = float
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    choices: tuple = ()
    default: Any = None
    step: float | None = None
    help: str = ""
    #: How a form or a table names it (default: ``name``).
    label: str = ""
    #: Bounds of a widget where it offers less than the whole range (None: the range's own end).
    widget_min: float | None = None
    widget_max: float | None = None
    #: printf-style format of a number widget (None: the widget's own).
    format: str | None = None

    # ------------------------------------------------------------------ reading
    @property
    def kind(self) -> str:
        """``"choice"``, ``"int"`` or ``"float"``."""
        if self.choices:
            return "choice"
        return "int" if self.type is int else "float"

    @property
    def title(self) -> str:
        return self.label or self.name

    @property
    def widget_range(self) -> tuple[float | None, float | None]:
        """``(lowest, highest)`` value a widget offers: the widget's bounds, else the range's ends."""
        return (self.low if self.widget_min is None else self.widget_min,
                self.high if self.widget_max is None else self.widget_max)

    def describe(self) -> str:
        """The range in words, e.g. ``"a whole number from 1 to 100000"``."""
        if self.kind == "choice":
            return f"one of {list(self.choices)}"
        is_int = self.type is int
        what = "a whole number" if is_int else "a number"
        low = None if self.low is None else (int(self.low) if is_int else f"{self.low:g}")
        high = None if self.high is None else (int(self.high) if is_int else f"{self.high:g}")
        low_in, high_in = self.low_inclusive, self.high_inclusive
        if low is not None and high is not None:
            if low_in and high_in:
                return f"{what} from {low} to {high}"
            return f"{what} {'≥' if low_in else '>'} {low} and {'≤' if high_in else '<'} {high}"
        if low is not None:
            return f"{what} {'≥' if low_in else '>'} {low}"
        return f"{what} {'≤' if high_in else '<'} {high}" if high is not None else what

    # ---------------------------------------------------------------- checking
    def check(self, value: Any, *, parameter: bool = False) -> Any:
        """``value`` converted to this setting's type; ValueError when it is not a finite number of that type
        inside the range (or not one of the choices).

        The message names the setting: ``"epochs must be a whole number from 1 to 100000, got 0"``; with
        ``parameter=True`` it quotes the argument as written in a call, ``"parameter eps=-3 must be a number
        from 0.001 to 20"`` (the clusterers' and projections' keyword arguments)."""
        problem = (f"parameter {self.name}={value!r} must be {self.describe()}" if parameter
                   else f"{self.name} must be {self.describe()}, got {value!r}")
        if self.kind == "choice":
            if value not in self.choices:
                raise ValueError(problem)
            return value
        if isinstance(value, bool):
            raise ValueError(problem)
        try:
            if self.type is int:
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(problem)
                number: int | float = int(value) if not isinstance(value, str) else int(value.strip())
            else:
                number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(problem) from None
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(problem)
        if self.low is not None and (number < self.low or (number == self.low and not self.low_inclusive)):
            raise ValueError(problem)
        if self.high is not None and (number > self.high or (number == self.high and not self.high_inclusive)):
            raise ValueError(problem)
        return number

    def clip(self, value: float, *, widget: bool = False) -> float:
        """A number moved into the range, or with ``widget=True`` into :attr:`widget_range` (a start derived
        from data, e.g. DBSCAN's suggested eps, or a value a widget must be able to show)."""
        low, high = self.widget_range if widget else (self.low, self.high)
        return float(min(max(value, -math.inf if low is None else low), math.inf if high is None else high))

    def with_default(self, default: Any) -> "Spec":
        """The same setting with another default: a method whose own default differs (K-Means restarts 10
        times, the Gaussian mixture 3). Its type, range and help stay this declaration's."""
        return dataclasses.replace(self, default=self.check(default))


# ------------------------------------------------------------------------- the table
_NUMBER_OF_CLUSTERS = dict(type=int, low=2, high=10_000, default=2, step=1,
                           widget_max=50)  # a box of up to 50 on the Clusters page; more through the command line
_DISTANCES = ("euclidean", "manhattan", "cosine")

_SPECS = (
    # ---- which model (the registry core.models.MODELS; a test checks that the two agree)
    Spec("model", str, choices=("ae", "basic", "beta", "conv", "pca", "pca_balanced", "raw", "tfidf"),
         help="basic: dense VAE on the 57 features; conv: ConvVAE on log-mel + lyrics; beta: conv with beta=4; "
              "ae / pca / raw: baselines (see --inputs); tfidf: lyrics TF-IDF alone; pca_balanced: PCA on "
              "mel + lyrics, blocks at equal variance"),
    # ---- model configs (core.models.configs): the defaults are each model's own
    Spec("latent_dim", int, 1, 4096, widget_min=2, widget_max=128, label="latent size",
         help="size of the latent space"),
    Spec("hidden", int, 1, 65_536, help="widths of the dense hidden layers (each)"),
    Spec("width", int, 1, 4096, step=8, widget_min=8, widget_max=512, label="width (channels)",
         help="channels of every 1-D convolution (conv/beta, and ae on mel; divisible by 8)"),
    Spec("channels", int, 1, 4096, help="channels of the convolution layers"),
    Spec("crop_frames", int, 8, 100_000, help="log-mel frames of each random crop"),
    Spec("eval_hop", int, 1, 100_000, help="frames between the crops whose posteriors encode a track"),
    Spec("temporal_dim", int, 0, 64, label="temporal latent channels",
         help="conv/beta: channels of the temporal latent, a sequence that carries when things happen in a crop, "
              "so that reconstructions keep the rhythm (0 = none; default 4)"),
    Spec("temporal_hop", int, 1, 8, label="temporal latent hop (frames)",
         help="conv/beta: frames per step of the temporal latent (1, 2, 4 or 8)"),
    Spec("crop_sigma", int, 0, 1, label="σ per crop",
         help="conv/beta: 1 = the decoder also gives each crop its own σ per mel band, so the latents say how much "
              "each band moves within a crop; 0 = one σ per band for every crop (the earlier design)"),
    Spec("cepstral_also", int, 0, 128, label="cepstral coefficients also scored",
         help="conv/beta: the reconstruction is also scored on its first N cepstral coefficients per frame (the "
              "shape of the spectrum, as MFCCs describe it), each standardised, at most one per mel band; 0 = the "
              "mel bands alone (the earlier design)"),
    Spec("percussive_also", int, 0, 32, label="percussive band groups predicted",
         help="conv/beta: the static latents also predict how much of the power of each of N groups of adjacent mel "
              "bands is percussive (a harmonic/percussive split of the crop by box filters); 0 = none"),
    Spec("modality", str, choices=("both", "audio", "lyrics"),
         help="conv/beta (and ae/pca on mel): which inputs feed the latent space"),
    Spec("inputs", str, choices=("features", "mel"), help="ae / pca / raw: 57 features or log-mel"),
    Spec("lyrics_latent_dim", int, 0, 4096, help="size of the lyrics block of the latent space"),
    Spec("lyrics_features", int, 1, 1_000_000, help="words in the lyrics TF-IDF vocabulary"),
    Spec("lyrics_min_df", int, 1, 1_000_000, help="tracks a word must appear in to enter the vocabulary"),
    Spec("lyrics_hidden", int, 1, 65_536, help="width of the lyrics encoder and decoder"),
    Spec("lyrics_weight", float, 0.0, 1e6, help="weight of the lyrics reconstruction against the audio's"),
    # ---- training configs
    Spec("epochs", int, 1, 100_000, widget_max=1000, label="epochs", help="total number of epochs"),
    Spec("batch_size", int, 1, 1_000_000, widget_min=4, widget_max=1024, label="batch size",
         help="mini-batch size"),
    Spec("lr", float, 0.0, 10.0, low_inclusive=False, widget_min=1e-5, widget_max=1e-1, format="%.5f",
         label="learning rate", help="Adam learning rate"),
    Spec("val_fraction", float, 0.0, 0.9, help="fraction of tracks held out for validation"),
    Spec("patience", int, 1, 100_000, help="early stopping after this many epochs without improvement"),
    Spec("steps_per_epoch", int, 1, 10_000_000, widget_max=10_000, label="steps per epoch",
         help="optimisation steps per epoch, each on new random rows (conv/beta: random crops)"),
    Spec("weight_decay", float, 0.0, 10.0, help="AdamW weight decay"),
    Spec("lr_warmup_steps", int, 0, 10_000_000, help="the learning rate grows linearly over this many steps"),
    Spec("clip_norm", float, 0.0, 1e6, low_inclusive=False, help="the gradient norm is clipped to this"),
    Spec("refine_epochs", int, 0, 100_000, widget_max=1000, label="refinement epochs",
         help="conv/beta with a temporal latent: epochs after the main ones in which only the temporal latent and "
              "the audio decoder learn, the encoders frozen (at most a third of --epochs; 0 = the temporal latent "
              "trains from the first step with everything else)"),
    # ---- the β-VAE loss (core.models.losses.LossSettings)
    Spec("beta", float, 0.0, 1e6, step=0.5, widget_max=64.0, label="β (KL weight)",
         help="weight of the KL term (VAEs)"),
    Spec("warmup_epochs", int, 0, 100_000, help="KL warm-up: beta grows linearly over this many epochs"),
    Spec("warmup_steps", int, 0, 10_000_000,
         help="KL warm-up: beta grows linearly over this many steps (at most a third of the run)"),
    Spec("free_bits", float, 0.0, 1e3, step=0.05, widget_max=10.0, format="%.2f", label="free bits (nats / dim)",
         help="each latent dimension's KL counts at least this many nats"),
    Spec("capacity", float, 0.0, 1e6, help="capacity schedule: target KL in nats (Burgess et al.)"),
    Spec("capacity_epochs", int, 0, 100_000, help="epochs over which the capacity grows to --capacity"),
    # ---- every estimator
    Spec("random_state", int, 0, 2**32 - 1, default=0, widget_max=10_000, label="seed",
         help="random seed (split, shuffling, initialisation): the same seed gives the same result"),
    # ---- monitoring a training run, evaluating, the command line's own
    Spec("metrics_every", int, 0, 100_000, default=0,
         help="cluster the validation latents every k epochs and record internal metrics (0 = never)"),
    Spec("seeds", int, 1, 1000, default=1, help="seeds per model and clustering"),
    Spec("epochs_scale", float, 0.0, 100.0, low_inclusive=False, default=1.0,
         help="multiply every torch model's epochs (e.g. 0.05 for a quick check)"),
    Spec("jobs", int, 1, 1024, help="worker processes (default: one per core)"),
    Spec("workers", int, 1, 1024, help="worker processes; None means one per core (at most 8)"),
    Spec("tracks", int, 1, 1_000_000, help="number of tracks, dealt round robin over the demo's genre/language classes"),
    Spec("seconds", float, 0.0, 3600.0, low_inclusive=False, help="length of each track in seconds"),
    # ---- clusterers (core.clustering.CLUSTERERS says which method exposes which)
    Spec("n_clusters", **_NUMBER_OF_CLUSTERS, help="number of clusters k"),
    Spec("n_components", **_NUMBER_OF_CLUSTERS, help="number of mixture components (clusters) k"),
    Spec("n_init", int, 1, 50, step=1, help="restarts; the best (inertia, or likelihood) is kept"),
    Spec("max_iter", int, 10, 2000, step=10, help="iterations per restart (EM iterations for the mixture)"),
    Spec("init", str, choices=("k-means++", "random"), default="k-means++", help="initial centres"),
    Spec("eps", float, 0.001, 20.0, default=0.5, step=0.001, help="neighbourhood radius (see suggest_eps)"),
    Spec("min_samples", int, 1, 200, default=5, step=1, widget_min=2, widget_max=50,
         help="points within the radius (itself included) that make a core point: density smoothing, "
              "larger = more noise"),
    Spec("metric", str, choices=_DISTANCES, default="euclidean", help="distance between latent vectors (Agglomerative's ward linkage needs euclidean)"),
    Spec("linkage", str, choices=("ward", "complete", "average", "single"), default="ward",
         help="merge criterion"),
    Spec("min_cluster_size", int, 2, 1000, default=15, step=1, help="smallest group that counts as a cluster"),
    Spec("cluster_selection_epsilon", float, 0.0, 20.0, default=0.0, step=0.01,
         help="merge clusters closer than this"),
    Spec("cluster_selection_method", str, choices=("eom", "leaf"), default="eom",
         help="excess of mass or leaves"),
    Spec("covariance_type", str, choices=("full", "tied", "diag", "spherical"), default="full",
         help="covariance shape"),
    # ---- projections (core.projections.PROJECTION_PARAMS says which method exposes which)
    Spec("perplexity", float, 2.0, 100.0, default=30.0, step=1.0, help="effective number of neighbours"),
    Spec("n_iter", int, 50, 2000, default=375, step=25, help="iterations after early exaggeration"),
    Spec("early_exaggeration_iter", int, 0, 1000, default=125, step=25, help="early-exaggeration iterations"),
    Spec("exaggeration", float, 1.0, 4.0, default=1.0, step=0.1,
         help="exaggeration of the main phase (>1 = tighter clusters)"),
    Spec("theta", float, 0.1, 1.5, default=0.8, step=0.1, help="Barnes-Hut accuracy: smaller = exacter and slower"),
    Spec("n_neighbors", int, 2, 200, default=15, step=1, help="local neighbourhood size"),
    Spec("min_dist", float, 0.0, 0.99, default=0.1, step=0.01, help="how tightly points may pack"),
    Spec("n_epochs", int, 10, 1000, default=200, step=10, help="layout optimisation epochs"),
    Spec("layout_sample", int, 100, 10_000_000, default=20_000, step=1000, widget_min=1000, widget_max=100_000,
         label="layout sample",
         help="t-SNE and UMAP lay out at most this many points, a seeded uniform sample; each other point is "
              "placed at the inverse-square-distance weighted mean of the layout positions of its 5 nearest "
              "sampled points (core.projections.place)"),
)

#: Every setting by name.
SPECS: dict[str, Spec] = {s.name: s for s in _SPECS}


# ------------------------------------------------------------------------- by name
def describe(name: str) -> str:
    """The range of setting ``name`` in words, e.g. ``"a whole number from 1 to 100000"``."""
    return SPECS[name].describe()


def check(name: str, value: Any) -> Any:
    """``value`` converted to setting ``name``'s type; ValueError (naming ``name`` and its range) when it is not
    a finite number of that type inside the range. Unknown names pass through unchanged."""
    if name not in SPECS:
        return value
    return SPECS[name].check(value)


def check_settings(values: dict) -> None:
    """Check every known numeric setting in ``values`` (tuples such as ``hidden``: each element); None means
    "the default" and passes. ValueError names the first bad one.

    Choices (a modality, a distance) are left to where they are used: argparse offers only the choices, and a
    model's ``validate`` refuses another when it is fitted (an estimator stores what it is given)."""
    for name, value in values.items():
        if value is None or name not in SPECS or SPECS[name].kind == "choice":
            continue
        if isinstance(value, (list, tuple)):
            if not value:
                raise ValueError(f"{name} must not be empty")
            for v in value:
                check(name, v)
        else:
            check(name, value)

"""Where the dashboard finds and keeps things: the corpus in use and the checkpoints.

A *corpus spec* is a tuple of source specs (``("demo",)`` by default; see
``core.corpus.sources.load_source`` for the syntax). Checkpoints come from two
places: the ready-made ones shipped in ``checkpoints/`` and those saved from the
dashboard in ``data/runs/``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from core import config
from core.corpus import Corpus
from core.errors import BadInputError

#: The corpus the dashboard opens with: the demo corpus, unless SONGSCAPE_CORPUS names
#: sources (separated by ";"), e.g. ``SONGSCAPE_CORPUS="gtzan:/data/GTZAN@eng;banglabeats:/data/BB@bng"``.
DEFAULT_SPECS: tuple[str, ...] = tuple(
    s.strip() for s in os.environ.get("SONGSCAPE_CORPUS", "demo").split(";") if s.strip()
) or ("demo",)
#: Shipped checkpoint the dashboard opens with: the ConvVAE can be listened to.
DEFAULT_CHECKPOINT = "conv.pt"


def load_corpus(specs: tuple[str, ...] = DEFAULT_SPECS, *, progress=None) -> Corpus:
    """Load (or, for ``demo``, generate on first use) the corpus described by ``specs``."""
    specs = tuple(s.strip() for s in specs if s and s.strip())
    if not specs:
        raise BadInputError(None, "no data source given")
    if specs == ("demo",):
        from core.corpus.demo import ensure_demo

        return ensure_demo(config.DEMO_DIR, progress=progress)
    from core.corpus.sources import load_sources

    return load_sources(list(specs))


@dataclass(frozen=True)
class CheckpointEntry:
    name: str
    path: Path
    shipped: bool

    @property
    def stamp(self) -> float:
        """Modification time, so caches notice a re-saved checkpoint."""
        try:
            return self.path.stat().st_mtime
        except FileNotFoundError:
            return 0.0

    @property
    def label(self) -> str:
        return f"{self.name} (ready-made)" if self.shipped else self.name


def list_checkpoints() -> list[CheckpointEntry]:
    """Shipped checkpoints first (default one on top), then the user's runs, newest first."""
    shipped = sorted(config.CHECKPOINT_DIR.glob("*.pt"), key=lambda p: (p.name != DEFAULT_CHECKPOINT, p.name))
    runs = sorted(config.RUNS_DIR.glob("*.pt"), key=lambda p: p.stat().st_mtime, reverse=True) if config.RUNS_DIR.exists() else []
    return [CheckpointEntry(p.stem, p, True) for p in shipped] + [CheckpointEntry(p.stem, p, False) for p in runs]


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def run_path(name: str) -> Path:
    """Path of a user checkpoint called ``name`` (letters, digits, ``_ . -``)."""
    name = name.strip()
    if name.endswith(".pt"):
        name = name[:-3]
    if not _NAME.match(name):
        raise BadInputError(name, "a checkpoint name uses letters, digits, '_', '.' and '-' (at most 64)")
    config.RUNS_DIR.mkdir(parents=True, exist_ok=True)
    return config.RUNS_DIR / f"{name}.pt"


def delete_checkpoint(path: str | Path) -> None:
    """Delete a user checkpoint. Shipped checkpoints are never deleted."""
    path = Path(path).resolve()
    if config.RUNS_DIR.resolve() not in path.parents:
        raise BadInputError(path, "only checkpoints saved from the dashboard (data/runs) can be deleted")
    path.unlink(missing_ok=True)


def fit_and_score(corpus: Corpus, name: str, *, config: dict, inputs=None, progress=None):
    """Train model ``name`` on ``corpus`` and score its latents; what the live β slider runs.

    Returns ``(model, track_ids, Z, report)`` where ``report`` holds the internal
    metrics and, for each label column L, ``ari_L / nmi_L / purity_L`` of K-Means
    on the latents with k = the number of classes of L (genre, language...).
    Labels are used only for scoring, never in training.
    """
    from core import metrics
    from core.clustering import cluster
    from core.inputs import build_inputs
    from core.models import create

    model = create(name, **config)
    if inputs is None:
        inputs, _ = build_inputs(corpus, needs=set(model.needs), progress=progress)
    model.fit(inputs)
    Z = model.encode(inputs)
    ids = list(inputs.track_ids)
    return model, ids, Z, score_latents(corpus, ids, Z, random_state=config.get("random_state", 0))


def score_latents(corpus: Corpus, track_ids: list[str], Z, *, random_state: int = 0) -> dict:
    """K-Means on latents with k = the number of classes of each label column, scored against it.

    Returns one flat dict: ``ari_L, nmi_L, purity_L...`` for each label column L, and the
    internal metrics (silhouette...) of the clustering with k = the number of genres.
    """
    from core import metrics
    from core.clustering import cluster

    truth = corpus.tracks.set_index("track_id").loc[track_ids].reset_index()
    report: dict = {}
    labels_to_score = corpus.label_columns()
    main = "genre" if "genre" in labels_to_score else (labels_to_score[0] if labels_to_score else None)
    for label in labels_to_score:
        k = int(truth[label].nunique())
        if k < 2:
            continue
        labels = cluster("kmeans", Z, n_clusters=k, random_state=random_state).labels
        for key, value in metrics.report(Z, labels, truth[[label]]).items():
            if key.endswith(f"_{label}") or label == main:
                report[key] = value  # internal metrics are those of K-Means with k = number of genres
    return report


def score_checkpoints(corpus: Corpus, *, progress=None):
    """Every checkpoint (shipped and yours) on ``corpus``: :func:`score_latents` of its latents.

    A checkpoint that does not fit the corpus gets a row with the reason in ``note``.
    Returns a DataFrame, one row per checkpoint.
    """
    import pandas as pd

    from core import checkpoint
    from core.latents import encode_corpus

    rows = []
    entries = list_checkpoints()
    for i, entry in enumerate(entries):
        if progress:
            progress(i, len(entries), entry.name)
        row = {"checkpoint": entry.name}
        try:
            model = checkpoint.load(entry.path)
            ids, Z = encode_corpus(model, corpus)
        except BadInputError as exc:
            rows.append(row | {"note": exc.problem})
            continue
        row |= {"model": model.name, "latent": Z.shape[1], "β": getattr(model.training, "beta", None)}
        row |= {k: v for k, v in score_latents(corpus, ids, Z).items() if k != "notes"}
        rows.append(row)
    if progress:
        progress(len(entries), len(entries), "done")
    return pd.DataFrame(rows)


def prepare(specs: tuple[str, ...] = DEFAULT_SPECS, *, methods: tuple[str, ...] = ("tsne",), progress=None) -> Corpus:
    """Make everything the dashboard shows first, so its first page opens in seconds.

    Loads (or synthesises) the corpus, extracts and caches its features, encodes it
    with every shipped checkpoint and caches the 2D projections in ``methods``.
    Everything lands in the on-disk caches the dashboard reads.
    """
    from core import checkpoint
    from core.latents import encode_corpus
    from core.projections import project

    corpus = load_corpus(specs, progress=progress)
    for entry in [e for e in list_checkpoints() if e.shipped]:
        try:
            model = checkpoint.load(entry.path)
            _, Z = encode_corpus(model, corpus, progress=progress)
        except BadInputError:
            continue  # a checkpoint that does not fit this corpus is reported by the dashboard
        for method in methods:
            project(Z, method=method, dim=2, random_state=0)
    return corpus


def model_settings(name: str, **values) -> dict:
    """The subset of ``values`` that model ``name``'s config accepts (a form offers one set of fields)."""
    from dataclasses import fields

    from core.models import MODELS

    cls = MODELS[name]
    accepted = {f.name for f in fields(cls.config_class)} | {"random_state", "device"}
    if cls.training_class is not None:
        accepted |= {f.name for f in fields(cls.training_class)}
    return {k: v for k, v in values.items() if k in accepted}

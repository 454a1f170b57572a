"""Warming the dashboard's on-disk caches before a page asks: ``prepare`` (a command) and ``warm_up`` (at start).

:func:`prepare` (``python -m core prepare``, scripts/start.sh) makes what the dashboard shows first;
:func:`warm_up` is what the dashboard prepares in a background thread when it starts. Both encode the
corpus with the shipped checkpoints (:mod:`core.shelf`) and cache the projections of their latents, in
the caches every page reads.
"""

from __future__ import annotations

from core import checkpoint
from core.corpus import Corpus
from core.errors import BadInputError
from core.latents import encode_corpus, latent_part, reader
from core.progress import null_progress
from core.projections import project
from core.projections import warm_up as warm_up_projections
from core.shelf import CheckpointEntry, shipped_checkpoints
from core.workspace import load_corpus


def warm_checkpoints(corpus: Corpus, entries: list[CheckpointEntry], *, methods: tuple[str, ...] = ("tsne",),
                     progress=None) -> None:
    """Encode ``corpus`` with each checkpoint of ``entries`` and cache the 2-D projections in ``methods`` of
    its default latent part
    (the on-disk caches the dashboard reads; cached work is skipped). A checkpoint that does not fit
    this corpus is skipped (the dashboard says why when one is chosen)."""
    report = progress or null_progress

    def stage(name: str):
        return lambda done, total, message="": report(done, total, f"{name}: {message or 'starting'}")

    for entry in entries:
        try:
            model = reader(checkpoint.load(entry.path), corpus, progress=stage(f"band levels {entry.name}"))
            _, Z = encode_corpus(model, corpus, progress=stage(f"encode {entry.name}"))
        except BadInputError:
            continue
        Z = latent_part(model, Z)  # the part the dashboard projects first
        for method in methods:
            project(Z, method=method, dim=2, random_state=0, progress=stage(f"{method} {entry.name}"))


def prepare(specs: tuple[str, ...] | None = None, *, methods: tuple[str, ...] = ("tsne",), progress=None,
            first_view: bool = False) -> Corpus:
    """Make everything the dashboard shows first, so its first page opens in seconds.

    Loads (or synthesises) the corpus of ``specs`` (default :func:`core.workspace.default_specs`), extracts
    and caches its features, encodes it with every shipped checkpoint (the one the dashboard opens with
    first) and caches the 2-D projections in ``methods``. ``first_view``: only that first checkpoint, what the Explore page draws when the
    dashboard opens (the dashboard prepares the others in the background, :func:`warm_up`).
    Everything lands in the on-disk caches the dashboard reads.
    """
    report = progress or null_progress
    corpus = load_corpus(specs, progress=lambda d, t, m="": report(d, t, f"corpus: {m or 'starting'}"),
                         restrict=False)  # the operator's own command
    entries = shipped_checkpoints(corpus)
    warm_checkpoints(corpus, entries[:1] if first_view else entries, methods=methods, progress=progress)
    return corpus


def warm_up(specs: tuple[str, ...] | None = None, *, progress=None) -> None:
    """What the dashboard prepares in the background when it starts (``ui.warmup_job.warm_up``): every
    shipped checkpoint's latents and t-SNE for ``specs`` (those ``prepare --first-view`` left out;
    cached ones cost a file read), then UMAP's compilation (:func:`core.projections.warm_up`)."""
    report = progress or null_progress
    corpus = load_corpus(specs)  # the dashboard's own load (restricted to the data roots): the same corpus
    warm_checkpoints(corpus, shipped_checkpoints(corpus), progress=report)
    report(0, 1, "UMAP: compiling (once per server)")
    warm_up_projections()
    report(1, 1, "UMAP: ready")

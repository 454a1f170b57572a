"""The corpus the dashboard opens and where it may read: the default sources, the allowed roots, restricted loads.

A *corpus spec* is a tuple of source specs (``("demo",)`` by default; see ``core.corpus.load_source`` for
the syntax). The checkpoints the dashboard lists are :mod:`core.shelf`'s; warming the caches it opens
with is :mod:`core.warmup`'s; scores of checkpoints are :mod:`core.model_scores`'s.
"""

from __future__ import annotations

import os
from pathlib import Path

from core import config
from core.corpus import Corpus
from core.corpus import load_demo, load_sources, parse_spec
from core.corpus.roots import data_roots, restrict_corpus
from core.corpus.specs import check_specs
from core.errors import BadInputError
from core.models import MODELS


def default_specs() -> tuple[str, ...]:
    """The corpus the dashboard opens with: the demo corpus, unless SONGSCAPE_CORPUS names sources (separated
    by ";"), e.g. ``SONGSCAPE_CORPUS="gtzan:/data/GTZAN@eng;banglabeats:/data/BB@bng"``. Read at each call, so
    a setting made after import counts."""
    return tuple(s.strip() for s in os.environ.get("SONGSCAPE_CORPUS", "demo").split(";") if s.strip()) or ("demo",)


def load_corpus(specs: tuple[str, ...] | None = None, *, progress=None, restrict: bool = True) -> Corpus:
    """Load (or, for ``demo``, generate on first use) the corpus described by ``specs`` (default:
    :func:`default_specs`).

    ``restrict`` (the dashboard's loads): every source, and every audio file of its tracks, must lie under
    :func:`allowed_roots`; a source outside is refused (BadInputError naming it), a track outside is left
    out and listed. The command line (``core prepare``) passes ``restrict=False``.
    """
    specs = tuple(s.strip() for s in (default_specs() if specs is None else specs) if s and s.strip())
    if not specs:
        raise BadInputError(None, "no data source given")
    if specs == ("demo",):
        return load_demo(config.DEMO_DIR, progress=progress)
    if not restrict:
        return load_sources(list(specs))
    roots = allowed_roots()
    check_specs(specs, roots=roots)
    return restrict_corpus(load_sources(list(specs)), roots=roots)


def allowed_roots() -> list[Path]:
    """Where the dashboard may read sources: the data roots (``SONGSCAPE_DATA_ROOTS``, default the home
    folder and ``data/``) plus the folders of the sources the operator configured (``SONGSCAPE_CORPUS``)."""
    roots = data_roots()
    for spec in default_specs():
        kind, path, _ = parse_spec(spec)
        if not path:
            continue
        p = Path(path).expanduser().resolve()
        folder = p if p.is_dir() else p.parent
        if folder not in roots:
            roots.append(folder)
    return roots


def model_settings(name: str, **values) -> dict:
    """The subset of ``values`` that model ``name`` takes: the keys of its ``get_params()`` (a form offers one
    set of fields, each model takes some)."""
    taken = MODELS[name]().get_params()
    return {k: v for k, v in values.items() if k in taken}

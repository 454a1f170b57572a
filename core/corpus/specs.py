"""Source specs ``[KIND:]PATH[@LANG]``: parsing, guessing the kind, and loading one or several sources.

KIND is one of ``demo, gtzan, features, banglabeats, merge, manifest, folder, fma``
(``banglabeats+join`` is ``banglabeats`` with ``join_clips=True``); ``demo``
alone means the default demo corpus. Without KIND it is guessed from PATH:

* a ``.csv`` with the 57 GTZAN feature columns -> ``features``; another ``.csv`` -> ``manifest``
* a folder holding ``genres_original/`` or ``genres/``, or whose sub-folders hold
  ``<genre>.<NNNNN>.wav|au`` files -> ``gtzan``
* a folder holding ``manifest.csv`` (with the demo's ``demo.json`` stamp) -> ``demo``,
  otherwise -> ``manifest``
* a folder holding ``fma_metadata/tracks.csv`` (or an ``fma_*`` folder beside it) -> ``fma``
* a folder holding ``Q1..Q4`` folders or a CSV with a ``Quadrant`` column -> ``merge``
* any other folder -> ``folder`` (genre = parent folder name)

``@LANG`` (``eng``, ``bng``, ``english``, ``bn``...) sets the language of every
track of that source, e.g. ``banglabeats:/data/bb@bng``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from core import demo
from core.corpus.banglabeats import load_banglabeats
from core.corpus.demo import load_demo
from core.corpus.feature_table import looks_like_feature_table, read_feature_table
from core.corpus.fma import load_fma, looks_like_fma
from core.corpus.folder import load_folder
from core.corpus.gtzan import gtzan_base, load_gtzan
from core.corpus.manifest import load_manifest
from core.corpus.merge import load_merge, looks_like_merge
from core.corpus.roots import check_under_roots, data_roots
from core.corpus.table import Corpus, normalise_language
from core.errors import BadInputError
from core.progress import Progress

KINDS = ("demo", "gtzan", "features", "banglabeats", "merge", "manifest", "folder", "fma")

_LANG_SUFFIX = re.compile(r"^[A-Za-z]{2,10}$")


def parse_spec(spec: str) -> tuple[str | None, str, str | None]:
    """Split ``[KIND:]PATH[@LANG]`` into ``(kind or None, path, language or None)``.

    ``@LANG`` is only taken as a language when it is 2 to 10 letters and the whole text is not an existing
    path (so ``/home/me@host/x`` and a folder named ``songs@home`` stay paths); ``KIND:`` only when KIND is
    a known kind (so ``C:/music`` stays a path). ``demo`` alone is the demo.
    """
    text = spec.strip()
    if not text:
        raise BadInputError(None, "empty source spec; expected [KIND:]PATH[@LANG]")
    kind = None
    head, colon, rest = text.partition(":")
    if colon and head.lower() in KINDS + ("banglabeats+join",):
        kind, text = head.lower(), rest
    language = None
    before, at, after = text.rpartition("@")
    if at and _LANG_SUFFIX.match(after) and not Path(text).expanduser().exists():
        text, language = before, normalise_language(after)
    if kind is None and text.lower() == "demo":
        kind, text = "demo", ""
    return kind, text, language


def detect_kind(path: str | Path) -> str:
    """Guess the source kind of ``path`` (see the module docstring)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise BadInputError(p, "source not found")
    if p.is_file():
        if p.suffix.lower() != ".csv":
            raise BadInputError(p, "a source file must be a .csv (a feature table or a manifest)")
        return "features" if looks_like_feature_table(p) else "manifest"
    if (p / demo.MANIFEST).is_file():
        return "demo" if (p / demo.STAMP).is_file() else "manifest"
    if looks_like_fma(p):
        return "fma"
    if gtzan_base(p) is not None:
        return "gtzan"
    if looks_like_merge(p):
        return "merge"
    return "folder"


def load_source(spec: str, *, progress: Progress | None = None, **opts) -> Corpus:
    """Load one source from a spec ``[KIND:]PATH[@LANG]``; ``opts`` go to the loader (e.g. ``join_clips``)."""
    kind, path, language = parse_spec(spec)
    if kind is None:
        kind = detect_kind(path)
    if kind == "demo":
        corpus = load_demo(Path(path).expanduser() if path else None, progress=progress, **opts)
    else:
        if kind == "manifest" and Path(path).expanduser().is_dir():
            path = str(Path(path).expanduser() / "manifest.csv")
        loaders: dict[str, Callable[[], Corpus]] = {
            "gtzan": lambda: load_gtzan(path, **opts),
            "features": lambda: read_feature_table(path, language=language, **opts),
            "banglabeats": lambda: load_banglabeats(path, progress=progress, **opts),
            "banglabeats+join": lambda: load_banglabeats(path, join_clips=True, progress=progress, **opts),
            "merge": lambda: load_merge(path, **opts),
            "manifest": lambda: load_manifest(path, **opts),
            "folder": lambda: load_folder(path, **opts),
            "fma": lambda: load_fma(path, progress=progress, **opts),
        }
        corpus = loaders[kind]()
    if language is not None:
        corpus.tracks["language"] = language
    corpus.sources = (spec.strip(),)
    return corpus


def check_specs(specs: list[str] | tuple[str, ...], *, roots: list[Path] | None = None) -> None:
    """Refuse (BadInputError naming the path) a source spec whose path lies outside the data roots
    (:mod:`core.corpus.roots`); what the dashboard checks before it opens sources. ``demo`` is allowed."""
    roots = data_roots() if roots is None else roots
    for spec in specs:
        kind, path, _ = parse_spec(spec)
        if kind == "demo" and not path:
            continue
        check_under_roots(path, what="source", roots=roots)


def load_sources(specs: list[str] | tuple[str, ...], *, progress: Progress | None = None) -> Corpus:
    """Load several sources and combine them into one (hybrid) corpus; ids clash -> prefixed by source."""
    if isinstance(specs, str):
        specs = [specs]
    corpora = [load_source(s, progress=progress) for s in specs]
    if not corpora:
        raise BadInputError(None, "no source given")
    return Corpus.combine(corpora, name="hybrid" if len(corpora) > 1 else corpora[0].name)

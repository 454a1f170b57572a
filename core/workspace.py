"""Where the dashboard finds and keeps things: the corpus in use, the checkpoints, the runs.

File bookkeeping only (no scoring, no UI): a *corpus spec* is a tuple of source
specs (``("demo",)`` by default; see ``core.corpus.load_source`` for the syntax).
Checkpoints come from two places: the ready-made ones shipped in ``checkpoints/``
and those saved from the dashboard in ``data/runs/``. :func:`prepare` warms the
caches the dashboard opens with. Scores of checkpoints are :mod:`core.scoring`'s.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path

from core import checkpoint, config
from core.corpus import Corpus
from core.corpus import load_demo, load_sources, parse_spec
from core.corpus.roots import data_roots, restrict_corpus
from core.corpus.specs import check_specs
from core.errors import BadInputError
from core.latents import encode_corpus, latent_part
from core.models import MODELS
from core.progress import null_progress
from core.projections import project
from core.projections import warm_up as warm_up_projections

#: The corpus the dashboard opens with: the demo corpus, unless SONGSCAPE_CORPUS names
#: sources (separated by ";"), e.g. ``SONGSCAPE_CORPUS="gtzan:/data/GTZAN@eng;banglabeats:/data/BB@bng"``.
DEFAULT_SPECS: tuple[str, ...] = tuple(
    s.strip() for s in os.environ.get("SONGSCAPE_CORPUS", "demo").split(";") if s.strip()
) or ("demo",)
#: Shipped checkpoint the dashboard opens with: the ConvVAE can be listened to.
DEFAULT_CHECKPOINT = "conv.pt"


def load_corpus(specs: tuple[str, ...] = DEFAULT_SPECS, *, progress=None, restrict: bool = True) -> Corpus:
    """Load (or, for ``demo``, generate on first use) the corpus described by ``specs``.

    ``restrict`` (the dashboard's loads): every source, and every audio file of its tracks, must lie under
    :func:`allowed_roots`; a source outside is refused (BadInputError naming it), a track outside is left
    out and listed. The command line (``core prepare``) passes ``restrict=False``.
    """
    specs = tuple(s.strip() for s in specs if s and s.strip())
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
    for spec in DEFAULT_SPECS:
        kind, path, _ = parse_spec(spec)
        if not path:
            continue
        p = Path(path).expanduser().resolve()
        folder = p if p.is_dir() else p.parent
        if folder not in roots:
            roots.append(folder)
    return roots


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
    taken = {p.stem.lower() for p in shipped}
    # a run saved under a ready-made name before such names were refused gets a name of its own
    # (``runs/<name>``, which no checkpoint file can have), so a link or a list never confuses the two
    return [CheckpointEntry(p.stem, p, True) for p in shipped] + [
        CheckpointEntry(f"{RUNS_PREFIX}{p.stem}" if p.stem.lower() in taken else p.stem, p, False) for p in runs]


#: What a user run named like a ready-made checkpoint is called in lists and links.
RUNS_PREFIX = "runs/"


def shipped_names() -> set[str]:
    """The names of the ready-made checkpoints (lower case): a run may not take one."""
    return {p.stem.lower() for p in config.CHECKPOINT_DIR.glob("*.pt")}


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def run_path(name: str) -> Path:
    """Path of a user checkpoint called ``name`` (letters, digits, ``_ . -``)."""
    name = name.strip()
    if name.endswith(".pt"):
        name = name[:-3]
    if not _NAME.match(name):
        raise BadInputError(name, "a checkpoint name uses letters, digits, '_', '.' and '-' (at most 64)")
    if name.lower() in shipped_names():
        raise BadInputError(name, "is the name of a ready-made checkpoint; choose another name (a link to "
                                  f"model={name} must open one checkpoint)")
    config.RUNS_DIR.mkdir(parents=True, exist_ok=True)
    return config.RUNS_DIR / f"{name}.pt"


def free_run_path(name: str, *, taken: set[Path] | frozenset = frozenset()) -> tuple[Path, bool]:
    """``(path, renamed)``: :func:`run_path` of ``name``, or of ``name-2``, ``name-3``... when that file
    exists, is in ``taken`` (checkpoints running jobs will write) or is a ready-made checkpoint's name.
    A run never overwrites another, nor shares a name with a ready-made checkpoint."""
    stem = name.strip().removesuffix(".pt")
    if stem.lower() not in shipped_names():
        run_path(stem)  # a name that is not allowed at all is refused, not renamed
    taken = {Path(p) for p in taken}
    n = 1
    while True:
        candidate = stem if n == 1 else f"{stem[:60]}-{n}"
        if candidate.lower() not in shipped_names():
            path = run_path(candidate)
            if not path.exists() and path not in taken:
                return path, n > 1
        n += 1


def next_run_name(saved_as: str | Path, *, taken: set[Path] | frozenset = frozenset()) -> str:
    """The name to offer for the run after one saved as ``saved_as``: the same name with the next free
    number (``basic-run`` -> ``basic-run-2``, ``basic-run-2`` -> ``basic-run-3``), so a form that keeps
    its values never offers the name just used. ``saved_as`` and ``taken`` count as used."""
    stem = Path(saved_as).stem
    base = re.sub(r"-\d+$", "", stem) or stem
    path, _ = free_run_path(base, taken={Path(p) for p in taken} | {run_path(stem)})
    return path.stem


def delete_checkpoint(path: str | Path) -> None:
    """Delete a user checkpoint. Shipped checkpoints are never deleted."""
    path = Path(path).resolve()
    if config.RUNS_DIR.resolve() not in path.parents:
        raise BadInputError(path, "only checkpoints saved from the dashboard (data/runs) can be deleted")
    path.unlink(missing_ok=True)


def first_checkpoint(entries: list[CheckpointEntry], corpus: Corpus) -> CheckpointEntry | None:
    """The checkpoint the dashboard opens ``corpus`` with: the first of ``entries`` (the shipped
    ConvVAE, see :func:`list_checkpoints`), or the Basic VAE for a corpus without audio (a feature table)."""
    if not entries:
        return None
    if not corpus.has_audio:
        return next((e for e in entries if e.name == "basic"), entries[0])
    return entries[0]


def shipped_checkpoints(corpus: Corpus) -> list[CheckpointEntry]:
    """The shipped checkpoints, the one the dashboard opens ``corpus`` with first."""
    shipped = [e for e in list_checkpoints() if e.shipped]
    first = first_checkpoint(shipped, corpus)
    return ([first] if first else []) + [e for e in shipped if e is not first]


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
            model = checkpoint.load(entry.path)
            _, Z = encode_corpus(model, corpus, progress=stage(f"encode {entry.name}"))
        except BadInputError:
            continue
        Z = latent_part(model, Z)  # the part the dashboard projects first
        for method in methods:
            project(Z, method=method, dim=2, random_state=0, progress=stage(f"{method} {entry.name}"))


def prepare(specs: tuple[str, ...] = DEFAULT_SPECS, *, methods: tuple[str, ...] = ("tsne",), progress=None,
            first_view: bool = False) -> Corpus:
    """Make everything the dashboard shows first, so its first page opens in seconds.

    Loads (or synthesises) the corpus, extracts and caches its features, encodes it with every
    shipped checkpoint (the one the dashboard opens with first) and caches the 2-D projections in
    ``methods``. ``first_view``: only that first checkpoint, what the Explore page draws when the
    dashboard opens (the dashboard prepares the others in the background, ``ui.state.warm_up``).
    Everything lands in the on-disk caches the dashboard reads.
    """
    report = progress or null_progress
    corpus = load_corpus(specs, progress=lambda d, t, m="": report(d, t, f"corpus: {m or 'starting'}"),
                         restrict=False)  # the operator's own command
    entries = shipped_checkpoints(corpus)
    warm_checkpoints(corpus, entries[:1] if first_view else entries, methods=methods, progress=progress)
    return corpus


def warm_up(specs: tuple[str, ...] = DEFAULT_SPECS, *, progress=None) -> None:
    """What the dashboard prepares in the background when it starts (``ui.state.warm_up``): every
    shipped checkpoint's latents and t-SNE for ``specs`` (those ``prepare --first-view`` left out;
    cached ones cost a file read), then UMAP's compilation (:func:`core.projections.warm_up`)."""
    report = progress or null_progress
    corpus = load_corpus(specs)  # the dashboard's own load (restricted to the data roots): the same corpus
    warm_checkpoints(corpus, shipped_checkpoints(corpus), progress=report)
    report(0, 1, "UMAP: compiling (once per server)")
    warm_up_projections()
    report(1, 1, "UMAP: ready")


def model_settings(name: str, **values) -> dict:
    """The subset of ``values`` that model ``name``'s config accepts (a form offers one set of fields)."""
    cls = MODELS[name]
    accepted = {f.name for f in fields(cls.config_class)} | {"random_state", "device"}
    if cls.training_class is not None:
        accepted |= {f.name for f in fields(cls.training_class)}
    return {k: v for k, v in values.items() if k in accepted}

"""Shareable Explore views: the page state lives in the URL's query parameters.

==========  =============================================  ==========================
parameter   what                                           example
==========  =============================================  ==========================
corpus      the corpus specs, ``;``-separated               ``gtzan:/data/gtzan_mini``
model       the checkpoint (its name)                       ``conv``
emb         an embeddings file explored instead             ``clap.parquet``
proj, dim   projection and dimensions                       ``umap``, ``3``
colour      colour by                                       ``genre``
cl, cl.*    the clustering and its parameters               ``cl=dbscan&cl.eps=0.4``
q           search                                          ``genre:pop``
track, k    the track whose neighbours are listed, and k   ``eng:rock-01``, ``10``
sel         the tracks selected on the map (click, lasso)   ``eng:rock-01,bng:baul-03``
side        the second map                                  ``proj:pca`` / ``model:beta``
==========  =============================================  ==========================

:func:`restore` runs once per browser session, before the sidebar is drawn (``app.py``): a reload
or a shared link sets the page's widgets from the URL. A value that does not fit (an unknown
checkpoint, a projection that does not exist, eps out of range...) is dropped with a note the
Explore page shows; the default is used instead, and no traceback ever reaches the user. The notes
are Markdown in which every value from the URL is inline code (:func:`ui.markdown.code`) and every
error message escaped text, so a crafted link cannot put a live link or an image into the page.
:func:`publish` writes the current view back to the URL on every run of the page.
"""

from __future__ import annotations

import streamlit as st

from core import clustering, embeddings, explore, shelf, workspace
from core.blocks import PARTS
from core.errors import SongscapeError
from ui import caches, state
from ui.markdown import code, plain

DONE = "_explore_url_restored"
NOTES = "explore_url_notes"
FOCUS = "explore_focus"          # the track whose neighbours are listed (set from the URL or the page)
METHODS = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}
SIDE_KINDS = ("proj", "model", "file")


def restore() -> None:
    """Set the session's view from the URL once per session (call before any widget is drawn)."""
    if st.session_state.get(DONE):
        return
    st.session_state[DONE] = True
    params = {k: st.query_params.get(k) for k in st.query_params.keys()}
    if not params:
        return
    notes: list[str] = []
    try:
        _restore(params, notes)
    except Exception as exc:  # a link must never break the page: note it, keep the defaults
        notes.append(f"the link could not be applied ({type(exc).__name__}: {plain(exc)}); showing the default view")
    st.session_state[NOTES] = notes


def _restore(params: dict[str, str], notes: list[str]) -> None:
    value = params.get("corpus")
    if value:
        specs = tuple(s.strip() for s in value.split(";") if s.strip())
        if specs != state.current_specs():
            try:
                caches.corpus(specs)
                st.session_state[state.SPECS] = list(specs)
            except SongscapeError as exc:
                notes.append(f"corpus {code(value)} cannot be opened ({plain(exc)}); using "
                             f"{code(';'.join(workspace.default_specs()))}")
            except (OSError, ValueError) as exc:
                notes.append(f"corpus {code(value)} cannot be opened ({plain(exc)}); using the default corpus")
    corpus = state.current_corpus()

    value = params.get("model")
    if value:
        entry = next((e for e in shelf.list_checkpoints() if e.name == value), None)
        if entry is None:
            notes.append(f"there is no checkpoint {code(value)} here; using "
                         f"{code(state.current_checkpoint().name if state.current_checkpoint() else 'none')}")
        else:
            st.session_state[state.CHECKPOINT] = str(entry.path)
    value = params.get("emb")
    if value:
        if value in {p.name for p in embeddings.list_files()}:
            st.session_state["explore_vectors"] = f"file:{value}"
        else:
            notes.append(f"there is no embeddings file {code(value)} in {code(embeddings.folder())}; showing the model")

    # the part is checked against the checkpoint's own parts when the sidebar draws (ui.sidebar.part_choice)
    _choice(params, "part", list(PARTS), state.PART, notes, "a latent part")
    _choice(params, "proj", list(METHODS), "explore_method", notes, "a projection")
    _choice(params, "dim", ["2", "3"], "explore_dim", notes, "a number of dimensions", convert=int)
    colours = explore.colour_choices(corpus)
    _choice(params, "colour", colours, "explore_colour", notes, "a colour of this corpus")

    value = params.get("cl")
    if value:
        if value not in clustering.CLUSTERERS:
            notes.append(f"{code('cl=' + value)} is not a clustering ({', '.join(clustering.CLUSTERERS)}); "
                         "keeping the default")
        else:
            spec = clustering.CLUSTERERS[value]
            chosen = {}
            for key, raw in params.items():
                if not key.startswith("cl."):
                    continue
                pname = key[3:]
                if pname not in spec.params:
                    notes.append(f"{spec.label} has no parameter {code(pname)}; ignored")
                    continue
                try:
                    chosen[pname] = spec.params[pname].check(_number(raw), parameter=True)
                except ValueError as exc:
                    notes.append(f"{plain(exc)}; using the default")
            if value in ("kmeans", "agglomerative", "gmm") and not ({"n_clusters", "n_components"} & set(chosen)):
                key = "n_components" if "n_components" in spec.params else "n_clusters"
                chosen[key] = state.default_k(corpus)
            state.set_clustering(value, chosen)

    if params.get("sel"):
        st.session_state[SELECTION] = [t for t in params["sel"].split(",") if t][:MAX_SELECTION]
    if params.get("q"):
        st.session_state["explore_search"] = params["q"][:200]
    if params.get("track"):
        st.session_state[FOCUS] = params["track"]
    value = params.get("k")
    if value:
        try:
            k = int(value)
            if not 1 <= k <= 50:
                raise ValueError
            st.session_state["explore_k"] = k
        except ValueError:
            notes.append(f"{code('k=' + value)} is not a number of neighbours between 1 and 50; using 10")
    value = params.get("side")
    if value:
        kind, _, name = value.partition(":")
        ok = (kind == "proj" and name in METHODS) or (
            kind == "model" and any(e.name == name for e in shelf.list_checkpoints())) or (
            kind == "file" and name in {p.name for p in embeddings.list_files()})
        if ok:
            st.session_state["explore_side"] = True
            st.session_state["explore_side_kind"] = "projection" if kind == "proj" else "vectors"
            st.session_state["explore_side_proj" if kind == "proj" else "explore_side_vectors"] = (
                name if kind == "proj" else value)
        else:
            notes.append(f"{code('side=' + value)} is not another projection or a checkpoint here; one map shown")


def _choice(params, name, options, key, notes, what, convert=str) -> None:
    value = params.get(name)
    if value is None:
        return
    if value in options:
        st.session_state[key] = convert(value)
    else:
        notes.append(f"{code(f'{name}={value}')} is not {what} ({', '.join(options)}); using the default")


def _number(raw: str):
    """A URL value as int, float or text (a choice parameter)."""
    for cast in (int, float):
        try:
            return cast(raw)
        except (TypeError, ValueError):
            continue
    return raw


#: The URL parameters the Explore view owns (the table above); any other (e.g. ``job``, a running
#: training job of this session, ``ui.jobs``) belongs to another page and is kept.
VIEW_KEYS = frozenset({"corpus", "model", "part", "emb", "proj", "dim", "colour", "cl", "q", "track", "k", "side",
                       "sel"})
#: The page's map selection (track ids), a session-state key the link restores.
SELECTION = "explore_selection"
#: At most this many selected tracks go into a link: a URL of a few thousand characters opens in every browser.
MAX_SELECTION = 200


def _owned(key: str) -> bool:
    return key in VIEW_KEYS or key.startswith("cl.")


def publish(view: dict[str, object]) -> None:
    """Write ``view`` (None values left out) to the URL, when it changed; other pages' parameters stay."""
    current = {k: st.query_params.get(k) for k in st.query_params.keys()}
    wanted = {k: v for k, v in current.items() if not _owned(k)}
    wanted |= {k: str(v) for k, v in view.items() if v is not None and v != ""}
    if current != wanted:
        st.query_params.from_dict(wanted)


def view_of(*, specs, model: str | None, emb: str | None, method: str, dim: int, colour: str, cluster: str,
            params: dict, query: str, focus: str | None, k: int, side: str | None,
            part: str | None = None, selection: list[str] | None = None) -> dict[str, object]:
    """The query parameters of a view (the corpus only when it is not the default one)."""
    view: dict[str, object] = {
        "corpus": ";".join(specs) if tuple(specs) != tuple(workspace.default_specs()) else None,
        "model": model, "part": part, "emb": emb, "proj": method, "dim": dim, "colour": colour, "cl": cluster,
    }
    view |= {f"cl.{k_}": v for k_, v in params.items()}
    view |= {"q": query or None, "track": focus, "k": k if focus else None, "side": side,
             "sel": ",".join(selection) if selection and len(selection) <= MAX_SELECTION else None}
    return view


def notes() -> list[str]:
    return list(st.session_state.get(NOTES) or [])

"""The sidebar on every page: the corpus and checkpoint in use, the latent part, and where the model trains.

What it shows and sets is the session's choice (:mod:`ui.state`); the background warm-up's progress at its
foot is :mod:`ui.warmup_job`'s.
"""

from __future__ import annotations

import streamlit as st

from core import shelf
from core.blocks import PARTS, parts
from core.errors import BadInputError
from core.latents import MIN_LEVEL_TRACKS, uses_band_levels
from ui.caches import band_levels, model
from ui.state import CHECKPOINT, PART, PART_LABELS, current_checkpoint, current_specs


def sidebar() -> None:
    """Corpus and model in use, on every page."""
    with st.sidebar:
        specs = current_specs()
        st.caption("Corpus")
        st.markdown(" + ".join(f"`{s}`" for s in specs))
        entries = shelf.list_checkpoints()
        if entries:
            paths = [str(e.path) for e in entries]
            current = current_checkpoint()
            if st.session_state.get(CHECKPOINT) not in paths:
                st.session_state[CHECKPOINT] = str(current.path) if current else paths[0]
            st.selectbox(
                "Model checkpoint",
                paths,
                format_func=lambda p: next(e.label for e in entries if str(e.path) == p),
                key=CHECKPOINT,
                help="Ready-made checkpoints ship with Songscape; yours are saved from the Train page.",
            )
        else:
            st.warning("No checkpoints found. Train one on the Train page.")
        part_choice()
        levels_note()
        where = training_device(current_checkpoint())
        st.caption((f"Device: `{where}` · " if where else "") + "labels are never used in training")


def training_device(entry) -> str | None:
    """Where the model of checkpoint ``entry`` trains, as the model itself decides (the Basic VAE keeps
    to the CPU even where CUDA is present); None without a checkpoint that loads."""
    if entry is None:
        return None
    try:
        return model(str(entry.path), entry.stamp).training_device()
    except BadInputError:
        return None


def levels_note() -> None:
    """Which band levels a spectrogram model reads the corpus with (``core.latents.levels_choice``)."""
    current = current_checkpoint()
    if current is None:
        return
    try:
        if not uses_band_levels(model(str(current.path), current.stamp)):
            return
        used = band_levels(str(current.path), current.stamp, current_specs())
    except BadInputError:
        return  # the page says why the checkpoint cannot load
    why = (f"A spectrogram model subtracts per-band levels before it reads the audio. Songscape uses the "
           f"collection's own when the collection is neither the corpus the model was trained on nor one of its "
           f"sources (its checkpoint records their fingerprints) and has at least "
           f"{MIN_LEVEL_TRACKS} tracks, because collections recorded or encoded differently (MP3 previews, "
           "mastering) differ by up to 30 dB in a band; `core encode --levels` overrides it.")
    st.caption("Band levels: **this collection's own** (it is not the model's training corpus)" if used == "collection"
               else "Band levels: the training corpus's", help=why)


def part_choice() -> None:
    """Which part of a checkpoint's latent the Explore and Clusters pages cluster and project, where it offers
    more than one."""
    current = current_checkpoint()
    if current is None:
        return
    try:
        offered = parts(model(str(current.path), current.stamp).latent_blocks())
    except BadInputError:
        return  # the page says why the checkpoint cannot load
    if len(offered) < 2:
        return
    if st.session_state.get(PART) not in offered:
        st.session_state[PART] = offered[0]
    parts_help = " ".join(f"**{PART_LABELS[p]}**: {PARTS[p]}." for p in offered)
    if "lyrics" in offered:
        why = (f"This checkpoint has an audio and a lyrics block. {parts_help} The default, "
               f"**{PART_LABELS[offered[0]]}**, is chosen without labels: the audio counts as far as it agrees with "
               "the lyrics, so the larger audio block cannot drown what the lyrics know, and a track without lyrics "
               "is still placed.")
    else:
        why = (f"This checkpoint reads audio alone. {parts_help} Measured against genre on real music: the track "
               "block alone finds closer neighbours within one collection, while every dimension carries more of "
               "what holds on a collection the model was not trained on (RESULTS.md, \"How percussive\").")
    st.selectbox("Latent part to cluster and map", offered, key=PART, format_func=PART_LABELS.get, help=why)

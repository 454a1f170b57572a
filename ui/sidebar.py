"""The sidebar on every page: the corpus and checkpoint in use, the latent part, and where the model trains.

What it shows and sets is the session's choice (:mod:`ui.state`); the background warm-up's progress at its
foot is :mod:`ui.warmup_job`'s.
"""

from __future__ import annotations

import streamlit as st

from core import shelf
from core.blocks import PARTS, parts
from core.errors import BadInputError
from ui.caches import model
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


def part_choice() -> None:
    """Which part of a multimodal checkpoint's latent the Explore and Clusters pages cluster and project."""
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
    st.selectbox("Latent part to cluster and map", offered, key=PART, format_func=PART_LABELS.get,
                 help="This checkpoint has an audio and a lyrics block. " + " ".join(
                     f"**{PART_LABELS[p]}**: {PARTS[p]}." for p in offered)
                 + f" The default, **{PART_LABELS[offered[0]]}**, is chosen without labels: it keeps the larger "
                   "audio block from drowning the lyrics.")

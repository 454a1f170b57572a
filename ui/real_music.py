"""The offer, on the Data and Explore pages, to encode a collection of one's own with the shipped real-music
model at once (no training), beside the way to train a model on it.

Shown while the corpus has audio, is not the demo, and the checkpoint in use is another ready-made one
(trained on the synthetic demo): a collection the shipped demo models know nothing about.
"""

from __future__ import annotations

import streamlit as st

from core import shelf
from ui import state
from ui.distributed import encode_with_progress

__all__ = ["offer"]

#: Session-state key: what the offer's button has just encoded, in words (said once, after the rerun).
_DONE = "real_music_encoded"
#: Session-state key: set by the button's callback, which has already made the real-music model the one in use.
_ASKED = "real_music_asked"


def _ask(path: str) -> None:
    state.use_checkpoint(path)
    st.session_state[_ASKED] = True


def offer(corpus, *, key: str) -> None:
    """The offer's box (nothing when it does not apply); ``key`` keeps its button apart on each page."""
    real = shelf.real_music_checkpoint(shelf.list_checkpoints())
    if real is not None and st.session_state.pop(_ASKED, False):  # the button, clicked: encode now
        done = encode_with_progress(corpus, real)
        if done:
            st.session_state[_DONE] = done
            st.rerun()
    done = st.session_state.pop(_DONE, None)
    if done:
        st.success(f"Done: {done}. Every page now uses it (the sidebar's model).", icon=":material/check_circle:")
    current = state.current_checkpoint()
    if (real is None or not corpus.has_audio or state.current_specs() == ("demo",)
            or current is None or not current.shipped or current.path == real.path):
        return
    with st.container(border=True):
        st.markdown(f"**Your collection, without training:** the ready-made model **{current.name}** was trained on "
                    f"the synthetic demo. **{real.name}** was trained on real recordings (GTZAN clips and "
                    "English and German songs; audio only).")
        left, right = st.columns(2, vertical_alignment="center")
        # the callback makes it the model in use before the sidebar draws its box; the next run encodes
        left.button(f"Encode this collection with {real.name}", key=f"{key}_real_music", type="primary",
                    on_click=_ask, args=(str(real.path),), icon=":material/bolt:")
        # a button, not st.page_link: it names the page only when clicked, so the page also runs on its own
        if right.button("…or train a model on this collection", key=f"{key}_real_music_train", type="tertiary",
                        icon=":material/model_training:"):
            st.switch_page("views/train_page.py")

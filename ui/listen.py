"""The 'listen to a track' panel used by Explore and Clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.explore import listen
from core.corpus import FEATURE_NAMES
from ui import figures, state


@st.cache_data(show_spinner="Reconstructing…", max_entries=64)
def _listening(path: str, stamp: float, specs: tuple[str, ...], track_id: str):
    return listen(state.model(path, stamp), state.corpus(specs), track_id)


def track_panel(track_id: str, *, entry, specs: tuple[str, ...], key: str) -> None:
    """Original and reconstruction of one track: two players and two spectrograms."""
    result = _listening(str(entry.path), entry.stamp, specs, track_id)
    st.markdown(f"**{track_id}**")
    left, right = st.columns(2)
    with left:
        st.caption("original")
        if result.audio is not None:
            st.audio(result.audio, sample_rate=result.sr)
        else:
            st.caption("no audio in this corpus")
    with right:
        st.caption(f"reconstruction ({entry.name})")
        if result.audio_reconstruction is not None:
            st.audio(result.audio_reconstruction, sample_rate=result.sr)
    if result.mel is not None:
        st.plotly_chart(figures.spectrogram_pair(result.mel, result.mel_reconstruction), key=f"{key}-mel")
    if result.features is not None:
        table = pd.DataFrame({"original": result.features, "reconstruction": result.features_reconstruction},
                             index=FEATURE_NAMES)
        table["relative error"] = np.abs(table["reconstruction"] - table["original"]) / (np.abs(table["original"]) + 1e-9)
        with st.expander("57-value features: original vs reconstruction"):
            st.dataframe(table, width="stretch")
    if result.note:
        st.caption(result.note)

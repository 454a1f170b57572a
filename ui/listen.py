"""The 'listen to a track' panel used by Explore and Clusters."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
import pandas as pd
import streamlit as st

from core.explore import listen
from core.corpus import FEATURE_NAMES
from core.latents import mel_params_of
from ui import caches, figures


@st.cache_data(show_spinner="Reconstructing…", max_entries=64)
def _listening(path: str, stamp: float, specs: tuple[str, ...], track_id: str):
    return listen(caches.reader(path, stamp, specs), caches.corpus(specs), track_id)


def wav_bytes(y: np.ndarray, sr: int) -> bytes:
    """A mono signal as 16-bit WAV bytes at its own level (clipped to [-1, 1], never rescaled).

    ``st.audio`` given an array peak-normalises it, so an original and its reconstruction
    would always sound equally loud; given these bytes it plays them as they are."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(np.asarray(y, dtype=np.float32), -1.0, 1.0), int(sr), format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def play(y: np.ndarray, sr: int) -> None:
    """An audio player for ``y`` at its original level."""
    st.audio(wav_bytes(y, sr), format="audio/wav")


def track_panel(track_id: str, *, entry, specs: tuple[str, ...], key: str) -> None:
    """Original and reconstruction of one track: two players and two spectrograms."""
    result = _listening(str(entry.path), entry.stamp, specs, track_id)
    st.markdown(f"**{track_id}**")
    left, right = st.columns(2)
    with left:
        st.caption("original")
        if result.audio is not None:
            play(result.audio, result.sr)
        else:
            st.caption("no audio in this corpus")
    with right:
        st.caption(f"reconstruction ({entry.name})")
        if result.audio_reconstruction is not None:
            play(result.audio_reconstruction, result.sr)
    if result.mel is not None:
        params = mel_params_of(caches.model(str(entry.path), entry.stamp))  # peak or full-scale dB
        st.plotly_chart(figures.spectrogram_pair(result.mel, result.mel_reconstruction, params=params),
                        key=f"{key}-mel", theme=None)
    if result.features is not None:
        table = pd.DataFrame({"original": result.features, "reconstruction": result.features_reconstruction},
                             index=FEATURE_NAMES)
        table["relative error"] = np.abs(table["reconstruction"] - table["original"]) / (np.abs(table["original"]) + 1e-9)
        # built only while open: a page of panels (a cluster's members) re-sends none of these tables on a rerun
        box = st.expander("57-value features: original vs reconstruction", key=f"{key}-features-open", on_change="rerun")
        if box.open:
            box.dataframe(table, width="stretch")
    if result.note:
        st.caption(result.note)

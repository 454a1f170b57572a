"""The Train page's form state: one set of fields shared by every model, what the user typed kept.

Each field has one widget key (``train_epochs``, ``train_name``...), whatever the model. A field
the user changed is *touched* and keeps its value when the model changes; an untouched field
shows the new model's own default. Widgets commit on blur or Enter (the form is not an
``st.form``, whose values would stay in the browser until submitted and be lost on a model
change). Streamlit forgets the state of widgets it does not draw (a model without the field,
or the page while a run trains), so the values are also kept aside and put back.
"""

from __future__ import annotations

import streamlit as st

MODEL = "train_model"
TOUCHED = "train_touched"   # the fields the user changed (names)
KEPT = "train_kept"         # field -> last value, for fields Streamlit forgot
DEFAULTS = "train_defaults"  # the model the untouched fields show the defaults of, and those defaults


def key(field: str) -> str:
    return f"train_{field}"


def touch(field: str) -> None:
    """Widget callback: the user changed ``field``; it keeps its value from now on."""
    st.session_state.setdefault(TOUCHED, set()).add(field)


def show(model: str, defaults: dict) -> None:
    """Put every field of ``model`` in session state before the widgets are drawn.

    ``defaults``: field -> the model's default. A touched field keeps the value typed (or, if
    Streamlit dropped its widget, the value kept aside); an untouched one shows ``defaults``.
    Call once per run, before drawing, with the model's defaults."""
    touched = st.session_state.setdefault(TOUCHED, set())
    kept = st.session_state.setdefault(KEPT, {})
    shown_for = st.session_state.get(DEFAULTS)
    for field, default in defaults.items():
        k = key(field)
        if field in touched:
            if k not in st.session_state:
                st.session_state[k] = kept.get(field, default)
        elif k not in st.session_state or shown_for != model:
            st.session_state[k] = default
    st.session_state[DEFAULTS] = model


def remember(fields) -> None:
    """Keep the current value of each of ``fields`` aside (call after drawing them)."""
    kept = st.session_state.setdefault(KEPT, {})
    for field in fields:
        if key(field) in st.session_state:
            kept[field] = st.session_state[key(field)]


def value(field: str):
    return st.session_state[key(field)]

"""The Train page's form state: one set of fields shared by every model, what the user typed kept.

Each field has one widget key (``train_epochs``, ``train_name``...), whatever the model. A field
the user changed is *touched* and keeps its value when the model changes; an untouched field
shows the new model's own default. Widgets commit on blur or Enter (the form is not an
``st.form``, whose values would stay in the browser until submitted and be lost on a model
change). Streamlit forgets the state of widgets it does not draw (a model without the field,
or the page while a run trains), so the values are also kept aside and put back.

Every field, the model included, is written into session state on every run before its widget is
drawn, even when the value is unchanged: a widget that comes back after being hidden (the form while
a run trains) is a new widget in the browser, which starts at its own default (a number box: its
minimum; a text box: empty; the Model box: its first option) and sends that back unless the server
says otherwise. Only a value written this run is sent with the widget.
"""

from __future__ import annotations

import streamlit as st

MODEL = "train_model"
TOUCHED = "train_touched"   # the fields the user changed (names)
KEPT = "train_kept"         # field -> last value, for fields Streamlit forgot
DEFAULTS = "train_defaults"  # the model the untouched fields show the defaults of, and those defaults
NEXT = "train_next"         # field -> the value to show when the form is next drawn (a fresh name after a run)


def key(field: str) -> str:
    return f"train_{field}"


def touch(field: str) -> None:
    """Widget callback: the user changed ``field``; it keeps its value from now on."""
    st.session_state.setdefault(TOUCHED, set()).add(field)


def show_model(options, default: str) -> None:
    """Put the model to show in session state before the Model box is drawn: the one chosen last
    (kept aside when Streamlit forgot the box), else ``default``."""
    kept = st.session_state.setdefault(KEPT, {})
    chosen = st.session_state.get(MODEL, kept.get(MODEL, default))
    st.session_state[MODEL] = chosen if chosen in options else default


def show(model: str, defaults: dict) -> None:
    """Put every field of ``model`` in session state before the widgets are drawn.

    ``defaults``: field -> the model's default. A touched field keeps the value typed (or, if
    Streamlit dropped its widget, the value kept aside); an untouched one shows ``defaults``;
    a value set with :func:`show_next` wins once. Call once per run, before drawing, with the
    model's defaults."""
    touched = st.session_state.setdefault(TOUCHED, set())
    kept = st.session_state.setdefault(KEPT, {})
    upcoming = st.session_state.pop(NEXT, {})
    shown_for = st.session_state.get(DEFAULTS)
    for field, default in defaults.items():
        k = key(field)
        if field in upcoming:
            value = upcoming[field]
        elif field in touched:
            value = st.session_state[k] if k in st.session_state else kept.get(field, default)
        elif k in st.session_state and shown_for == model:
            value = st.session_state[k]
        else:
            value = default
        st.session_state[k] = value  # even unchanged: see the module docstring
    st.session_state[DEFAULTS] = model


def show_next(**values) -> None:
    """Show these field values the next time the form is drawn (e.g. a fresh name once a run started)."""
    st.session_state.setdefault(NEXT, {}).update(values)


def preset(**values) -> None:
    """Button callback: fill the form with ``values`` (field -> value), kept like typed values."""
    for field, value in values.items():
        st.session_state[key(field)] = value
        touch(field)


def remember(fields) -> None:
    """Keep the current value of each of ``fields`` aside (call after drawing them)."""
    kept = st.session_state.setdefault(KEPT, {})
    if MODEL in st.session_state:
        kept[MODEL] = st.session_state[MODEL]
    for field in fields:
        if key(field) in st.session_state:
            kept[field] = st.session_state[key(field)]


def value(field: str):
    return st.session_state[key(field)]

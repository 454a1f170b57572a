"""The AppTest sweep: every widget on every page driven to its extremes and a value between.

Sliders go to their minimum, maximum, middle and back (both ways); every option of a select,
radio or segmented control is chosen, and after each choice of a mode widget (the clustering
algorithm, the corpus kind...) the widgets it reveals are swept too; toggles flip; each button
is pressed once. The only assertion is the one that matters: no exception reaches the page.
Charts' own selections (click, lasso) cannot be driven by AppTest: see test_browser_pages.py.
"""

from __future__ import annotations

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState

from tests.test_app import _app, app_env, monkeypatch_module  # noqa: F401  (fixtures)
from ui import jobs as ui_jobs

pytestmark = pytest.mark.slow

PAGES = ["explore", "clusters", "data", "train", "latent", "compare"]
#: Widgets whose every option would multiply the sweep without reaching new code: a few options only.
MAX_OPTIONS = 5
#: Widget kinds whose choice reveals other widgets: swept again after each option.
MODES = ("segmented_control", "radio", "selectbox")
#: (page, what) of every step, for the report and the coverage assertion.
DRIVEN: list[tuple[str, str]] = []


def _ident(w) -> tuple[str, str]:
    return (w.type, w.key or getattr(w, "label", "") or "")


def _widgets(at) -> list:
    kinds = ("slider", "select_slider", "selectbox", "segmented_control", "radio", "number_input", "toggle",
             "checkbox", "multiselect", "button", "text_input")
    found = []
    for kind in kinds:
        try:
            found += list(getattr(at, kind))
        except (AttributeError, KeyError):
            continue
    return [w for w in found if not getattr(w, "disabled", False)]


def _find(at, ident):
    return next((w for w in _widgets(at) if _ident(w) == ident), None)


def _spread(options: list) -> list:
    if len(options) <= MAX_OPTIONS:
        return list(options)
    picks = [0, 1, len(options) // 2, len(options) - 2, len(options) - 1]
    return [options[i] for i in sorted(set(picks))]


def _values(w) -> list:
    """The values to drive ``w`` through: extremes, a middle value and back to where it was."""
    if w.type == "slider":
        lo, hi, start = w.min, w.max, w.value
        if isinstance(start, (tuple, list)):
            return [(lo, lo), (lo, hi), tuple(start)]
        mid = type(lo)((lo + hi) / 2) if isinstance(lo, float) else lo + (hi - lo) // 2
        return [lo, hi, mid, lo, start]
    if w.type == "number_input":
        lo = w.min if w.min is not None else w.value
        hi = w.max if w.max is not None else w.value
        return [lo, hi, w.value]
    if w.type in ("select_slider", "selectbox", "segmented_control", "radio"):
        return _spread(list(w.options))
    if w.type in ("toggle", "checkbox"):
        return [not w.value, w.value]
    if w.type == "multiselect":
        return [list(w.options)[:1], list(w.options), []]
    if w.type == "text_input":
        return ["bad name!", w.value] if (w.key or "").endswith("_name") else []
    return []


def _choose(w, label: str) -> None:
    """Make ``w`` send the option shown as ``label``, as the browser does (the options AppTest lists
    are the formatted labels, and a format function cannot be inverted in general)."""
    base = type(w)

    class Chosen(base):  # type: ignore[misc, valid-type]
        @property
        def _widget_state(self) -> WidgetState:
            ws = WidgetState()
            ws.id = self.id
            if base.__name__ in ("Radio", "Selectbox"):
                ws.string_value = label
            else:
                ws.string_array_value.data[:] = [label]
            return ws

    w.__class__ = Chosen


def _drive(at, w, value) -> None:
    if w.type in ("select_slider", "selectbox", "segmented_control", "radio"):
        _choose(w, value)
    else:
        w.set_value(value)
    at.run()


def _check(at, page: str, what: str) -> None:
    DRIVEN.append((page, what))
    assert not at.exception, f"{page}: {what}: {[e.value for e in at.exception]}"


def _sweep(at, page: str, seen: set, depth: int = 0) -> None:
    for w in _widgets(at):
        ident = _ident(w)
        if ident in seen:
            continue
        seen.add(ident)
        if w.type == "button":
            continue  # pressed last, once the page's state has been swept
        for value in _values(w):
            current = _find(at, ident)
            if current is None:
                break  # a previous value hid it
            try:
                _drive(at, current, value)
            except ValueError:
                continue  # an option the label format no longer matches (the widget changed under us)
            _check(at, page, f"{ident} = {value!r}")
            if w.type in MODES and depth < 1:
                _sweep(at, page, seen, depth + 1)


def _press_buttons(at, page: str) -> None:
    pressed = set()
    while True:
        button = next((b for b in _widgets(at) if b.type == "button" and _ident(b) not in pressed), None)
        if button is None:
            return
        pressed.add(_ident(button))
        button.click()
        at.run()
        _check(at, page, f"button {_ident(button)}")


@pytest.mark.parametrize("page", PAGES)
def test_every_widget_to_its_extremes(app_env, page):
    at = _app()
    at.run()
    if page != "explore":
        at.switch_page(f"views/{page}_page.py").run()
    _check(at, page, "opening")
    try:
        _sweep(at, page, set())
        _press_buttons(at, page)
    finally:
        for job in ui_jobs.registry().jobs(running=True):  # Start / Run pressed: stop what they began
            job.stop()
            job.join(120)
    _check(at, page, "after the sweep")
    steps = [what for p, what in DRIVEN if p == page]
    print(f"\n{page}: {len(steps)} steps: " + "; ".join(steps))
    assert len({w.split(" = ")[0] for w in steps}) >= 4, f"{page}: too few widgets reached: {steps}"

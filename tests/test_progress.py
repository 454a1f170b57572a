"""core.progress: the time left is measured after a count's first step, whose one-time cost (a compile,
a model load) would otherwise be spread over every remaining step."""

from __future__ import annotations

import pytest

from core import progress
from core.progress import Remaining, duration_words, planned_left, tqdm_progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_first_step_does_not_count_towards_the_rate():
    clock = Clock()
    remaining = Remaining(clock)
    assert remaining(0, 100) is None
    clock.now = 78.0  # the first item compiled for 78 s
    assert remaining(1, 100) is None  # one step is no rate yet
    clock.now = 80.0  # the next 4 items took 0.5 s each
    assert remaining(5, 100) == 2.0 / 4 * 95
    clock.now = 81.0
    assert remaining(100, 100) == 0.0


def test_a_count_that_starts_again_is_measured_again():
    clock = Clock()
    remaining = Remaining(clock)
    remaining(3, 10)
    clock.now = 10.0
    assert remaining(5, 10) == 10.0 / 2 * 5
    assert remaining(1, 4) is None  # a new stage: its own first step again
    clock.now = 11.0
    assert remaining(2, 4) is None  # one step is no rate yet
    clock.now = 12.0
    assert remaining(3, 4) == 1.0 * 1


def test_workers_that_each_compile_first_do_not_read_as_hours():
    """Two workers compile for 35 s each, then 218 tracks follow in a second: the first tracks' wait is
    left out as soon as the recent steps give a rate (encoding the demo read "2 h 5 min" for 3 s)."""
    clock = Clock()
    remaining = Remaining(clock)
    remaining(0, 220)
    clock.now = 31.0
    assert remaining(1, 220) is None
    clock.now = 66.0
    assert remaining(2, 220) is None and remaining(3, 220) is None
    estimates = []
    for done in range(4, 40):
        clock.now += 0.005
        estimates.append(remaining(done, 220))
    assert all(e is not None and e < 5 for e in estimates), estimates[:3]


def test_slow_steps_are_estimated_from_the_first_step_on():
    """Steps slower than the window (a model trained per task): the rate since the first step, once
    three more have followed it."""
    clock = Clock()
    remaining = Remaining(clock)
    for done in range(0, 4):
        clock.now = 40.0 * done
        assert remaining(done, 8) is None
    clock.now = 160.0
    assert remaining(4, 8) == 40.0 * 4


def test_durations_read_as_a_person_plans():
    assert duration_words(0.2) == "1 s" and duration_words(40) == "40 s"
    assert duration_words(30 * 60) == "30 min" and duration_words(80 * 60) == "80 min"
    assert duration_words(2 * 3600 + 12 * 60) == "2 h 12 min"


def test_the_terminal_bar_shows_the_measured_time_left(capsys, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress, "Remaining", lambda: Remaining(clock))
    update = tqdm_progress("encode")
    update(0, 100, "encode conv: mel")
    clock.now = 78.0
    update(1, 100, "encode conv: mel")
    clock.now = 80.0
    update(5, 100, "encode conv: mel")
    err = capsys.readouterr().err
    assert "about 48 s left" in err, err
    assert "<" not in err, err  # tqdm's own "elapsed<left", which counts the first step, is not shown


def test_time_left_of_planned_work_follows_the_speed_seen_so_far():
    # nothing with an estimate finished yet: the estimate counts down, and says nothing once overrun
    assert planned_left(planned=100, planned_done=0, spent_at_done=0, spent=30) == pytest.approx(70)
    assert planned_left(planned=100, planned_done=0, spent_at_done=0, spent=130) is None
    # a fifth of the plan took 40 s instead of 20: the rest takes twice its estimate, counted down since
    assert planned_left(planned=100, planned_done=20, spent_at_done=40, spent=40) == pytest.approx(160)
    assert planned_left(planned=100, planned_done=20, spent_at_done=40, spent=100) == pytest.approx(100)
    # faster than planned: less than the estimate's rest
    assert planned_left(planned=100, planned_done=50, spent_at_done=25, spent=25) == pytest.approx(25)
    assert planned_left(planned=100, planned_done=100, spent_at_done=90, spent=90) is None

"""core.workspace's checkpoint names: a user run never shares a name with a ready-made checkpoint, so a
name in a list or a link opens exactly one checkpoint."""

from __future__ import annotations

import pytest

from core import config, workspace
from core.errors import BadInputError


@pytest.fixture()
def folders(tmp_path, monkeypatch):
    shipped = tmp_path / "checkpoints"
    shipped.mkdir()
    for name in ("basic", "conv"):
        (shipped / f"{name}.pt").write_bytes(b"shipped " + name.encode())
    monkeypatch.setattr(config, "CHECKPOINT_DIR", shipped)
    monkeypatch.setattr(config, "RUNS_DIR", tmp_path / "runs")
    return shipped


@pytest.mark.parametrize("name", ["conv", "CONV", " conv.pt"])
def test_a_ready_made_name_is_refused_for_a_run(folders, name):
    with pytest.raises(BadInputError, match="is the name of a ready-made checkpoint; choose another name"):
        workspace.run_path(name)
    assert sorted(p.name for p in folders.iterdir()) == ["basic.pt", "conv.pt"]
    assert (folders / "conv.pt").read_bytes() == b"shipped conv"


def test_the_dashboard_saves_a_run_named_like_a_ready_made_one_under_a_free_name(folders):
    path, renamed = workspace.free_run_path("conv")
    assert renamed and path == config.RUNS_DIR / "conv-2.pt"
    path.write_bytes(b"mine")
    assert workspace.free_run_path("conv") == (config.RUNS_DIR / "conv-3.pt", True)
    assert workspace.free_run_path("mine") == (config.RUNS_DIR / "mine.pt", False)
    with pytest.raises(BadInputError, match="letters, digits"):
        workspace.free_run_path("../checkpoints/conv")


def test_an_old_run_named_like_a_ready_made_one_is_listed_under_its_own_name(folders):
    config.RUNS_DIR.mkdir()
    (config.RUNS_DIR / "conv.pt").write_bytes(b"an old run of mine")
    entries = workspace.list_checkpoints()
    names = [e.name for e in entries]
    assert len(names) == len(set(names)), names
    by_name = {e.name: e for e in entries}
    assert by_name["conv"].shipped and by_name["conv"].path == folders / "conv.pt"
    mine = by_name[f"{workspace.RUNS_PREFIX}conv"]
    assert not mine.shipped and mine.path.read_bytes() == b"an old run of mine"


def test_the_name_offered_after_a_run_is_the_next_free_one(folders):
    """After a run saved as NAME (or NAME-n) the form offers NAME with the next number no run uses."""
    config.RUNS_DIR.mkdir()
    (config.RUNS_DIR / "basic-run.pt").write_bytes(b"run")
    assert workspace.next_run_name(config.RUNS_DIR / "basic-run.pt") == "basic-run-2"
    (config.RUNS_DIR / "basic-run-2.pt").write_bytes(b"run")
    assert workspace.next_run_name("basic-run-2") == "basic-run-3"
    # a checkpoint a running job will write counts as taken, and so does the run just started
    assert workspace.next_run_name("basic-run-2", taken={config.RUNS_DIR / "basic-run-3.pt"}) == "basic-run-4"
    assert workspace.next_run_name("fresh") == "fresh-2"
    # a run saved as conv-2 because "conv" is a ready-made name is followed by conv-3, never by conv
    assert workspace.next_run_name("conv-2") == "conv-3"

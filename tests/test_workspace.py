"""core.shelf's checkpoint names: a user run never shares a name with a ready-made checkpoint, so a
name in a list or a link opens exactly one checkpoint; core.workspace reads the corpus to open when asked."""

from __future__ import annotations

import pytest

from core import config, shelf, workspace
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
        shelf.run_path(name)
    assert sorted(p.name for p in folders.iterdir()) == ["basic.pt", "conv.pt"]
    assert (folders / "conv.pt").read_bytes() == b"shipped conv"


def test_the_dashboard_saves_a_run_named_like_a_ready_made_one_under_a_free_name(folders):
    path, renamed = shelf.free_run_path("conv")
    assert renamed and path == config.RUNS_DIR / "conv-2.pt"
    path.write_bytes(b"mine")
    assert shelf.free_run_path("conv") == (config.RUNS_DIR / "conv-3.pt", True)
    assert shelf.free_run_path("mine") == (config.RUNS_DIR / "mine.pt", False)
    with pytest.raises(BadInputError, match="letters, digits"):
        shelf.free_run_path("../checkpoints/conv")


def test_an_old_run_named_like_a_ready_made_one_is_listed_under_its_own_name(folders):
    config.RUNS_DIR.mkdir()
    (config.RUNS_DIR / "conv.pt").write_bytes(b"an old run of mine")
    entries = shelf.list_checkpoints()
    names = [e.name for e in entries]
    assert len(names) == len(set(names)), names
    by_name = {e.name: e for e in entries}
    assert by_name["conv"].shipped and by_name["conv"].path == folders / "conv.pt"
    mine = by_name[f"{shelf.RUNS_PREFIX}conv"]
    assert not mine.shipped and mine.path.read_bytes() == b"an old run of mine"


def test_the_name_offered_after_a_run_is_the_next_free_one(folders):
    """After a run saved as NAME (or NAME-n) the form offers NAME with the next number no run uses."""
    config.RUNS_DIR.mkdir()
    (config.RUNS_DIR / "basic-run.pt").write_bytes(b"run")
    assert shelf.next_run_name(config.RUNS_DIR / "basic-run.pt") == "basic-run-2"
    (config.RUNS_DIR / "basic-run-2.pt").write_bytes(b"run")
    assert shelf.next_run_name("basic-run-2") == "basic-run-3"
    # a checkpoint a running job will write counts as taken, and so does the run just started
    assert shelf.next_run_name("basic-run-2", taken={config.RUNS_DIR / "basic-run-3.pt"}) == "basic-run-4"
    assert shelf.next_run_name("fresh") == "fresh-2"
    # a run saved as conv-2 because "conv" is a ready-made name is followed by conv-3, never by conv
    assert shelf.next_run_name("conv-2") == "conv-3"


def test_the_default_corpus_is_read_when_asked_not_when_imported(monkeypatch, tmp_path):
    """SONGSCAPE_CORPUS set after core.workspace was imported still decides the corpus and the roots."""
    monkeypatch.delenv("SONGSCAPE_CORPUS", raising=False)
    assert workspace.default_specs() == ("demo",)
    monkeypatch.setenv("SONGSCAPE_CORPUS", f" manifest:{tmp_path / 'a' / 'manifest.csv'} ; ;features:{tmp_path}/b.csv")
    assert workspace.default_specs() == (f"manifest:{tmp_path / 'a' / 'manifest.csv'}", f"features:{tmp_path}/b.csv")
    roots = workspace.allowed_roots()
    assert tmp_path / "a" in roots and tmp_path in roots
    monkeypatch.setenv("SONGSCAPE_CORPUS", " ; ")
    assert workspace.default_specs() == ("demo",)

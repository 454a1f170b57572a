"""The README's "From Python" example, run as a researcher pastes it into a notebook."""

from __future__ import annotations

import re

from core import checkpoint
from tests.conftest import ROOT


def from_python_example() -> str:
    """The Python block of the README's "From Python" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## From Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the From Python section holds one Python example"
    return blocks[0]


def test_the_from_python_example_runs_and_scores_its_clusters(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the example writes its corpus and checkpoint into the current folder
    exec(compile(from_python_example(), "README.md (From Python)", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert re.search(r"^24 tracks, \d+ genres$", out, flags=re.M), out
    assert "(24, 57) features, 0 files skipped" in out
    scores = re.search(r"NMI genre ([\d.]+), NMI language ([\d.]+), silhouette (-?[\d.]+)", out)
    assert scores, out
    nmi_genre, nmi_language, silhouette = map(float, scores.groups())
    assert 0.0 <= nmi_genre <= 1.0 and 0.0 <= nmi_language <= 1.0 and -1.0 <= silhouette <= 1.0
    assert checkpoint.describe(tmp_path / "basic.pt")["model"] == "basic"  # the trained model was saved

"""Explore's caption and the Train page's live metrics name the clustering behind each number: the same
metric at another k (the Compare page's k = the number of classes) is another number."""

from __future__ import annotations

import pytest

from tests.test_app import _app, app_env, monkeypatch_module  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


def test_explore_names_the_clustering_behind_its_scores(app_env):
    at = _app()
    at.run()
    caption = next(c.value for c in at.caption if "tracks · model" in c.value)
    assert "scores of K-Means, k = " in caption and "NMI vs language" in caption, caption


def test_the_live_metrics_of_the_train_page_name_their_k(app_env):
    at = _app()
    at.run()
    at.switch_page("views/train_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [m.label for m in at.metric]
    language = next(label for label in labels if label.startswith("NMI vs language"))
    genre = next(label for label in labels if label.startswith("NMI vs genre"))
    assert language.endswith("(K-Means, k = 2)"), labels  # the tiny corpus's two languages
    assert "(K-Means, k = " in genre and genre != language.replace("language", "genre"), labels

"""The Clusters page: DBSCAN starts where it finds clusters (or says it finds none), metrics of one cluster
read as undefined with the reason, the noise note only under methods that mark noise, and every metric is
named with its clustering."""

from __future__ import annotations

import dataclasses

import pytest

from core import clustering, params
from tests.test_app import _app, _texts, app_env, monkeypatch_module  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


def _clusters():
    at = _app()
    at.run()
    at.switch_page("views/clusters_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_dbscan_starts_at_the_scanned_eps_and_names_its_clustering(app_env):
    at = _clusters()
    assert "noise points:" not in _texts(at)  # K-Means marks no noise
    at.segmented_control(key="clusters_algorithm").set_value("dbscan").run()
    assert not at.exception, [e.value for e in at.exception]
    eps = at.slider(key="dbscan_eps")
    min_samples = at.slider(key="dbscan_min_samples").value
    # the page's start is core's choice on the same latents (the index the page caches)
    from ui import caches, state
    entry = state.current_checkpoint()
    path = str(entry.path)
    choice = clustering.choose_eps(caches.neighbour_index(path, entry.stamp, state.current_specs(),
                                                         state.part_for(path, entry.stamp)), min_samples=min_samples)
    assert eps.value == pytest.approx(round(choice.eps, 3), abs=1e-3)
    text = _texts(at)
    if choice.found:
        assert int(_metrics(at)["clusters"]) >= 2
    else:
        assert any("finds no density structure" in w.value for w in at.warning)
    assert "noise points:" in text  # DBSCAN marks noise
    assert f"Every number below is of **DBSCAN, eps = {eps.value:.3g}, min_samples = {min_samples}**" in text


def test_eps_at_its_extremes_shows_undefined_metrics_with_their_reasons(app_env):
    at = _clusters()
    at.segmented_control(key="clusters_algorithm").set_value("dbscan").run()
    top = at.slider(key="dbscan_eps").max
    at.slider(key="dbscan_eps").set_value(top).run()  # every point core: one cluster
    assert not at.exception, [e.value for e in at.exception]
    shown = _metrics(at)
    assert shown["clusters"] == "1"
    assert shown["NMI vs genre"] == "n/a" and shown["silhouette"] == "n/a"
    assert "only one cluster (besides noise)" in _texts(at)
    table = next(d.value for d in at.dataframe if "metric" in d.value.columns)
    values = dict(zip(table["metric"], table["value"]))
    assert values["completeness vs genre"] == "n/a"  # not 1.000
    assert values["clustering"].startswith("DBSCAN, eps = ")
    at.slider(key="dbscan_eps").set_value(at.slider(key="dbscan_eps").min).run()  # every point noise
    assert not at.exception, [e.value for e in at.exception]
    assert _metrics(at)["clusters"] == "0"
    assert "every point is noise" in _texts(at)


def test_the_parameter_widgets_take_their_bounds_and_help_from_the_one_spec(app_env, monkeypatch):
    """Narrow the specs in core.params and the widgets follow: the number of clusters, DBSCAN's min_samples and
    its eps (whose slider still ends at the k-distances of the data, but never past the spec)."""
    specs = params.SPECS
    for name, changes in {"n_clusters": {"widget_max": 4, "help": "k, from the spec"},
                          "min_samples": {"widget_min": 3, "widget_max": 9},
                          "eps": {"low": 0.002, "high": 0.05}}.items():
        monkeypatch.setitem(specs, name, dataclasses.replace(specs[name], **changes))
    at = _clusters()
    k = at.number_input(key="kmeans_n_clusters")
    assert (k.min, k.max, k.help) == (specs["n_clusters"].low, 4, "k, from the spec")
    assert k.value <= 4  # the start (the number of genres) is brought inside the box
    at.segmented_control(key="clusters_algorithm").set_value("dbscan").run()
    assert not at.exception, [e.value for e in at.exception]
    min_samples = at.slider(key="dbscan_min_samples")
    assert (min_samples.min, min_samples.max) == (3, 9) and 3 <= min_samples.value <= 9
    eps = at.slider(key="dbscan_eps")
    assert eps.min == 0.002 and eps.max <= 0.05 and eps.min <= eps.value <= eps.max

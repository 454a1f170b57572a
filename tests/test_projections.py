"""Projections: shapes, determinism, cache hits, parameter checks, progress."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.neighbors import KNeighborsClassifier

import core.projections as projections
from core.projections import PROJECTION_PARAMS, cache_key, project


@pytest.fixture(scope="module")
def blobs():
    Z, y = make_blobs(n_samples=150, centers=3, n_features=6, cluster_std=0.5, random_state=0)
    return Z, y


@pytest.mark.parametrize("method", ["pca", "tsne", pytest.param("umap", marks=pytest.mark.slow)])
@pytest.mark.parametrize("dim", [2, 3])
def test_shapes_and_structure(blobs, method, dim):
    Z, y = blobs
    calls = []
    Y = project(Z, method=method, dim=dim, cache=False, progress=lambda d, t, m="": calls.append((d, t)))
    assert Y.shape == (len(Z), dim) and Y.dtype == np.float32
    assert np.isfinite(Y).all()
    # the three separated blobs stay separated: a 5-NN classifier in the projection is near perfect
    acc = KNeighborsClassifier(5).fit(Y, y).score(Y, y)
    assert acc > 0.95
    assert calls and calls[-1][0] == calls[-1][1]
    if method != "pca":
        assert len(calls) > 3  # progress while it runs, not only at the end


@pytest.mark.parametrize("method", ["pca", pytest.param("umap", marks=pytest.mark.slow)])
def test_pca_and_umap_embed_into_more_dimensions(blobs, method):
    """core evaluate's UMAP(10) baseline goes through project()."""
    Z, y = blobs
    Y = project(Z, method=method, dim=5, cache=False)
    assert Y.shape == (len(Z), 5) and np.isfinite(Y).all()
    assert KNeighborsClassifier(5).fit(Y, y).score(Y, y) > 0.95


def test_pca_pads_a_low_dimensional_latent():
    Z = np.random.default_rng(0).normal(size=(40, 2))
    Y = project(Z, method="pca", dim=3, cache=False)
    assert Y.shape == (40, 3) and np.all(Y[:, 2] == 0)


def test_second_call_is_served_from_disk(blobs, monkeypatch):
    Z, _ = blobs
    first = project(Z, method="tsne", random_state=1, n_iter=50, early_exaggeration_iter=25)
    calls = []

    def boom(*args, **kwargs):
        calls.append(1)
        raise AssertionError("recomputed a cached projection")

    monkeypatch.setattr(projections, "_tsne", boom)
    second = project(Z, method="tsne", random_state=1, n_iter=50, early_exaggeration_iter=25)
    np.testing.assert_array_equal(first, second)
    assert not calls
    # any change of data, seed, dim or parameter is a miss
    same = {"n_iter": 50, "early_exaggeration_iter": 25}
    for kwargs in ({"random_state": 2, **same}, {"random_state": 1, "n_iter": 75, "early_exaggeration_iter": 25},
                   {"random_state": 1, "dim": 3, **same}):
        with pytest.raises(AssertionError, match="recomputed"):
            project(Z, method="tsne", **kwargs)
    with pytest.raises(AssertionError, match="recomputed"):
        project(Z + 1e-9, method="tsne", random_state=1, **same)


def test_two_sessions_asking_for_the_same_projection_compute_it_once(monkeypatch):
    """A session opening the Latent page while the warm-up (or another session) runs the same t-SNE waits
    for that one, shown its progress, instead of running a second t-SNE; if the first fails, it computes."""
    import threading

    calls, started, release, fail = [], threading.Event(), threading.Event(), [True]
    real = projections._tsne

    def slow_tsne(X, *, progress, **kw):
        calls.append(threading.current_thread().name)
        progress(3, 10, "tsne iteration 3")
        started.set()
        release.wait(10)
        if fail[0]:
            fail[0] = False
            raise RuntimeError("the first t-SNE failed")
        return real(X, progress=progress, **kw)

    monkeypatch.setattr(projections, "_tsne", slow_tsne)
    results, seen, waiting = {}, [], threading.Event()

    def relayed(d, t, m=""):
        seen.append((d, t, m))
        waiting.set()

    def run(name, progress=None):
        try:
            results[name] = project(Z[0], method="tsne", n_iter=50, early_exaggeration_iter=25, progress=progress)
        except RuntimeError as exc:
            results[name] = exc

    Z = [None]
    for seed, first_fails in ((5, True), (6, False)):
        Z[0] = np.random.default_rng(seed).normal(size=(30, 4))  # data no other run projects
        calls.clear(), started.clear(), release.clear(), waiting.clear(), seen.clear()
        fail[0] = first_fails
        first = threading.Thread(target=run, args=("first",), name="first")
        first.start()
        assert started.wait(10)
        second = threading.Thread(target=run, args=("second", relayed), name="second")
        second.start()
        assert waiting.wait(10)
        assert calls == ["first"] and (3, 10, "tsne iteration 3") in seen  # waiting, shown the first's progress
        release.set()
        first.join(20)
        second.join(20)
        if first_fails:
            assert isinstance(results["first"], RuntimeError)
            assert calls == ["first", "second"] and results["second"].shape == (30, 2)
        else:  # the second only read what the first cached
            assert calls == ["first"] and seen[-1] == (1, 1, "tsne (cached)")
            np.testing.assert_array_equal(results["first"], results["second"])


def test_cache_key_covers_bytes_dtype_and_params():
    Z = np.arange(12, dtype=np.float64).reshape(6, 2)
    base = cache_key(Z, method="tsne", dim=2, random_state=0, params={"perplexity": 5.0})
    assert base == cache_key(Z.copy(), method="tsne", dim=2, random_state=0, params={"perplexity": 5.0})
    assert base != cache_key(Z.astype(np.float32), method="tsne", dim=2, random_state=0, params={"perplexity": 5.0})
    assert base != cache_key(Z, method="tsne", dim=2, random_state=0, params={"perplexity": 6.0})
    assert base != cache_key(Z.reshape(4, 3), method="tsne", dim=2, random_state=0, params={"perplexity": 5.0})


def test_same_seed_same_projection(blobs):
    Z, _ = blobs
    a = project(Z, method="tsne", random_state=3, cache=False, n_iter=100, early_exaggeration_iter=50)
    b = project(Z, method="tsne", random_state=3, cache=False, n_iter=100, early_exaggeration_iter=50)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_bad_arguments_are_named():
    Z = np.random.default_rng(0).normal(size=(30, 4))
    with pytest.raises(ValueError, match="unknown projection 'mds'"):
        project(Z, method="mds")
    with pytest.raises(ValueError, match="dim must be 2 or 3.*got 4 for tsne"):
        project(Z, method="tsne", dim=4)
    with pytest.raises(ValueError, match="got 1 for pca"):
        project(Z, method="pca", dim=1)
    with pytest.raises(ValueError, match="has no parameter"):
        project(Z, method="umap", perplexity=30)
    with pytest.raises(ValueError, match="min_dist=2"):
        project(Z, method="umap", min_dist=2)
    with pytest.raises(ValueError, match="non-finite"):
        project(np.full((10, 2), np.nan), method="pca")
    with pytest.raises(ValueError, match="at least 5 points"):
        project(Z[:3], method="tsne")


@pytest.mark.slow
def test_warm_up_compiles_umap_once():
    projections.warm_up()  # must not raise; later calls in the process are then fast
    Z = np.random.default_rng(0).normal(size=(60, 3))
    assert project(Z, method="umap", cache=False, n_epochs=20).shape == (60, 2)
    for params in PROJECTION_PARAMS.values():
        for name, p in params.items():
            assert p.check(name, p.default) == p.default


@pytest.mark.parametrize("n", [150, projections.TSNE_EXACT_MAX + 50])
def test_tsne_never_imports_pynndescent(n):
    """openTSNE imports pynndescent only to ask whether it is installed: seconds of numba compilation on a
    fresh machine for an index t-SNE here never uses (exact scikit-learn neighbours, or Annoy above
    TSNE_EXACT_MAX). The projection builds its own index instead (a fresh process, so nothing is loaded)."""
    import subprocess
    import sys

    code = ("import sys, numpy as np; from core.projections import project; "
            f"Y = project(np.random.default_rng(0).normal(size=({n}, 4)), method='tsne', cache=False, "
            "n_iter=50, early_exaggeration_iter=0); "
            "print(Y.shape, 'pynndescent' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=projections.config.ROOT,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "False", out.stdout
    assert f"({n}, 2)" in out.stdout

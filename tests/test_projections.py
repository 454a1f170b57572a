"""Projections: shapes, determinism, cache hits, parameter checks, progress."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.neighbors import KNeighborsClassifier

import core.projections as projections
from core import config
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
    from tests.helpers import race_two_callers

    Z, seeds = [None], iter((5, 6))

    def fresh():  # data no other run projects: a cache miss
        Z[0] = np.random.default_rng(next(seeds)).normal(size=(30, 4))

    reports = []

    def call(progress):
        def both(d, t, m=""):
            reports.append(m)
            if progress:
                progress(d, t, m)
        return project(Z[0], method="tsne", n_iter=50, early_exaggeration_iter=25, progress=both)

    failed, succeeded = race_two_callers(monkeypatch, projections, "_tsne", call, fresh=fresh)
    assert failed["second"].shape == (30, 2)
    np.testing.assert_array_equal(succeeded["first"], succeeded["second"])
    assert "tsne (cached)" in reports  # the second caller was told it read the first one's result


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
def test_warm_up_compiles_umap_once(monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    projections.warm_up()  # must not raise; later calls in the process are then fast
    Z = np.random.default_rng(0).normal(size=(60, 3))
    assert project(Z, method="umap", cache=False, n_epochs=20).shape == (60, 2)
    assert "NUMBA_CACHE_DIR" not in os.environ  # the entry points set numba's cache folder, never the library
    for params in PROJECTION_PARAMS.values():
        for name, p in params.items():
            assert p.check(p.default) == p.default


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
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=config.ROOT,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "False", out.stdout
    assert f"({n}, 2)" in out.stdout


def test_numba_cache_dir_is_made_under_the_data_folder_or_left_to_numba(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "DATA_DIR", tmp_path / "data")
    assert config.numba_cache_dir() == tmp_path / "data" / "cache" / "numba" and config.numba_cache_dir().is_dir()
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setattr(config, "DATA_DIR", tmp_path / "file")
    assert config.numba_cache_dir() is None  # cannot be made: numba keeps its own default


def test_the_command_line_entry_point_points_numba_at_the_data_folder(tmp_path):
    """`python -m core` sets NUMBA_CACHE_DIR before numba loads (the library does not), unless it is set."""
    import subprocess
    import sys

    code = ("import os, runpy, sys\nsys.argv = ['core', '--help']\ntry:\n    runpy.run_module('core', run_name='__main__')\n"
            "except SystemExit:\n    pass\nprint('NUMBA_CACHE_DIR=' + os.environ.get('NUMBA_CACHE_DIR', ''))")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"} | {"SONGSCAPE_DATA": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=config.ROOT, env=env,
                         timeout=120)
    assert f"NUMBA_CACHE_DIR={tmp_path / 'cache' / 'numba'}" in out.stdout, out.stdout + out.stderr[-1000:]
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=config.ROOT, env=env,
                         timeout=120)
    assert f"NUMBA_CACHE_DIR={tmp_path / 'mine'}" in out.stdout, out.stdout + out.stderr[-1000:]

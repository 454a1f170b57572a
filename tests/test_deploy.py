"""Songscape deployed the way a user deploys it: installed by pip outside the checkout, on a real Dask cluster.

The package is installed from a copy of this checkout into a separate folder (``pip install --target``),
and ``dask scheduler`` and ``dask worker`` run as separate processes in a folder outside the checkout,
with that install folder as their only source of ``core``: the README's cluster recipe, run as written.
Every process started here runs in its own process group, killed at teardown.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import core
from core.corpus import load_sources
from core.distributed import ClusterSpec, check_songscape
from core.errors import BadInputError
from core.features.extract import extract
from core.latents import latents_for
from tests.conftest import ROOT
from tests.helpers import tiny_demo

PYTHON = sys.executable
DASK = str(Path(sys.executable).with_name("dask"))
#: What a copy of the checkout leaves out: hidden folders (history, environments, caches), generated data,
#: checkpoints and build leftovers; none of them is part of the package.
NOT_COPIED = shutil.ignore_patterns(".*", "data", "checkpoints", "__pycache__", "build", "dist", "*.egg-info")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nodes:
    """Dask processes started for one test module; each in its own session, so a kill reaches its children."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")
        proc = subprocess.Popen([DASK, *args], cwd=self.folder, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        # a nanny's worker that outlived its parent is still in the group
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _env(site: Path | None, home: Path) -> dict[str, str]:
    """The environment of a process outside the checkout: ``site`` (the install folder) as its only path to
    Songscape, or none at all; its own data and cache folders."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    env.update(SONGSCAPE_DATA=str(home / "data"), SONGSCAPE_CACHE=str(home / "cache"), PYTHONNOUSERSITE="1")
    return env


def _start_cluster(nodes: Nodes, *, scheduler_site: Path | None, worker_sites: list[Path | None],
                   home: Path) -> str:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    nodes.start(f"scheduler-{port}", ["scheduler", "--host", "127.0.0.1", "--port", str(port),
                                      "--no-dashboard"], _env(scheduler_site, home))
    for i, site in enumerate(worker_sites):
        nodes.start(f"worker-{port}-{i}", ["worker", address, "--nthreads", "1", "--no-dashboard",
                                           "--host", "127.0.0.1", "--name", f"w{i}"], _env(site, home))
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(len(worker_sites), timeout=120)
    return address


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """A copy of the checkout installed into its own folder, and a folder outside the checkout to run in."""
    base = tmp_path_factory.mktemp("deploy")
    source, site, run = base / "source", base / "site", base / "run"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    run.mkdir()
    # no build isolation, no index: the build uses the pinned setuptools of this environment, offline
    pip = subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                          "--no-build-isolation", "--no-index", "--target", str(site), str(source)],
                         cwd=run, capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr[-3000:]
    probe = subprocess.run([PYTHON, "-c", "import importlib.util as u; print(u.find_spec('core'))"], cwd=run,
                           env=_env(None, run), capture_output=True, text=True, timeout=60)
    if probe.stdout.strip() != "None":
        pytest.fail(f"this Python imports core outside the checkout ({probe.stdout.strip()}): the deployment "
                    "test needs an environment without Songscape installed (pip uninstall songscape)")
    return site, run


@pytest.fixture(scope="module")
def nodes(deployed):
    started = Nodes(deployed[1])
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    return tiny_demo(tmp_path_factory.mktemp("songs") / "demo", n_tracks=6, seconds=3.0)


def _songscape(site: Path, run: Path, *args: str) -> subprocess.CompletedProcess:
    """The installed console script, run outside the checkout with only the install folder on its path."""
    return subprocess.run([str(site / "bin" / "songscape"), *args], cwd=run, env=_env(site, run),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)


def test_the_package_pins_what_requirements_pins():
    """requirements.txt builds CI's environment; pyproject.toml installs Songscape elsewhere: same versions."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    for dependency in declared:
        name, sep, version = dependency.partition("==")
        assert sep, f"pyproject.toml: {dependency} is not pinned"
        assert pins.get(name.lower()) == version, f"pyproject.toml pins {dependency}, requirements.txt {pins.get(name.lower())}"
    assert {d.partition("==")[0].lower() for d in declared} == set(pins)  # nothing pinned in one file only


def test_the_package_installs_core_and_its_command_only(deployed):
    site, run = deployed
    assert (site / "core" / "__init__.py").is_file() and (site / "bin" / "songscape").is_file()
    assert not any((site / name).exists() for name in ("ui", "views", "bench", "tests", "app.py"))
    out = _songscape(site, run, "--help")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "features" in out.stdout and "encode" in out.stdout
    env = _env(site, run)
    del env["SONGSCAPE_DATA"], env["SONGSCAPE_CACHE"]  # the defaults of an installed package
    where = subprocess.run([PYTHON, "-c", "import core, core.config as c; print(core.__file__); print(c.DATA_DIR)"],
                           cwd=run, env=env, capture_output=True, text=True, timeout=60)
    core_file, data_dir = where.stdout.split("\n")[:2]
    assert Path(core_file).parent == site / "core"
    assert not Path(data_dir).is_relative_to(site)  # an installed package never writes into site-packages


def test_features_and_latents_on_a_deployed_cluster_equal_local_ones(deployed, nodes, corpus_dir):
    site, run = deployed
    address = _start_cluster(nodes, scheduler_site=site, worker_sites=[site, site], home=run)
    source = f"manifest:{corpus_dir / 'manifest.csv'}"
    corpus = load_sources([source])

    features = _songscape(site, run, "features", source, "--cluster", address, "--no-cache", "--out", "f.csv")
    assert features.returncode == 0, features.stderr[-3000:]
    table = pd.read_csv(run / "f.csv")
    local = extract(corpus, kind="gtzan57", n_jobs=1, cache=False)
    assert len(table) == len(local.track_ids) == len(corpus)
    assert np.allclose(table.iloc[:, 2:59].to_numpy(dtype=float), local.X, rtol=1e-5, atol=1e-6)

    checkpoint = ROOT / "checkpoints" / "basic.pt"
    encoded = _songscape(site, run, "encode", str(checkpoint), source, "--cluster", address, "--out", "z.csv")
    assert encoded.returncode == 0, encoded.stderr[-3000:]
    latents = pd.read_csv(run / "z.csv")
    ids, Z = latents_for(checkpoint, corpus)
    assert latents["track_id"].astype(str).tolist() == list(ids)
    assert np.allclose(latents[[f"z{i}" for i in range(Z.shape[1])]].to_numpy(), Z, rtol=1e-5, atol=1e-6)
    # the work ran on the workers, from the installed copy
    assert "No module named" not in nodes.log(f"scheduler-{address.rsplit(':', 1)[1]}")


def test_a_scheduler_and_a_worker_without_songscape_get_one_message_before_any_work(deployed, nodes, corpus_dir):
    site, run = deployed
    address = _start_cluster(nodes, scheduler_site=None, worker_sites=[site, None], home=run)
    out = _songscape(site, run, "features", f"manifest:{corpus_dir / 'manifest.csv'}", "--cluster", address,
                     "--no-cache", "--out", "never.csv")
    assert out.returncode == 2, out.stdout + out.stderr
    # one message on a line of its own (the progress bar's line ended before it), and nothing else but the bar
    errors = [line for line in out.stderr.splitlines() if "error" in line.lower() or "Traceback" in line]
    assert len(errors) == 1 and errors[0].startswith(f"error: --cluster {address}: 2 of 3 Dask nodes"), out.stderr
    message = errors[0]
    assert f"the scheduler {address}: cannot import Songscape (ModuleNotFoundError: No module named 'core')" in message
    bad_workers = [w for w in _worker_addresses(address) if f"worker {w}: cannot import Songscape" in message]
    assert len(bad_workers) == 1  # the worker started without the package, not the one with it
    assert f"{PYTHON} -m pip install " in message and "restart" in message
    assert not (run / "never.csv").exists()
    assert "deserializ" not in nodes.log(f"scheduler-{address.rsplit(':', 1)[1]}").lower()  # nothing was sent


def _worker_addresses(address: str) -> list[str]:
    from distributed import Client

    with Client(address, timeout=60) as client:
        return sorted(client.scheduler_info()["workers"])


# ------------------------------------------------------- the check itself, on the answers nodes give
class FakeClient:
    """What check_songscape asks a distributed.Client, answered by ``probe`` results per node."""

    def __init__(self, scheduler: dict, workers: dict[str, dict]):
        self.scheduler = type("Rpc", (), {"address": "tcp://head:8786"})()
        self._answers = scheduler, workers

    def run_on_scheduler(self, fn):
        assert callable(fn)
        return self._answers[0]

    def run(self, fn):
        return self._answers[1]


SPEC = ClusterSpec("tcp://head:8786", "tcp", address="tcp://head:8786")


def _node(version: str | None = None, distribution: str = core.__distribution__, error: str | None = None) -> dict:
    if error:
        return {"python": "/opt/env/bin/python", "error": error}
    return {"python": "/opt/env/bin/python", "version": version or core.__version__, "distribution": distribution,
            "file": "/opt/env/site-packages/core/__init__.py"}


def test_nodes_running_this_version_pass_the_check():
    check_songscape(FakeClient(_node(), {"tcp://a:1": _node(), "tcp://b:1": _node()}), SPEC)


def test_version_skew_names_the_node_and_both_versions():
    client = FakeClient(_node(), {"tcp://a:1": _node(), "tcp://b:1": _node(version="0.0.1")})
    with pytest.raises(BadInputError) as err:
        check_songscape(client, SPEC)
    text = str(err.value)
    assert text.startswith("--cluster tcp://head:8786: 1 of 3 Dask nodes")
    assert f"worker tcp://b:1: runs Songscape 0.0.1, this client {core.__version__}" in text
    assert "tcp://a:1" not in text and "the scheduler" not in text
    assert "`/opt/env/bin/python -m pip install " in text


def test_another_package_named_core_is_not_taken_for_songscape():
    client = FakeClient(_node(distribution=None), {"tcp://a:1": _node(error="ImportError: broken")})
    with pytest.raises(BadInputError) as err:
        check_songscape(client, SPEC)
    text = str(err.value)
    assert "the scheduler tcp://head:8786: imports a package named core that is not Songscape" in text
    assert "worker tcp://a:1: cannot import Songscape (ImportError: broken)" in text


def test_a_scheduler_without_workers_is_named_with_the_command_that_starts_them():
    from distributed import LocalCluster

    from core.distributed import open_client

    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=":0") as empty:
        with pytest.raises(BadInputError, match="the Dask scheduler has no workers") as err:
            with open_client(empty.scheduler_address, timeout=1):
                pass
    assert f"`dask worker {empty.scheduler_address} --nthreads 1`" in str(err.value)

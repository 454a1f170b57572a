"""Feature extraction on a real Dask cluster: a LocalCluster of 2 worker processes on 127.0.0.1.

One cluster serves the module (reached by its tcp:// address, as an existing scheduler
would be); the CLI test starts its own with ``--cluster local:2``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.cli import main as cli_main
from core.corpus.fma import load_fma
from core.distributed import open_client, parse_cluster
from core.errors import BadInputError
from core.cache import FeatureCache
from core.features.distributed import compute_on_cluster
from core.features.extract import _work, extract
from tests.helpers import fma_folder

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------ task functions (imported by the workers)
def failing_work(path: str, kind: str, params: dict | None):
    """A per-clip function that raises on the worker for one clip."""
    if Path(path).name == "000005.mp3":
        raise RuntimeError(f"decoder crashed on {Path(path).name}")
    return _work(path, kind, params)


def sleepy_work(path: str, kind: str, params: dict | None):
    """The first attempt at the 'slow' clip records its worker's pid and hangs until it is killed."""
    marker = Path(path).with_suffix(".started")
    if Path(path).name == "000010.mp3" and not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(120)
    return _work(path, kind, params)


# ------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def fma(tmp_path_factory):
    return fma_folder(tmp_path_factory.mktemp("fma"))


@pytest.fixture(scope="module")
def local_features(fma):
    """Features computed in this process (this also fills numba's on-disk cache for the workers)."""
    return extract(load_fma(fma), kind="gtzan57", n_jobs=1, cache=False)


@pytest.fixture(scope="module")
def scheduler(local_features):
    """The address of a running scheduler with 2 worker processes."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


# ----------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("text, message", [
    ("local:0", "N in local:N"), ("local:two", "N in local:N"), ("tcp://", "expected tcp://HOST:PORT"),
    ("tcp://host:99999", "expected tcp://HOST:PORT"), ("udp://host:1", "unknown cluster"), ("8786", "unknown cluster"),
])
def test_bad_cluster_values_name_the_option(text, message):
    with pytest.raises(BadInputError, match=message) as err:
        parse_cluster(text)
    assert str(err.value).startswith(f"--cluster {text}:")


def test_cluster_values():
    assert parse_cluster("local:3").n_workers == 3
    assert parse_cluster("tcp://10.0.0.5:9000").address == "tcp://10.0.0.5:9000"
    assert parse_cluster("tcp://sched").address == "tcp://sched:8786"


def test_no_scheduler_answering_is_a_clear_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BadInputError, match=rf"--cluster tcp://127.0.0.1:{port}: no Dask scheduler answered within 1 s"):
        with open_client(f"tcp://127.0.0.1:{port}", timeout=1):
            pass


def test_cluster_features_equal_local_ones(fma, local_features, scheduler):
    done: list[tuple[int, int]] = []
    fs = extract(load_fma(fma), kind="gtzan57", cache=False, cluster=scheduler,
                 progress=lambda d, t, m="": done.append((d, t)))
    assert fs.track_ids == local_features.track_ids == ["000002", "000005", "000010"]
    assert np.allclose(fs.X, local_features.X)
    # the silent clip failed on a worker and comes back with that worker's message
    assert [(Path(s.path).name, s.reason) for s in fs.skipped] == [("001039.mp3", "silent: peak level below -100 dBFS")]
    assert done[-1] == (4, 4) and [d for d, _ in done] == list(range(5))  # each clip counted once


def test_a_task_that_raises_on_a_worker_is_listed_with_its_message(fma, scheduler):
    paths = load_fma(fma).tracks["path"].tolist()
    out = list(compute_on_cluster(paths, work=failing_work, kind="gtzan57", params=None, cluster=scheduler))
    reasons = {Path(p).name: r for p, X, r in out if X is None}
    assert sorted(Path(p).name for p, _, _ in out) == sorted(Path(p).name for p in paths)
    assert reasons["000005.mp3"] == "failed on a Dask worker (RuntimeError: decoder crashed on 000005.mp3)"
    assert set(reasons) == {"000005.mp3", "001039.mp3"}


def test_a_killed_worker_loses_and_duplicates_nothing(tmp_path, local_features, scheduler):
    root = fma_folder(tmp_path, {tid: ("small", "Rock", "[12]", "en", 3.0) for tid in (2, 5, 10)})
    paths = load_fma(root).tracks["path"].tolist()
    marker = Path(paths[2]).with_suffix(".started")
    killed: list[int] = []

    def kill_when_started():
        for _ in range(600):
            if marker.exists() and marker.read_text():
                pid = int(marker.read_text())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_when_started, daemon=True)
    killer.start()
    out = list(compute_on_cluster(paths, work=sleepy_work, kind="gtzan57", params=None, cluster=scheduler))
    killer.join(timeout=1)
    assert killed and killed[0] != os.getpid()
    assert sorted(p for p, _, _ in out) == sorted(paths)  # every clip once
    assert all(reason is None for _, _, reason in out)
    by_path = {p: X for p, X, _ in out}
    assert np.allclose(np.stack([by_path[p] for p in paths]), local_features.X)  # same tones, same ids as the fixture


def test_workers_write_a_shared_cache(fma, local_features, tmp_path, scheduler):
    cache = FeatureCache(tmp_path / "shared")
    fs = extract(load_fma(fma), kind="gtzan57", cache=cache, cluster=scheduler, shared_cache=True)
    stored = sorted((tmp_path / "shared" / "gtzan57").rglob("*.npy"))
    assert len(stored) == 3  # written by the workers: the client does not store in this mode
    messages: list[str] = []
    again = extract(load_fma(fma), kind="gtzan57", cache=cache, n_jobs=1,
                    progress=lambda d, t, m="": messages.append(m))
    assert messages.count("cached") == 3 and np.array_equal(again.X, fs.X)


def test_cli_features_on_a_local_cluster(fma, local_features, tmp_path):
    out = tmp_path / "f.csv"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "core", "features", f"fma:{fma}", "--cluster", "local:2",
                          "--no-cache", "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    table = pd.read_csv(out)
    assert table["filename"].tolist() == ["000002.mp3", "000005.mp3", "000010.mp3"]
    assert np.allclose(table.iloc[:, 2:59].to_numpy(), local_features.X)
    assert "001039.mp3: silent" in run.stderr and "000141.mp3: too short" in run.stderr


def test_cli_rejects_a_bad_cluster_before_loading(capsys, tmp_path):
    assert cli_main(["features", str(tmp_path / "nowhere"), "--cluster", "local:x", "--out", str(tmp_path / "f.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --cluster local:x: N in local:N") and "Traceback" not in err
    assert cli_main(["features", "demo", "--shared-cache", "--out", str(tmp_path / "f.csv")]) == 2
    assert "--shared-cache needs --cluster" in capsys.readouterr().err


def test_dask_is_imported_only_when_a_cluster_is_used():
    code = ("import sys; import core.cli, core.features.extract, core.corpus.specs; core.cli.build_parser(); "
            "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[]"


def _serve_once(greeting: bytes | None) -> tuple[int, threading.Event]:
    """A TCP service on 127.0.0.1 that accepts connections and sends ``greeting`` (None: sends nothing and
    waits, like a web server waiting for a request), until the returned event is set."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve():
        held = []
        with server:
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                held.append(conn)
                if greeting is not None:
                    conn.sendall(greeting)
        for conn in held:
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1], stop


@pytest.mark.parametrize("greeting, said", [
    (None, r"it sent nothing within 1 s \(a web server\?"),
    (b"SSH-2.0-OpenSSH_9.6 banner of a service that is not Dask\r\n", r"it answered b'SSH-2\.0-OpenSSH_9\.6 banner"),
    ((2**62).to_bytes(8, "little") + b"x" * 32, r"it answered b'\\x00\\x00"),
])
def test_an_address_that_is_not_a_dask_scheduler_is_named_within_the_timeout(greeting, said):
    port, stop = _serve_once(greeting)
    outcome: list[BaseException | None] = []

    def connect():
        try:
            with open_client(f"tcp://127.0.0.1:{port}", timeout=1):
                outcome.append(None)
        except BaseException as exc:  # what the caller would see, whatever it is
            outcome.append(exc)

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(60)  # the bound is 1 s; a client that trusts the peer hangs here (or allocates exbibytes)
    stop.set()
    assert not worker.is_alive(), "connecting to a service that is not Dask did not end"
    assert len(outcome) == 1 and isinstance(outcome[0], BadInputError), outcome
    assert str(outcome[0]).startswith(f"--cluster tcp://127.0.0.1:{port}: something listens at 127.0.0.1:{port}, "
                                      "but it is not a Dask scheduler")
    assert re.search(said, str(outcome[0])), str(outcome[0])

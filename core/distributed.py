"""Per-item work on a Dask cluster: what ``--cluster`` means, everywhere it is offered.

Values of ``--cluster`` (:func:`parse_cluster`)::

    local:N           start a LocalCluster of N worker processes (one thread each) on
                      127.0.0.1 for this run, and shut it down afterwards
    tcp://HOST:PORT   send the work to a running scheduler (``dask scheduler`` plus
                      ``dask worker tcp://HOST:PORT`` on every machine); PORT defaults to 8786

Without ``--cluster`` callers keep their local process pool (:mod:`core.parallel`).

:func:`run_keyed` submits one task per item, under a key derived from the item's
own key, and yields each item's outcome exactly once, in completion order (feed
``progress(done, total, message)`` from it). A task that raises comes back as
``(key, None, message)``; a task whose worker dies is rescheduled by the
scheduler on another worker, and only when workers have died
``distributed.scheduler.allowed-failures`` times (default 3) on the same item is
it reported as failed. Results are released on the workers as soon as the client
has them, so cluster memory does not grow with the corpus.

Workers must see the inputs at the paths the client uses (the same mount on
every machine). The scheduler and every worker must import the same Songscape
version as the client: the scheduler unpickles the task graph, which names
``core`` functions. :func:`check_songscape` checks this when a client opens,
before any work is sent, and names each node that differs and the command that
fixes it. ``dask`` and ``distributed``
are an optional heavy dependency: they are imported inside the functions below,
only when a cluster is used, so ``python -m core --help`` stays light. This
module imports nothing from the rest of ``core`` above the utility layer.
"""

from __future__ import annotations

import hashlib
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import core
from core.errors import BadInputError
from core.parallel import hidden_main_script

#: Seconds to wait for a scheduler (and for a LocalCluster's workers) before giving up.
CONNECT_TIMEOUT = 10.0
#: Re-runs of a task that *raised* (a worker that died is handled by the scheduler's allowed-failures).
RETRIES = 1
#: Default port of ``dask scheduler``.
DEFAULT_PORT = 8786
#: Upper bound for ``local:N``, a typo guard (``local:80`` meant ``tcp://...:80``?).
MAX_LOCAL_WORKERS = 256

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+)(?::(?P<port>\d+))?$")


@dataclass(frozen=True)
class ClusterSpec:
    """A parsed ``--cluster`` value: ``kind`` "local" with ``n_workers``, or "tcp" with ``address``."""

    text: str
    kind: str
    n_workers: int = 0
    address: str = ""


def parse_cluster(text: str) -> ClusterSpec:
    """Parse ``local:N`` or ``tcp://HOST[:PORT]``; a bad value raises BadInputError naming ``--cluster``."""
    raw = str(text).strip()
    scheme, sep, rest = raw.partition(":")
    if sep and scheme.lower() == "local":
        if not rest.isdigit() or not 1 <= int(rest) <= MAX_LOCAL_WORKERS:
            raise BadInputError(None, f"--cluster {raw}: N in local:N must be a whole number of worker "
                                      f"processes from 1 to {MAX_LOCAL_WORKERS}, e.g. local:2")
        return ClusterSpec(raw, "local", n_workers=int(rest))
    if sep and scheme.lower() == "tcp" and rest.startswith("//"):
        m = _HOST_PORT.match(rest[2:])
        port = int(m["port"]) if m and m["port"] else DEFAULT_PORT
        if m is None or not 1 <= port <= 65535:
            raise BadInputError(None, f"--cluster {raw}: expected tcp://HOST:PORT with a host name or IP "
                                      "and a port from 1 to 65535, e.g. tcp://10.0.0.5:8786")
        return ClusterSpec(raw, "tcp", address=f"tcp://{m['host']}:{port}")
    raise BadInputError(None, f"--cluster {raw or repr(raw)}: unknown cluster; expected local:N (start N "
                              "worker processes here) or tcp://HOST:PORT (an existing Dask scheduler)")


@contextmanager
def open_client(cluster: str | ClusterSpec, *, timeout: float = CONNECT_TIMEOUT) -> Iterator[Any]:
    """A ``distributed.Client`` for ``cluster``, closed (and a LocalCluster shut down) on exit."""
    spec = cluster if isinstance(cluster, ClusterSpec) else parse_cluster(cluster)
    try:
        # dask/distributed: optional heavy dependency, imported only when a cluster is asked for
        from distributed import Client, LocalCluster
    except ImportError:
        raise BadInputError(None, f"--cluster {spec.text}: needs the 'dask' and 'distributed' packages "
                                  "(pip install -r requirements.txt)") from None
    if spec.kind == "local":
        # hidden for the cluster's whole life: nannies re-spawn workers that die
        with hidden_main_script():
            with LocalCluster(n_workers=spec.n_workers, threads_per_worker=1, processes=True,
                              host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR) as local:
                with Client(local, timeout=timeout) as client:
                    check_songscape(client, spec)
                    yield client
        return
    _expect_scheduler(spec, timeout)
    try:
        client = Client(spec.address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise BadInputError(None, f"--cluster {spec.text}: no Dask scheduler answered within {timeout:g} s "
                                  f"({_first_line(exc)})") from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise BadInputError(None, f"--cluster {spec.text}: the Dask scheduler has no workers (none joined "
                                      f"within {timeout:g} s); start them with `dask worker {spec.address} "
                                      "--nthreads 1` on each machine") from None
        check_songscape(client, spec)
        yield client
    finally:
        client.close()


def songscape_probe() -> Callable[[], dict]:
    """A function that says which Songscape the process running it can import.

    Defined inside this function on purpose: cloudpickle sends a nested function by value, so a
    node that cannot import ``core`` can still run it, whereas a module-level function travels by
    reference and unpickling it would need the very import being checked. For the same reason it
    uses nothing from this module (its globals would travel by reference too).
    """
    def probe() -> dict:
        import sys

        try:
            import core as found
        except Exception as exc:  # whatever stops the import is what the node must fix
            return {"python": sys.executable, "error": f"{type(exc).__name__}: {exc}"}
        return {"python": sys.executable, "version": getattr(found, "__version__", None),
                "distribution": getattr(found, "__distribution__", None),
                "file": str(getattr(found, "__file__", "") or "")}

    return probe


def check_songscape(client: Any, spec: ClusterSpec) -> None:
    """Raise BadInputError, before any work is sent, unless every node runs this client's Songscape.

    Asks the scheduler and each worker connected now which ``core`` they import; one message names
    every node that cannot import it, imports another package's ``core`` or another version, with
    the command that installs this version there.
    """
    probe = songscape_probe()
    nodes = [(f"the scheduler {client.scheduler.address}", client.run_on_scheduler(probe))]
    nodes += [(f"worker {address}", info) for address, info in sorted(client.run(probe).items())]
    wrong = [(node, why, info.get("python") or "python") for node, info in nodes
             if (why := songscape_mismatch(info, core.__version__))]
    if wrong:
        raise BadInputError(None, songscape_message(spec, wrong, n_nodes=len(nodes)))


def songscape_mismatch(info: dict, version: str) -> str:
    """What is wrong with a node whose probe answered ``info`` ("" when it runs Songscape ``version``)."""
    if "error" in info:
        return f"cannot import Songscape ({_first_line(info['error'])})"
    if info.get("distribution") != core.__distribution__:
        return f"imports a package named core that is not Songscape ({info.get('file') or 'no file'})"
    if info.get("version") != version:
        return f"runs Songscape {info.get('version')}, this client {version}"
    return ""


def songscape_message(spec: ClusterSpec, wrong: list[tuple[str, str, str]], *, n_nodes: int) -> str:
    """The one message for the nodes of ``wrong`` ((node, what is wrong, its Python)), with the fix."""
    pythons = {python for _, _, python in wrong}
    python = pythons.pop() if len(pythons) == 1 else "python"
    listed = "; ".join(f"{node}: {why}" for node, why, _ in wrong)
    target, note = install_target()
    return (f"--cluster {spec.text}: {len(wrong)} of {n_nodes} Dask nodes do not run this client's Songscape "
            f"{core.__version__}, so no work was sent: {listed}. Install it into the Python that runs dask on "
            f"each of them and restart that dask process: `{python} -m pip install {target}`{note}")


def install_target() -> tuple[str, str]:
    """What ``pip install`` needs to install this client's Songscape with the Dask extra, and a note on it."""
    root = Path(core.__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file():  # a checkout (or an editable install of one)
        return f"'{root}[dask]'", ""
    # installed from a wheel or a copy of a checkout: the same file gives the same version elsewhere
    return (f"'songscape-{core.__version__}-py3-none-any.whl[dask]'",
            " (the wheel or checkout this client was installed from)")


#: Longest first message a Dask scheduler sends (its handshake: a few hundred bytes of msgpack).
MAX_HANDSHAKE_BYTES = 1 << 16


def _expect_scheduler(spec: ClusterSpec, timeout: float) -> None:
    """Check, within ``timeout`` seconds in all, that a Dask scheduler is what listens at ``spec.address``.

    ``distributed.Client`` trusts the peer: a web server, which waits for a request, makes it wait for
    ever, and a service that greets with text makes it read the text as a frame length and try to
    allocate exbibytes. A Dask scheduler speaks first: an 8-byte frame length, then a small msgpack
    handshake naming its ``compression`` and ``python``. Read that much, no more, and stop in time.
    """
    import socket
    import struct
    import time

    host, _, port = spec.address[len("tcp://"):].rpartition(":")
    host = host.strip("[]")
    deadline = time.monotonic() + timeout
    not_dask = (f"--cluster {spec.text}: something listens at {host}:{port}, but it is not a Dask scheduler")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            def read(n: int) -> bytes:
                data = b""
                while len(data) < n:
                    sock.settimeout(max(0.01, deadline - time.monotonic()))
                    chunk = sock.recv(n - len(data))
                    if not chunk:
                        break
                    data += chunk
                return data

            try:
                head = read(8)
            except socket.timeout:
                raise BadInputError(None, f"{not_dask}: it sent nothing within {timeout:g} s (a web server? "
                                          f"a scheduler listens on {DEFAULT_PORT} by default, its dashboard on "
                                          "8787)") from None
            size = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
            if 0 < size <= MAX_HANDSHAKE_BYTES:
                body = read(size)
            else:  # not a frame length: a little more of what it sent, for the message
                sock.settimeout(0.2)
                try:
                    body = sock.recv(32) if len(head) == 8 else b""
                except OSError:
                    body = b""
            if not (b"compression" in body and b"python" in body):
                raise BadInputError(None, f"{not_dask}: it answered {(head + body)[:40]!r}")
    except socket.timeout:
        raise BadInputError(None, f"--cluster {spec.text}: no Dask scheduler answered within {timeout:g} s "
                                  "(timed out)") from None
    except OSError as exc:
        raise BadInputError(None, f"--cluster {spec.text}: no Dask scheduler answered within {timeout:g} s "
                                  f"({exc.strerror or type(exc).__name__})") from None


def run_keyed(client: Any, fn: Callable, items: Mapping[str, tuple], *, name: str = "songscape",
              retries: int = RETRIES, warm_up: bool = False,
              **kwargs) -> Iterator[tuple[str, Any, str | None]]:
    """Run ``fn(*items[key], **kwargs)`` on the cluster for every key; yield each outcome once.

    Parameters
    ----------
    client : distributed.Client
    fn : importable module-level function (workers import it by name)
    items : {key: args}; keys are unique item ids (a track's audio path, a track id)
    name : prefix of the Dask task keys (shown on the Dask dashboard)
    retries : re-runs of a task that raised
    warm_up : run one item on one worker per host first, then the rest. Use it when the
        first call on a host fills an on-disk cache (numba's) that concurrent first calls
        could corrupt.

    Yields
    ------
    (key, result, None) or (key, None, message), in completion order, once per key
    """
    keys = list(items)
    if not keys:
        return
    token = hashlib.sha1(f"{fn.__module__}.{fn.__qualname__}|{sorted(kwargs.items())!r}".encode()).hexdigest()[:8]
    task_key = {k: f"{name}-{token}-{hashlib.sha1(k.encode('utf-8')).hexdigest()[:20]}" for k in keys}
    item_of = {v: k for k, v in task_key.items()}
    seen: set[str] = set()
    futures: list = []

    def submit(batch: list[str], workers: list[str] | None = None) -> list:
        if workers:
            fresh = [client.submit(fn, *items[k], key=task_key[k], workers=[w], allow_other_workers=True,
                                   retries=retries, **kwargs) for k, w in zip(batch, workers)]
        else:
            columns = [list(c) for c in zip(*(items[k] for k in batch))]
            fresh = client.map(fn, *columns, key=[task_key[k] for k in batch], retries=retries, **kwargs)
        futures.extend(fresh)
        return fresh

    try:
        start = 0
        if warm_up:
            hosts: dict[str, str] = {}
            for address, info in sorted(client.scheduler_info()["workers"].items()):
                hosts.setdefault(info.get("host", address), address)
            first = keys[:len(hosts)]
            yield from _outcomes(submit(first, list(hosts.values())[:len(first)]), item_of, seen)
            start = len(first)
        if start < len(keys):
            yield from _outcomes(submit(keys[start:]), item_of, seen)
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:  # the caller stopped early (error, Ctrl-C): free the cluster
            client.cancel(pending)


def _outcomes(futures: list, item_of: dict[str, str], seen: set[str]) -> Iterator[tuple[str, Any, str | None]]:
    # dask/distributed: optional heavy dependency (see open_client)
    from distributed import KilledWorker, as_completed

    for fut in as_completed(futures):
        key = item_of[fut.key]
        try:
            value, message = fut.result(), None
        except KilledWorker as exc:
            value, message = None, f"Dask workers died while processing it ({_first_line(exc)})"
        except Exception as exc:  # the task's own error, raised on the worker
            value, message = None, f"failed on a Dask worker ({type(exc).__name__}: {_first_line(exc)})"
        fut.release()
        if key in seen:
            continue
        seen.add(key)
        yield key, value, message


def _first_line(exc: BaseException | str) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]

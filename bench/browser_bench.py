"""Debian's Chromium and a dashboard server on a free loopback port: what the benchmarks and the browser tests
that drive the dashboard share (``bench.browser_bench``, imported by the benchmarks and the tests)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
#: Debian's Chromium (never a browser that Playwright downloads); None where it is not installed.
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
#: Headless, offline, no sandbox (CI runs as root), /tmp instead of a small /dev/shm.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

#: JavaScript for ``page.wait_for_function``: true once a Plotly figure on the page has drawn points.
HAS_POINTS = ("() => Array.from(document.querySelectorAll('.js-plotly-plot')).some(g => g._fullData && "
              "g._fullData.length > 0 && g._fullData[0].x && g._fullData[0].x.length > 0)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(changes: dict[str, str | None] | None = None) -> dict[str, str]:
    """``os.environ`` with ``changes`` applied (a value of None removes that variable) and unbuffered output."""
    full = dict(os.environ, PYTHONUNBUFFERED="1")
    for name, value in (changes or {}).items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    return full


def start_dashboard(env: dict[str, str | None] | None = None, *, output: int | IO | None = subprocess.DEVNULL,
                    text: bool = False) -> tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` headless on a free 127.0.0.1 port, in :func:`environment` ``(env)``.

    Its stdout and stderr go to ``output`` (a file, ``subprocess.PIPE`` or DEVNULL). Returns (process, URL);
    see :func:`wait_healthy` and :func:`stop_server`."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=ROOT, env=environment(env), stdout=output, stderr=subprocess.STDOUT, text=text)
    return proc, f"http://127.0.0.1:{port}"


def stop_server(proc: subprocess.Popen, *, wait: float = 10.0) -> bool:
    """SIGTERM the dashboard ``proc``; SIGKILL it if it has not ended after ``wait`` s. True if it ended on SIGTERM."""
    proc.terminate()
    try:
        proc.wait(wait)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        return False


def wait_healthy(url: str, *, timeout: float = 60.0, pause: float = 0.3) -> bool:
    """Poll the dashboard at ``url`` until its health endpoint answers "ok" (True), or ``timeout`` s pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return True
        except OSError:
            time.sleep(pause)
    return False

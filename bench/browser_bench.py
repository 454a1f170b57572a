"""Pieces shared by the benchmarks that drive the dashboard in Chromium (importable as ``browser_bench``:
each script's own folder is first on ``sys.path`` when it runs as ``python bench/NAME.py``)."""

from __future__ import annotations

import subprocess
import time
import urllib.request

#: JavaScript for ``page.wait_for_function``: true once a Plotly figure on the page has drawn points.
HAS_POINTS = ("() => Array.from(document.querySelectorAll('.js-plotly-plot')).some(g => g._fullData && "
              "g._fullData.length > 0 && g._fullData[0].x && g._fullData[0].x.length > 0)")


def stop_server(proc: subprocess.Popen, *, wait: float = 10.0) -> bool:
    """SIGTERM the dashboard ``proc``; SIGKILL it if it has not ended after ``wait`` s. True if it ended on SIGTERM."""
    proc.terminate()
    try:
        proc.wait(wait)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        return False


def wait_healthy(url: str, *, tries: int = 200, pause: float = 0.3) -> bool:
    """Poll the dashboard at ``url`` until its health endpoint answers "ok" (True), or give up (False)."""
    for _ in range(tries):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return True
        except OSError:
            time.sleep(pause)
    return False

"""Benchmark: the first run on a fresh clone, how long until the dashboard answers.

Run:  .venv/bin/python -m bench.bench_first_run [--skip-full] [--skip-browser]

Everything runs on EMPTY data folders (no demo corpus, no feature/latent/projection caches, no
numba cache: `NUMBA_CACHE_DIR` inside the folder), as on a fresh clone after the venv install:

1. **start.sh**: the `python -m core prepare ...` line of `scripts/start.sh` (read from the script,
   so the bench follows it), timed from start to exit, with the seconds spent in each progress
   stage (read from its progress bars); then `streamlit run app.py` on that folder: seconds until
   the server answers, then from the browser's first request (Debian's Chromium) to the Explore
   scatter having points; then, with the server still running, seconds until its background
   warm-up reports that every shipped checkpoint is prepared (when the dashboard has one);
2. **full prepare**: `python -m core prepare` (the README's command) on another empty folder.

The two stages run one after the other, so compare runs of the same session: load from other
processes moves every number (the script prints the load average before each stage).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.browser_bench import (CHROMIUM, FLAGS, HAS_POINTS, environment, start_dashboard, stop_server,
                           wait_healthy)

ROOT = Path(__file__).resolve().parent.parent
STAGE = re.compile(r"^\s*([A-Za-z][\w .\-]*?)\s*:\s+\d+%")
WARM_DONE = "background warm-up done"


def _env(data: Path) -> dict[str, str | None]:
    """What changes in the environment: data and caches under ``data``, no corpus or warm-up settings."""
    return {"SONGSCAPE_DATA": str(data), "SONGSCAPE_CACHE": str(data / "cache"),
            "NUMBA_CACHE_DIR": str(data / "cache" / "numba"), "SONGSCAPE_CORPUS": None, "SONGSCAPE_NO_WARMUP": None}


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def start_sh_prepare() -> list[str]:
    """The prepare command of scripts/start.sh, with this Python."""
    for line in (ROOT / "scripts" / "start.sh").read_text().splitlines():
        if "-m core prepare" in line and not line.lstrip().startswith(("#", "echo")):
            words = shlex.split(line)
            return [sys.executable] + words[words.index("-m"):]
    raise SystemExit("scripts/start.sh has no `-m core prepare` line")


def timed(command: list[str], data: Path) -> tuple[float, dict[str, tuple[float, float]], str]:
    """Wall seconds of ``command``, {progress stage: (first seen, last seen)} and its last output line."""
    stages: dict[str, tuple[float, float]] = {}
    tail: list[str] = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=environment(_env(data)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    buf = b""
    while True:
        chunk = proc.stdout.read1(4096)
        if not chunk:
            break
        buf += chunk
        *lines, buf = re.split(rb"[\r\n]", buf)
        now = time.perf_counter() - t0
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            if line.strip():
                tail = (tail + [line])[-5:]
            m = STAGE.match(line)
            if m:
                first, _ = stages.get(m.group(1), (now, now))
                stages[m.group(1)] = (first, now)
    proc.wait()
    if proc.returncode:
        raise SystemExit(f"{' '.join(command[1:])} failed ({proc.returncode}):\n" + "\n".join(tail))
    return time.perf_counter() - t0, stages, tail[-1] if tail else ""


def report(title: str, seconds: float, stages: dict, last: str) -> None:
    print(f"\n## {title}")
    print(f"wall: {seconds:.1f} s")
    for name, (first, last_seen) in stages.items():
        print(f"  {name:<24} {first:6.1f} → {last_seen:6.1f} s")
    print(f"  {last}")


def serve(data: Path, settle: float) -> dict[str, float]:
    """Start the dashboard on ``data``; seconds to health, browser request → scatter, server start → warm-up done."""
    from playwright.sync_api import sync_playwright  # optional: only this part needs Playwright

    out: dict[str, float] = {}
    t0 = time.perf_counter()
    proc, url = start_dashboard(_env(data), output=subprocess.PIPE, text=True)

    def watch() -> None:
        for line in proc.stdout:
            if WARM_DONE in line:
                out["warm-up done (from server start)"] = time.perf_counter() - t0

    threading.Thread(target=watch, daemon=True).start()
    try:
        if not wait_healthy(url, timeout=600, pause=0.2):
            raise SystemExit(f"the dashboard did not answer at {url} within 600 s")
        out["server answers"] = time.perf_counter() - t0
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page()
            t = time.perf_counter()
            page.goto(url)
            page.wait_for_function(HAS_POINTS, timeout=600_000)
            out["first scatter (from the browser's request)"] = time.perf_counter() - t
            # a dashboard without the background warm-up (it prepared everything before) is not waited for
            deadline = time.perf_counter() + (settle if WARM_DONE in (ROOT / "ui" / "state.py").read_text() else 0)
            while "warm-up done (from server start)" not in out and time.perf_counter() < deadline:
                page.wait_for_timeout(500)
            browser.close()
    finally:
        if not stop_server(proc, wait=15):
            out["server did not stop on SIGTERM within 15 s (killed)"] = float("nan")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-full", action="store_true", help="do not time the full `python -m core prepare`")
    ap.add_argument("--skip-browser", action="store_true", help="do not start the dashboard")
    ap.add_argument("--settle", type=float, default=300.0,
                    help="longest wait for the dashboard's background warm-up after the first scatter (s)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="songscape-first-run-") as tmp:
        command = start_sh_prepare()
        data = Path(tmp) / "start"
        print(f"load average before start.sh's prepare: {_load()}")
        seconds, stages, last = timed(command, data)
        report(f"start.sh: {' '.join(command[1:])}", seconds, stages, last)
        if not args.skip_browser:
            served = serve(data, args.settle)
            print("\n## streamlit run app.py on that folder")
            for name, value in served.items():
                print(f"  {name:<45} {value:6.1f} s")
            scatter = served.get("first scatter (from the browser's request)", float("nan"))
            print(f"  prepare + server start + first scatter: {seconds + served['server answers'] + scatter:.1f} s")
            if "warm-up done (from server start)" not in served:
                print("  no background warm-up reported (this version prepares everything before the server,"
                      f" or it took over {args.settle:.0f} s)")
        if not args.skip_full:
            data = Path(tmp) / "full"
            print(f"\nload average before the full prepare: {_load()}")
            seconds, stages, last = timed([sys.executable, "-m", "core", "prepare"], data)
            report("python -m core prepare (every shipped checkpoint)", seconds, stages, last)


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))

"""The dashboard's server settings: bound to this machine, no DNS rebinding, no file watcher.

A real Streamlit server is started with the project's `.streamlit/config.toml` (on a tiny
script, so no corpus is loaded) and spoken to over raw HTTP on 127.0.0.1.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".streamlit" / "config.toml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _upgrade_status(port: int, host_header: str) -> str:
    """Status line of a websocket upgrade request to the app's stream with this Host header."""
    request = (
        "GET /_stcore/stream HTTP/1.1\r\n"
        f"Host: {host_header}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: streamlit\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request.encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(1024)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


def test_config_binds_to_localhost_and_never_watches_files():
    server = tomllib.loads(CONFIG.read_text())["server"]
    assert server["address"] == "127.0.0.1"
    assert server["fileWatcherType"] == "none"
    assert set(server["allowedHosts"]) == {"localhost", "127.0.0.1", "::1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    script = tmp_path_factory.mktemp("app") / "hello.py"
    script.write_text("import streamlit as st\nst.write('hello')\n")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"streamlit exited: {proc.stdout.read().decode(errors='replace')}")
                time.sleep(0.3)
        else:
            pytest.fail("streamlit did not start within 60 s")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_websocket_accepts_the_local_host_names(server):
    assert " 101 " in _upgrade_status(server, f"localhost:{server}") + " "
    assert " 101 " in _upgrade_status(server, f"127.0.0.1:{server}") + " "


def test_websocket_refuses_a_rebound_host_name(server):
    """A DNS-rebinding page reaches 127.0.0.1 under its own name: the Host header gives it away."""
    status = _upgrade_status(server, f"attacker.example:{server}")
    assert " 101 " not in status + " ", status
    assert status.startswith("HTTP/1.1 4"), status


def test_server_listens_on_loopback_only(server):
    """Nothing answers on the machine's other addresses."""
    others = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    others -= {"127.0.0.1"}
    others = {a for a in others if not a.startswith("127.")}
    if not others:
        pytest.skip("this machine has no non-loopback IPv4 address")
    for address in others:
        with pytest.raises(OSError):
            socket.create_connection((address, server), timeout=2).close()

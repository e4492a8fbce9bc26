"""The production server: real waitress on a loopback port, stopped cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.postgres import free_port
from tests.web.conftest import WebEnv
from web.server import WebServer


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """HTTP-level behaviour: one engine is enough (the case pages run on both)."""
    return sqlite_url


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (loopback)
        return resp.status, resp.read().decode()


def _refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_server_answers_and_stops(web: WebEnv) -> None:
    server = WebServer(web.app, "127.0.0.1", 0).start()
    status, body = _get(f"http://127.0.0.1:{server.port}/sign-in")
    assert status == 200 and "Sign in" in body
    server.stop()
    assert _refused(server.port)
    assert server._thread is not None and not server._thread.is_alive()


SERVE = """
import sys
from gateway.settings import load_settings
from web.app import create_app
from web.server import serve

serve(create_app(load_settings()), "127.0.0.1", int(sys.argv[1]))
print("stopped cleanly", flush=True)
"""


def test_serve_stops_on_sigterm(cme_home: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        deadline = time.monotonic() + 20
        while _refused(port):
            assert proc.poll() is None, proc.communicate()[1].decode()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        assert _get(f"http://127.0.0.1:{port}/refer")[0] == 200
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()
    assert b"stopped cleanly" in out
    assert _refused(port)


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_stop_without_the_loops_wake_up_pipe_still_stops(web: WebEnv) -> None:
    """The wake-up pipe's write end closed under the server (as an fd closed twice elsewhere
    in a process can do): stop() still closes the listener, raises nothing, ends the loop."""
    server = WebServer(web.app, "127.0.0.1", 0).start()
    assert _get(f"http://127.0.0.1:{server.port}/sign-in")[0] == 200
    port = server.port
    os.close(server.server.trigger.trigger)  # the pipe's write end, which stop() writes to
    server.stop()
    assert _refused(port)
    assert server._thread is not None and not server._thread.is_alive()

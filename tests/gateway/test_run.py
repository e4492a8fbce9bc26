"""`cme run` starts every component on the ports it is given and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.postgres import free_port


def _wait_port(port: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def test_cme_run_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    smtp_port, web_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CME_")}
    env.update(
        CME_HOME=str(tmp_path / "home"),
        CME_SMTP_PORT=str(smtp_port),
        CME_WEB_PORT=str(web_port),
        CME_INBOX_ADDRESSES="cme@807.example",
        CME_JOBS_POLL_SECONDS="0.2",
    )
    cme = str(Path(sys.executable).parent / "cme")
    proc = subprocess.Popen(
        [cme, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert _wait_port(smtp_port), "SMTP intake did not start"
        assert _wait_port(web_port), "web console did not start"
        with socket.create_connection(("127.0.0.1", smtp_port), timeout=5) as s:
            assert s.recv(200).startswith(b"220")
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "cme: stopped" in err
    assert (tmp_path / "home" / "cme.db").exists()

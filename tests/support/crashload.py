"""Send mail at `cme run` over several connections while killing it with SIGKILL; check nothing
was lost or stored twice. Used by the short in-suite crash test and by `make soak`."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from tests.fixtures import mail
from tests.support.dovecot import free_port

CME = str(Path(sys.executable).parent / "cme")


@dataclass(frozen=True)
class CrashReport:
    messages: int
    acknowledged: int
    kills: int
    stored: int
    dispatched: int
    missing: int
    seconds: float
    send_seconds: float
    drain_seconds: float


def cme_env(home: Path, smtp_port: int, database_url: str | None) -> dict[str, str]:
    """The environment of a `cme run` on `home` (nothing inherited from the caller's CME_*)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CME_")}
    if database_url:
        env["CME_DATABASE_URL"] = database_url
    env.update(
        CME_HOME=str(home),
        CME_SMTP_PORT=str(smtp_port),
        CME_WEB_PORT=str(free_port()),
        CME_INBOX_ADDRESSES=mail.INBOX,
        CME_JOBS_POLL_SECONDS="0.2",
        CME_LOG_LEVEL="WARNING",
        # Every client is 127.0.0.1 here; the per-peer rate limit would only slow the run.
        CME_SMTP_MAX_MESSAGES_PER_MINUTE_PER_PEER="0",
    )
    return env


def start_cme(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start `cme run` and wait until its SMTP listener answers."""
    proc = subprocess.Popen(
        [CME, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"cme run exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("cme run did not listen within 60 s")


def wait_dispatched(engine: Engine, wanted: set[str], timeout: float = 300) -> None:
    """Wait until every wanted message has its row and no row waits for dispatch."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Indexing follows the 250 by a moment: wait for every acknowledged message's row,
        # then for every row to be dispatched.
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT sha256, status FROM raw_messages")).all()
        if wanted <= {sha for sha, _ in rows} and all(status != "stored" for _, status in rows):
            return
        time.sleep(0.2)
    # Not there by a generous limit: say what is left, so a stuck job shows apart from a
    # slow machine (the caller's assertions then fail on the counts).
    with engine.connect() as conn:
        jobs = conn.execute(
            text(
                "SELECT status, attempts, last_error, COUNT(*) FROM jobs "
                "WHERE kind = 'intake.dispatch' AND status != 'done' "
                "GROUP BY status, attempts, last_error"
            )
        ).all()
    print(f"wait_dispatched: not all dispatched after {timeout:.0f} s; open dispatch jobs: {jobs}")


def stop_cme(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=60)
    if code != 0:
        raise RuntimeError(f"cme run did not stop cleanly on SIGTERM (exit {code})")


@dataclass
class _Target:
    """The `cme run` being fed: whether it is up, and how many kills it has survived."""

    proc: subprocess.Popen[bytes]
    up: bool = True
    kills: int = 0


def run_crash(
    home: Path,
    *,
    messages: int = 300,
    connections: int = 8,
    kills: int = 3,
    body_size: int = 2000,
    seed: int = 1,
    database_url: str | None = None,
) -> CrashReport:
    """`database_url`: the database `cme run` uses (default: SQLite in the home)."""
    started = time.monotonic()
    env = cme_env(home, port := free_port(), database_url)
    subprocess.run([CME, "init"], env=env, check=True, capture_output=True)
    proc = start_cme(env, port)
    payloads = [mail.referral(10_000 * seed + n, size=body_size) for n in range(messages)]
    # Kills are scheduled by progress, never by time: the k-th kill lands the moment the
    # k-th threshold of acknowledged messages is reached (a seeded jitter varies where),
    # so every kill hits a stream still in flight however fast or loaded the machine is.
    rng = random.Random(seed)
    step = messages // (kills + 1)
    thresholds = [
        step * (k + 1) + rng.randint(-step // 4, step // 4) if step >= 4 else step * (k + 1)
        for k in range(kills)
    ]
    acked: set[int] = set()
    lock = threading.Lock()
    target = _Target(proc)
    killed = threading.Event()

    def note_ack(n: int) -> None:
        with lock:
            acked.add(n)
            due = target.kills < len(thresholds) and len(acked) >= thresholds[target.kills]
            if target.up and due:
                target.proc.send_signal(signal.SIGKILL)
                target.up = False
                killed.set()

    def client(indexes: list[int]) -> None:
        pending = list(indexes)
        smtp: smtplib.SMTP | None = None
        while pending:
            n = pending[0]
            try:
                if smtp is None:
                    smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
                smtp.sendmail("attendance@school-807.example", [mail.INBOX], payloads[n])
            except (OSError, smtplib.SMTPException):
                # No 250: the client may retry the same bytes (a real MTA would).
                if smtp is not None:
                    with contextlib.suppress(OSError):
                        smtp.close()
                smtp = None
                time.sleep(0.05)
                continue
            note_ack(n)
            pending.pop(0)
        if smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()

    threads = [
        threading.Thread(target=client, args=(list(range(i, messages, connections)),))
        for i in range(connections)
    ]
    for t in threads:
        t.start()
    done_kills = 0
    while done_kills < kills:
        # A generous limit: only a gateway that stopped acknowledging altogether hits it.
        if not killed.wait(timeout=600):
            raise RuntimeError(f"no progress to kill {done_kills + 1}: {len(acked)} acknowledged")
        killed.clear()
        target.proc.wait()
        done_kills += 1
        restarted = start_cme(env, port)
        with lock:
            target.proc, target.up, target.kills = restarted, True, done_kills
    proc = target.proc
    for t in threads:
        t.join()
    sent_at = time.monotonic()
    engine = create_engine(database_url or f"sqlite:///{home / 'cme.db'}")
    wanted = {hashlib.sha256(payloads[n]).hexdigest() for n in acked}
    wait_dispatched(engine, wanted)
    drained_at = time.monotonic()
    stop_cme(proc)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT sha256, status FROM raw_messages")).all()
    engine.dispose()
    by_sha = {sha: status for sha, status in rows}
    missing = len(wanted - set(by_sha))
    dispatched = sum(1 for status in by_sha.values() if status != "stored")
    return CrashReport(
        messages=messages,
        acknowledged=len(acked),
        kills=done_kills,
        stored=len(rows),
        dispatched=dispatched,
        missing=missing,
        seconds=round(time.monotonic() - started, 1),
        send_seconds=round(sent_at - started, 1),
        drain_seconds=round(drained_at - sent_at, 1),
    )

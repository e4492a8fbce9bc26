"""Scale-out: two `cme run` on one PostgreSQL and one data home, each with its own SMTP and
web ports, both taking mail and jobs; one is SIGKILLed mid-stream and the other finishes:
every acknowledged message became exactly one referral, none was dispatched twice."""

from __future__ import annotations

import contextlib
import hashlib
import signal
import smtplib
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gateway.db import make_engine
from gateway.intake.rawstore import RawStore
from tests.fixtures import mail
from tests.support.crashload import CME, cme_env, start_cme, stop_cme, wait_dispatched
from tests.support.dovecot import free_port

SENDER = "attendance@school-807.example"
FIRST = 60  # sent to the first gateway alone, before the second starts
MESSAGES = 240  # then over four connections to both
KILL_AT = 80  # acknowledged in the second phase when the first gateway is killed


def _send(port: int, payloads: list[bytes]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        for data in payloads:
            smtp.sendmail(SENDER, [mail.INBOX], data)


def _pid_of(worker: str | None) -> int | None:
    parts = (worker or "").split(":")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_gateways_share_the_work_and_one_killed_loses_nothing(
    tmp_path: Path, db_url: str
) -> None:
    home = tmp_path / "home"
    ports = [free_port(), free_port()]
    envs = [cme_env(home, port, db_url) for port in ports]
    assert envs[0]["CME_WEB_PORT"] != envs[1]["CME_WEB_PORT"]
    subprocess.run([CME, "init"], env=envs[0], check=True, capture_output=True)
    engine = create_engine(db_url)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # Phase 1: the first gateway alone takes mail and dispatches it (so it has run jobs).
        procs.append(start_cme(envs[0], ports[0]))
        first = [mail.referral(60_000 + n, size=2000) for n in range(FIRST)]
        _send(ports[0], first)
        wanted = {hashlib.sha256(p).hexdigest() for p in first}
        wait_dispatched(engine, wanted)

        # Phase 2: the second joins on the same home and database; four senders, two on
        # each; at KILL_AT acknowledgements the first is SIGKILLed, and its senders move to
        # the second (as a mail server tries the next MX) and resend what got no 250.
        procs.append(start_cme(envs[1], ports[1]))
        payloads = [mail.referral(70_000 + n, size=2000) for n in range(MESSAGES)]
        acked: dict[int, int] = {}
        lock = threading.Lock()
        killed = threading.Event()

        def note(n: int, gateway: int) -> None:
            with lock:
                acked[n] = gateway
                if len(acked) >= KILL_AT and not killed.is_set():
                    procs[0].send_signal(signal.SIGKILL)
                    killed.set()

        def client(c: int) -> None:
            pending = list(range(c, MESSAGES, 4))
            smtp: smtplib.SMTP | None = None
            gateway = c % 2
            while pending:
                if gateway == 0 and killed.is_set():
                    gateway = 1
                try:
                    if smtp is None:
                        smtp = smtplib.SMTP("127.0.0.1", ports[gateway], timeout=60)
                    smtp.sendmail(
                        "attendance@school-807.example", [mail.INBOX], payloads[pending[0]]
                    )
                except (OSError, smtplib.SMTPException):
                    if smtp is not None:
                        with contextlib.suppress(OSError):
                            smtp.close()
                    smtp = None
                    killed.wait(0.05)  # a short pause before the retry, not a timing bet
                    continue
                note(pending.pop(0), gateway)
            if smtp is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    smtp.quit()

        threads = [threading.Thread(target=client, args=(c,)) for c in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
            assert not t.is_alive(), "a sender made no progress"
        assert killed.is_set()
        assert procs[0].wait(timeout=60) == -signal.SIGKILL
        assert len(acked) == MESSAGES  # every message got its 250 from one of the two
        assert set(acked.values()) == {0, 1}  # both gateways took mail

        # What the first acknowledged but had not indexed, or had leased and not finished,
        # the second picks up by itself (its segments' locks and its process are gone).
        wanted |= {hashlib.sha256(p).hexdigest() for p in payloads}
        wait_dispatched(engine, wanted)
        stop_cme(procs[1])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    with engine.connect() as conn:
        raws = conn.execute(text("SELECT id, sha256, status, outcome FROM raw_messages")).all()
        referrals = conn.execute(text("SELECT raw_id FROM referrals")).scalars().all()
        dispatch_jobs = conn.execute(
            text("SELECT key, status, locked_by FROM jobs WHERE kind = 'intake.dispatch'")
        ).all()
    engine.dispose()
    by_sha = {row.sha256: row for row in raws}
    assert set(by_sha) == wanted  # nothing lost, nothing stored twice (sha256 is unique)
    assert len(raws) == FIRST + MESSAGES
    assert all(row.status != "stored" for row in raws)
    assert {row.outcome for row in raws} <= {"case", "triage"}  # none held by a fault
    # Nothing done twice: one referral per message, one finished dispatch job per message.
    assert sorted(referrals) == sorted(row.id for row in raws)
    assert sorted(key for key, _, _ in dispatch_jobs) == sorted(by_sha)
    assert {status for _, status, _ in dispatch_jobs} == {"done"}
    # Both took jobs: the first in phase 1, the second at least what came after the kill.
    pids = {_pid_of(worker) for _, _, worker in dispatch_jobs}
    assert {procs[0].pid, procs[1].pid} <= pids
    # Nothing acknowledged was left in a segment unindexed: a recovery now finds nothing
    # new, and afterwards every segment is sealed.
    check = make_engine(db_url)
    try:
        assert RawStore(home, check).recover() == 0
    finally:
        check.dispose()
    segments = home / "raw" / "segments"
    assert all((segments / (seg.name + ".sealed")).exists() for seg in segments.glob("*.seg"))

"""Mail keeps arriving in a real Dovecot mailbox while `cme run`, polling it over IMAP, is
killed with SIGKILL; afterwards every message is stored once, dispatched once, and moved out
of the inbox once. Used by the in-suite IMAP crash test.

Kills alternate between two kinds. A held kill lands in the window the design must survive,
every time: a hook loaded into `cme run` (tests/support/imaphook) freezes the poller once it
has stored a batch and before it moves it, when the test asks, and the test kills it there.
A loose kill freezes the process at seeded random moments and kills it at one of them, so
the rest of the poller's cycle is hit too."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from imapclient import IMAPClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from tests.fixtures import mail
from tests.support.crashload import CME, cme_env, start_cme, stop_cme, wait_dispatched
from tests.support.dovecot import Dovecot, free_port

_HOOK = Path(__file__).with_name("imaphook")  # its sitecustomize adds the poller's hook


@dataclass(frozen=True)
class ImapCrashReport:
    messages: int
    kills: int
    kills_with_mail_waiting: int  # the poller had work in hand when it died
    caught_between_store_and_move: int  # killed with this much mail stored, not yet moved
    stored: int
    missing: int
    dispatched: int
    #: Referrals made from the raw messages, and how many raw messages made more than one.
    referrals: int
    referred_twice: int
    left_in_inbox: int
    in_processed: int


def _count(client: IMAPClient, folder: str) -> int:
    client.select_folder(folder, readonly=True)
    return len(client.search())


def _message_ids(client: IMAPClient) -> set[str]:
    client.select_folder("INBOX", readonly=True)
    uids = client.search()
    if not uids:
        return set()
    fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    found = set()
    for item in fetched.values():
        raw = bytes(item.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]", b"")).decode(errors="replace")
        found.add(raw.partition(":")[2].strip())
    return found


def _stored_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(text("SELECT message_id FROM raw_messages"))}


def _caught(engine: Engine, watcher: IMAPClient) -> int:
    """How much mail is both stored and still in the inbox."""
    try:
        return len(_message_ids(watcher) & _stored_ids(engine))
    except OperationalError:  # SQLite locked by a frozen writer: not this moment
        return 0


def _kill_held(
    proc: subprocess.Popen[bytes], engine: Engine, watcher: IMAPClient, hook: Path
) -> int:
    """With the hook armed, wait for the poller to stop between storing a batch and moving it,
    and SIGKILL it there. Returns the mail so caught."""
    deadline = time.monotonic() + 600  # a generous limit: only a poller that stopped hits it
    while not (hook / "held").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the IMAP poller never stopped between storing and moving")
        time.sleep(0.01)
    caught = _caught(engine, watcher)
    proc.kill()
    (hook / "held").unlink()
    return caught


def _kill_loose(
    proc: subprocess.Popen[bytes], engine: Engine, watcher: IMAPClient, rng: random.Random
) -> int:
    """Freeze the process at seeded random moments; SIGKILL it when frozen with mail stored but
    not yet moved, or at the last try. Returns the mail so caught."""
    for _ in range(20):
        os.kill(proc.pid, signal.SIGSTOP)
        if caught := _caught(engine, watcher):
            proc.kill()
            return caught
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(rng.uniform(0.002, 0.02))
    proc.kill()
    return 0


def run_imap_crash(
    home: Path,
    dovecot: Dovecot,
    *,
    messages: int = 150,
    kills: int = 3,
    seed: int = 1,
    database_url: str | None = None,
) -> ImapCrashReport:
    env = cme_env(home, port := free_port(), database_url)
    hook = home.parent / "imaphook"
    hook.mkdir()
    env.update(
        CME_IMAP_ENABLED="true", CME_IMAP_HOST="127.0.0.1", CME_IMAP_PORT=str(dovecot.port),
        CME_IMAP_SSL="false", CME_IMAP_USER=dovecot.user, CME_IMAP_PASSWORD=dovecot.password,
        CME_IMAP_POLL_SECONDS="0.2",
        IMAPCRASH_DIR=str(hook),
        PYTHONPATH=os.pathsep.join(filter(None, [str(_HOOK), env.get("PYTHONPATH")])),
    )  # fmt: skip
    subprocess.run([CME, "init"], env=env, check=True, capture_output=True)
    payloads = [mail.referral(20_000 * seed + n, size=2000) for n in range(messages)]
    rng = random.Random(seed)
    # Kills are scheduled by progress, never by time: kill k starts once the feeder has
    # appended thresholds[k] messages, and the feeder holds back the rest of that stretch
    # until the gateway is running again, so every kill falls inside a stream of new mail
    # however fast or loaded the machine is. Held kills (the even ones) are in the window
    # between store and move; the feeder waits at the threshold until the hook is armed, so
    # there is always new mail for the held batch.
    step = messages // (kills + 1)
    thresholds = [step * (k + 1) for k in range(kills)]
    progress = threading.Condition()
    appended = restarted = armed = 0

    def feed() -> None:  # new mail keeps landing in the inbox, as it would in real life
        nonlocal appended
        with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False) as client:
            client.login(dovecot.user, dovecot.password)
            for n, data in enumerate(payloads):
                with progress:
                    # Halfway through the stretch after kill k, wait for its restart.
                    held = sum(1 for t in thresholds if n >= t + step // 2)
                    if not progress.wait_for(lambda held=held: restarted >= held, timeout=600):
                        raise RuntimeError("the gateway did not come back after a kill")
                    due = sum(1 for k, t in enumerate(thresholds) if n >= t and k % 2 == 0)
                    if not progress.wait_for(lambda due=due: armed >= due, timeout=600):
                        raise RuntimeError("the test never armed the hook for a held kill")
                client.append("INBOX", data)
                with progress:
                    appended = n + 1
                    progress.notify_all()
                time.sleep(0.01)  # pacing only: mail arrives as a trickle, not one burst

    feeder = threading.Thread(target=feed)
    watcher = IMAPClient("127.0.0.1", port=dovecot.port, ssl=False)
    watcher.login(dovecot.user, dovecot.password)
    proc = start_cme(env, port)
    feeder.start()
    engine = create_engine(database_url or f"sqlite:///{home / 'cme.db'}")
    waiting = caught = 0
    for k in range(kills):
        with progress:
            if not progress.wait_for(lambda k=k: appended >= thresholds[k], timeout=600):
                raise RuntimeError(f"the feeder made no progress towards kill {k + 1}")
        if k % 2 == 0:
            (hook / "arm").touch()
            with progress:
                armed += 1
                progress.notify_all()
            caught += _kill_held(proc, engine, watcher, hook)
        else:
            caught += _kill_loose(proc, engine, watcher, rng)
        proc.wait()
        waiting += bool(_message_ids(watcher))
        proc = start_cme(env, port)
        with progress:
            restarted = k + 1
            progress.notify_all()
    feeder.join()
    wanted = {hashlib.sha256(data).hexdigest() for data in payloads}
    wait_dispatched(engine, wanted, timeout=600)
    deadline = time.monotonic() + 30
    while _count(watcher, "INBOX") and time.monotonic() < deadline:
        time.sleep(0.2)  # the last move follows the last commit by a moment
    stop_cme(proc)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT sha256, status, outcome, case_id FROM raw_messages")).all()
        per_raw = conn.execute(
            text("SELECT raw_id, COUNT(*) FROM referrals WHERE raw_id IS NOT NULL GROUP BY raw_id")
        ).all()
    engine.dispose()
    report = ImapCrashReport(
        messages=messages,
        kills=kills,
        kills_with_mail_waiting=waiting,
        caught_between_store_and_move=caught,
        stored=len(rows),
        missing=len(wanted - {row.sha256 for row in rows}),
        dispatched=sum(1 for row in rows if row.status != "stored"),
        referrals=len(per_raw),
        referred_twice=sum(1 for _raw, n in per_raw if n > 1),
        left_in_inbox=_count(watcher, "INBOX"),
        in_processed=_count(watcher, "Processed"),
    )
    watcher.logout()
    return report

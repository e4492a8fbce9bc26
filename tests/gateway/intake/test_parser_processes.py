"""Parser processes: mail read beside the worker reads as the worker would read it; a
message that kills its parser is held and the rest of its batch goes on; a parser whose
worker was killed outright stops itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway import jobs
from gateway.intake import dispatch
from gateway.intake.parsing import ParserCrashed, ParserPool, Reading, read_mail
from gateway.intake.rawstore import Arrival, RawStore
from gateway.models.intake import IntakeChannel, QuarantineEntry, RawMessage
from gateway.settings import Settings
from tests.fixtures import mail
from tests.support.parsercrash import CRASH, crash_on_marker

SAMPLES = [
    mail.referral(1),
    mail.referral(2, size=9000),
    mail.reply("<letter-1@cme.example>"),
    mail.auto_reply("<letter-1@cme.example>"),
    b"not an email at all \x00\xff",
    b"",
]


def _same(a: Reading, b: Reading) -> bool:
    def norm(x: object) -> object:
        return (type(x).__name__, str(x)) if isinstance(x, Exception) else x

    return tuple(map(norm, a)) == tuple(map(norm, b))


@pytest.fixture
def pool() -> ParserPool:
    pool = ParserPool(1)
    yield pool
    pool.close()


def test_a_parser_process_reads_as_the_worker_does(pool: ParserPool) -> None:
    futures = [pool.submit(data) for data in SAMPLES]
    for data, future in zip(SAMPLES, futures, strict=True):
        assert _same(pool.outcome(future, data), read_mail(data))


def test_a_message_that_kills_its_parser_is_the_only_one_lost_to_it() -> None:
    pool = ParserPool(1, reader=crash_on_marker)
    try:
        batch = [SAMPLES[0], CRASH, SAMPLES[1], SAMPLES[2]]
        futures = [pool.submit(data) for data in batch]
        got = [pool.outcome(f, d) for f, d in zip(futures, batch, strict=True)]
        # And the pool works after it (started again).
        after = pool.outcome(pool.submit(SAMPLES[3]), SAMPLES[3])
    finally:
        pool.close()
    assert isinstance(got[1][0], ParserCrashed) and got[1][1] is None
    for data, reading in zip(batch, got, strict=True):
        if data is not CRASH:
            assert _same(reading, read_mail(data))
    assert _same(after, read_mail(SAMPLES[3]))


def test_a_batch_holds_the_message_that_killed_its_parser_and_dispatches_the_rest(
    store: RawStore, engine: Engine, intake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashing = ParserPool(1, reader=crash_on_marker)
    monkeypatch.setattr(dispatch, "parser_pool", lambda processes: crashing)
    monkeypatch.setattr(jobs, "BATCH_SECONDS", 3600.0)  # one batch, however loaded the machine
    try:
        stored = [
            store.store(mail.referral(700 + n), Arrival(IntakeChannel.SMTP)) for n in range(4)
        ]
        bad = store.store(CRASH, Arrival(IntakeChannel.SMTP)).raw_id
        stored += [
            store.store(mail.referral(710 + n), Arrival(IntakeChannel.SMTP)) for n in range(3)
        ]
        assert jobs.run_batch(engine, intake_settings) == 8
    finally:
        crashing.close()
    with Session(engine) as s:
        outcomes = {r.id: r.outcome for r in s.execute(select(RawMessage.id, RawMessage.outcome))}
        held = [
            tuple(r)
            for r in s.execute(
                select(QuarantineEntry.raw_id, QuarantineEntry.reason, QuarantineEntry.detail)
            )
        ]
    assert held == [(bad, "parse_defects", "cannot be parsed (ParserCrashed)")]
    assert all(outcomes[one.raw_id] in ("case", "triage") for one in stored)


def test_dispatch_reads_alike_with_and_without_parser_processes(
    tmp_path: Path, intake_settings: Settings
) -> None:
    """The same mail dispatched by a worker with a parser process and by one without ends
    the same way, message by message."""
    import dataclasses

    from gateway.db import make_engine, migrate

    messages = [mail.referral(800 + n) for n in range(3)] + [
        mail.auto_reply("<letter-9@cme.example>"),
        b"not an email at all \x00\xff",
    ]
    results = []
    for processes in (0, 1):
        home = tmp_path / f"p{processes}"
        settings = dataclasses.replace(
            intake_settings,
            core=dataclasses.replace(intake_settings.core, home=home),
            jobs=dataclasses.replace(intake_settings.jobs, parser_processes=processes),
        )
        engine = make_engine(f"sqlite:///{home / 'cme.db'}")
        migrate(engine)
        raw = RawStore(home, engine)
        for data in messages:
            raw.store(data, Arrival(IntakeChannel.SMTP))
        while jobs.drain(engine, settings):
            pass
        with Session(engine) as s:
            results.append(
                s.execute(
                    select(RawMessage.outcome, RawMessage.reason).order_by(RawMessage.id)
                ).all()
            )
        raw.close()
        engine.dispose()
    assert results[0] == results[1]
    assert len(results[0]) == len(messages)


_ORPHANED = """
import os, signal, sys, multiprocessing
from gateway.intake.parsing import ParserPool
pool = ParserPool(1)
pool.outcome(pool.submit(b"Subject: hello\\r\\n\\r\\nhi\\r\\n"), b"")
print(*[p.pid for p in multiprocessing.active_children()], flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie has stopped (only its parent may reap it)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_parser_process_stops_when_its_worker_is_killed_outright() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _ORPHANED], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    pids = [int(p) for p in proc.stdout.split()]
    assert pids, "the pool started no parser process"
    deadline = time.monotonic() + 300  # generous: it checks every second
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    leftover = [pid for pid in pids if _running(pid)]
    for pid in leftover:
        os.kill(pid, signal.SIGKILL)
    assert not leftover, "a parser process outlived the worker that started it"


def _read_in_forked_child() -> None:
    from gateway.intake.parsing import parser_pool

    pool = parser_pool(1)
    assert pool is not None
    facts, _ = pool.outcome(pool.submit(SAMPLES[0]), SAMPLES[0])
    # A normal exit: multiprocessing then waits for the child's own children, its parser
    # among them, which must have been stopped for it.
    sys.exit(0 if not isinstance(facts, Exception) and facts.message_id else 3)


def test_a_forked_process_starts_its_own_parser_and_stops_it_at_exit() -> None:
    import multiprocessing

    from gateway.intake.parsing import parser_pool

    pool = parser_pool(1)
    assert pool is not None
    pool.outcome(pool.submit(SAMPLES[0]), SAMPLES[0])  # the parent's parser is running
    child = multiprocessing.get_context("fork").Process(target=_read_in_forked_child)
    child.start()
    child.join(timeout=600)  # generous: a child that hangs (on either) never ends
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0


class _Counting(ParserPool):
    """A real parser pool that notes each message it is given (in the worker)."""

    def __init__(self) -> None:
        super().__init__(1)
        self.given: list[bytes] = []

    def submit(self, data: bytes) -> Future[Reading]:
        self.given.append(data)
        return super().submit(data)


def test_on_sqlite_the_next_batch_is_read_while_this_one_is_dispatched_and_once_only(
    store: RawStore, engine: Engine, intake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = _Counting()
    monkeypatch.setattr(dispatch, "parser_pool", lambda processes: counting)
    monkeypatch.setattr(jobs, "BATCH_SECONDS", 3600.0)  # whole batches, however loaded
    batch = dispatch.DISPATCH_BATCH
    messages = [mail.referral(900 + n) for n in range(batch + 5)]
    try:
        for data in messages:
            store.store(data, Arrival(IntakeChannel.SMTP))
        assert jobs.run_batch(engine, intake_settings) == batch
        if engine.dialect.name == "sqlite":
            # The first batch, and then the five left in the queue: read ahead.
            assert sorted(counting.given) == sorted(messages)
        else:  # workers share PostgreSQL's queue: each reads only what it claimed
            assert sorted(counting.given) == sorted(messages[:batch])
        assert jobs.run_batch(engine, intake_settings) == 5
        assert len(counting.given) == len(messages)  # none read a second time
    finally:
        counting.close()
    with Session(engine) as s:
        outcomes = list(s.execute(select(RawMessage.outcome)).scalars())
    assert len(outcomes) == len(messages) and set(outcomes) <= {"case", "triage"}

"""The job queue: run once, retry with backoff, keyed jobs queued once, leases expire."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway import jobs
from gateway.db import session_scope, utcnow
from gateway.models.ops import Job
from gateway.settings import Settings, load_settings

CALLS: list[dict[str, Any]] = []
LOCK = threading.Lock()


@jobs.register("test.record")
def _record(session: Session, settings: Settings, payload: dict[str, Any]) -> None:
    with LOCK:
        CALLS.append(payload)


@jobs.register("test.flaky")
def _flaky(session: Session, settings: Settings, payload: dict[str, Any]) -> None:
    raise RuntimeError("downstream unavailable")


def test_job_runs_once(engine: Engine) -> None:
    CALLS.clear()
    s = load_settings()
    with session_scope(engine) as session:
        jobs.enqueue(session, "test.record", {"n": 1})
    assert jobs.drain(engine, s) == 1
    assert jobs.drain(engine, s) == 0
    assert CALLS == [{"n": 1}]
    with session_scope(engine) as session:
        assert session.execute(select(Job.status)).scalar_one() == "done"


def test_keyed_job_is_queued_once(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert jobs.enqueue(session, "test.record", {"n": 1}, key="raw:1") is not None
        assert jobs.enqueue(session, "test.record", {"n": 1}, key="raw:1") is None
    with session_scope(engine) as session:
        assert len(session.execute(select(Job)).scalars().all()) == 1


def test_failure_is_retried_with_backoff_then_failed(engine: Engine) -> None:
    s = load_settings()
    with session_scope(engine) as session:
        jobs.enqueue(session, "test.flaky", {})
    assert jobs.run_one(engine, s)
    with session_scope(engine) as session:
        job = session.execute(select(Job)).scalar_one()
        assert job.status == "queued" and job.attempts == 1
        assert "downstream unavailable" in (job.last_error or "")
        assert job.run_at > utcnow()
    later = utcnow()
    for _ in range(s.jobs.max_attempts):
        later += timedelta(hours=2)
        jobs.run_one(engine, s, now=later)
    with session_scope(engine) as session:
        job = session.execute(select(Job)).scalar_one()
        assert job.status == "failed" and job.attempts == s.jobs.max_attempts


def test_expired_lease_is_taken_over(engine: Engine) -> None:
    CALLS.clear()
    s = load_settings()
    with session_scope(engine) as session:
        jobs.enqueue(session, "test.record", {"n": 2})
    # A worker claims the job and dies before finishing it.
    assert jobs._claim(engine, s, "dead-worker", utcnow()) is not None
    assert not jobs.run_one(engine, s)  # still leased
    assert jobs.run_one(engine, s, now=utcnow() + timedelta(seconds=s.jobs.lease_seconds + 1))
    assert CALLS == [{"n": 2}]


def test_concurrent_workers_run_each_job_once(engine: Engine) -> None:
    CALLS.clear()
    s = load_settings()
    with session_scope(engine) as session:
        for i in range(40):
            jobs.enqueue(session, "test.record", {"n": i})
    threads = [threading.Thread(target=jobs.drain, args=(engine, s)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(c["n"] for c in CALLS) == list(range(40))


def test_jobs_of_a_dead_worker_on_this_host_are_released(engine: Engine) -> None:
    import socket
    import subprocess
    import sys

    s = load_settings()
    with session_scope(engine) as session:
        jobs.enqueue(session, "test.record", {"n": 3})
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    owner = f"{socket.gethostname()}:{dead.stdout.strip()}:1"
    assert jobs._claim(engine, s, owner, utcnow()) is not None
    assert jobs._claim(engine, s, jobs.worker_id(), utcnow()) is None  # still leased
    alive = jobs.worker_id()
    with session_scope(engine) as session:
        jobs.enqueue(session, "test.record", {"n": 4})
    assert jobs._claim(engine, s, alive, utcnow()) is not None  # a live worker's lease
    assert jobs.release_orphans(engine) == 1
    with session_scope(engine) as session:
        statuses = sorted(session.execute(select(Job.status)).scalars())
    assert statuses == ["queued", "running"]


@jobs.register("test.batched", batch=8)
def _batched(session: Session, settings: Settings, payload: dict[str, Any]) -> None:
    # A write of its own, so a failing job's half-done work can be seen to be undone.
    session.add(Job(kind="test.trace", payload={"n": payload["n"]}, status="done"))
    session.flush()
    if payload.get("fail"):
        raise RuntimeError("this one is bad")


def test_a_batch_runs_in_one_go_and_a_failure_is_undone_alone(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = load_settings()
    monkeypatch.setattr(jobs, "BATCH_SECONDS", 3600.0)  # however loaded the machine is
    with session_scope(engine) as session:
        for n in range(5):
            jobs.enqueue(session, "test.batched", {"n": n, "fail": n == 2})
    assert jobs.run_batch(engine, s) == 5  # claimed and run together
    with session_scope(engine) as session:
        traces = session.execute(select(Job.payload).where(Job.kind == "test.trace")).scalars()
        assert sorted(p["n"] for p in traces) == [0, 1, 3, 4]  # the failed one left nothing
        rows = session.execute(select(Job).where(Job.kind == "test.batched")).scalars().all()
        by_n = {job.payload["n"]: job for job in rows}
        statuses = [by_n[n].status for n in range(5)]
        assert statuses == ["done", "done", "queued", "done", "done"]
        assert "this one is bad" in (by_n[2].last_error or "") and by_n[2].attempts == 1


def test_a_batch_claimed_by_a_worker_that_died_runs_once_after_release(engine: Engine) -> None:
    s = load_settings()
    with session_scope(engine) as session:
        for n in range(3):
            jobs.enqueue(session, "test.batched", {"n": 10 + n})
    # Claimed, then the worker died before its batch committed: nothing of it happened.
    dead = "elsewhere:1:1"
    assert len(jobs._claim_batch(engine, s, dead, utcnow())) == 3
    assert jobs.drain(engine, s) == 0  # still leased
    later = utcnow() + timedelta(seconds=s.jobs.lease_seconds + 1)
    ran = 0
    while ran < 3:  # in one batch or more (a loaded machine may run out of batch time)
        done = jobs.run_batch(engine, s, now=later)
        assert done
        ran += done
    with session_scope(engine) as session:
        traces = session.execute(select(Job.payload).where(Job.kind == "test.trace")).scalars()
        assert sorted(p["n"] for p in traces) == [10, 11, 12]


def test_a_batch_out_of_time_gives_the_rest_back(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = load_settings()
    with session_scope(engine) as session:
        for n in range(4):
            jobs.enqueue(session, "test.batched", {"n": 20 + n})
    monkeypatch.setattr(jobs, "BATCH_SECONDS", -1.0)  # out of time after its first job
    assert jobs.run_batch(engine, s) == 1
    with session_scope(engine) as session:
        rows = session.execute(select(Job).where(Job.kind == "test.batched")).scalars().all()
        by_n = {job.payload["n"]: (job.status, job.attempts) for job in rows}
    assert by_n == {20: ("done", 1), 21: ("queued", 0), 22: ("queued", 0), 23: ("queued", 0)}
    monkeypatch.undo()
    assert jobs.drain(engine, s) == 3


@jobs.register("test.isolated", batch=8, isolated=True)
def _isolated(session: Session, settings: Settings, payload: dict[str, Any]) -> None:
    # Undoes its own failure (as dispatch_safely does) unless told it cannot.
    try:
        with session.begin_nested():
            session.add(Job(kind="test.trace", payload={"n": payload["n"]}, status="done"))
            session.flush()
            if payload.get("fail"):
                raise RuntimeError("undone by the handler")
    except RuntimeError:
        session.add(Job(kind="test.trace", payload={"n": -payload["n"]}, status="done"))
        if payload.get("raise"):
            raise


def test_an_isolated_batch_keeps_what_the_handler_undid_itself(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = load_settings()
    monkeypatch.setattr(jobs, "BATCH_SECONDS", 3600.0)
    with session_scope(engine) as session:
        for n in range(1, 5):
            jobs.enqueue(session, "test.isolated", {"n": n, "fail": n == 2})
    assert jobs.run_batch(engine, s) == 4
    with session_scope(engine) as session:
        traces = session.execute(select(Job.payload).where(Job.kind == "test.trace")).scalars()
        assert sorted(p["n"] for p in traces) == [-2, 1, 3, 4]
        statuses = session.execute(select(Job.status).where(Job.kind == "test.isolated"))
        assert set(statuses.scalars()) == {"done"}


def test_an_isolated_handler_that_raises_sends_its_batch_job_by_job(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing of the batch stands from its first try (no half-done job is committed);
    each job then runs alone: the one that raises fails alone, the rest are done once."""
    s = load_settings()
    monkeypatch.setattr(jobs, "BATCH_SECONDS", 3600.0)
    with session_scope(engine) as session:
        for n in range(1, 5):
            jobs.enqueue(session, "test.isolated", {"n": n, "fail": n == 3, "raise": n == 3})
    assert jobs.run_batch(engine, s) == 4
    with session_scope(engine) as session:
        traces = session.execute(select(Job.payload).where(Job.kind == "test.trace")).scalars()
        assert sorted(p["n"] for p in traces) == [1, 2, 4]
        rows = session.execute(select(Job).where(Job.kind == "test.isolated")).scalars().all()
        by_n = {job.payload["n"]: job.status for job in rows}
    assert by_n == {1: "done", 2: "done", 3: "queued", 4: "done"}

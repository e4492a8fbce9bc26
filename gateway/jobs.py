"""The job queue and the worker that runs jobs and the periodic timers."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.db import session_scope, utcnow
from gateway.models.ops import Job
from gateway.settings import Settings

log = logging.getLogger(__name__)

#: kind -> handler(session, settings, payload); runs in the job's own transaction.
Handler = Callable[[Session, Settings, dict[str, Any]], None]
_HANDLERS: dict[str, Handler] = {}
#: kind -> how many jobs of it one transaction may run (see `register`).
_BATCH: dict[str, int] = {}
#: kind -> prepare(session, settings, payloads), run before a batch's handlers.
Prepare = Callable[[Session, Settings, list[dict[str, Any]]], None]
_PREPARE: dict[str, Prepare] = {}
#: Kinds whose handlers keep their own failures undone (see register).
_ISOLATED: set[str] = set()
#: name -> periodic function(engine, settings, now), run on every worker tick.
Periodic = Callable[[Engine, Settings, datetime], None]
_PERIODIC: dict[str, Periodic] = {}


def register(
    kind: str, *, batch: int = 1, prepare: Prepare | None = None, isolated: bool = False
) -> Callable[[Handler], Handler]:
    """A handler for jobs of `kind`. With `batch` > 1, up to that many due jobs of the kind
    are claimed together and run in one transaction, each in its own savepoint (so a
    failing job is undone alone); only for handlers that never commit or wait on the
    network themselves, since the batch holds its transaction open while it runs.
    `prepare(session, settings, payloads)` runs first for the whole batch: reads and pure
    work done before any job of it writes (on PostgreSQL, before any lock is taken).
    `isolated`: the handler undoes its own work when it fails (its own savepoint) and
    raises only when it cannot: a batch runs it without a savepoint of its own, and when
    it raises, the batch is undone and each of its jobs runs alone."""

    def wrap(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        _BATCH[kind] = max(1, batch)
        if prepare is not None:
            _PREPARE[kind] = prepare
        if isolated:
            _ISOLATED.add(kind)
        return fn

    return wrap


def periodic(name: str) -> Callable[[Periodic], Periodic]:
    def wrap(fn: Periodic) -> Periodic:
        _PERIODIC[name] = fn
        return fn

    return wrap


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    key: str | None = None,
    run_at: datetime | None = None,
) -> Job | None:
    """Queue a job in the caller's transaction; with a key, the same job is queued once."""
    if key is not None:
        existing = session.execute(
            select(Job).where(Job.kind == kind, Job.key == key)
        ).scalar_one_or_none()
        if existing is not None:
            return None
    job = Job(kind=kind, payload=payload, key=key, run_at=run_at or utcnow())
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        return None  # a concurrent writer queued the same keyed job
    return job


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def release_orphans(engine: Engine) -> int:
    """Requeue jobs leased by a worker on this host whose process has died (SIGKILL, power
    cut), so they run at once instead of waiting for the lease to run out."""
    host = socket.gethostname()
    released = 0
    stmt: Any = select(Job).where(Job.status == "running")
    if engine.dialect.name == "postgresql":
        # Locked: a row another worker is claiming right now is skipped, and a row read
        # here cannot be handed back after a live worker took it over meanwhile.
        stmt = stmt.with_for_update(skip_locked=True)
    with session_scope(engine) as session:
        for job in session.execute(stmt).scalars():
            owner_host, _, rest = (job.locked_by or "").partition(":")
            pid = rest.partition(":")[0]
            if owner_host == host and pid.isdigit() and _process_gone(int(pid)):
                job.status = "queued"
                job.locked_by = None
                job.locked_until = None
                released += 1
    return released


def _due(now: datetime) -> Any:
    return (Job.run_at <= now) & or_(
        Job.status == "queued",
        (Job.status == "running") & (Job.locked_until < now),  # a dead worker's
    )


def _claim_batch(engine: Engine, settings: Settings, me: str, now: datetime) -> list[int]:
    """Lease the next due job and, when its kind runs in batches, more due jobs of that
    kind: one transaction. On PostgreSQL rows another worker is claiming are skipped
    (SKIP LOCKED), so workers never wait on each other or take the same job; on SQLite
    the claim runs under the one write lock (BEGIN IMMEDIATE)."""
    postgres = engine.dialect.name == "postgresql"
    with session_scope(engine) as session:
        stmt: Any = select(Job).where(_due(now)).order_by(Job.run_at, Job.id).limit(1)
        if postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        first = session.execute(stmt).scalar_one_or_none()
        if first is None:
            return []
        claimed = [first]
        size = _BATCH.get(first.kind, 1)
        if size > 1:
            more: Any = (
                select(Job)
                .where(_due(now), Job.kind == first.kind, Job.id != first.id)
                .order_by(Job.run_at, Job.id)
                .limit(size - 1)
            )
            if postgres:
                more = more.with_for_update(skip_locked=True)
            claimed += session.execute(more).scalars().all()
        until = now + timedelta(seconds=settings.jobs.lease_seconds)
        for job in claimed:
            job.status = "running"
            job.locked_by = me
            job.locked_until = until
            job.attempts += 1
        return [job.id for job in claimed]


def _give_back(job: Job) -> None:
    job.status = "queued"
    job.locked_by = None
    job.locked_until = None
    job.attempts -= 1


def _claim(engine: Engine, settings: Settings, me: str, now: datetime) -> int | None:
    """Lease one due job (the first of a batch); its id, or None when none is due."""
    ids = _claim_batch(engine, settings, me, now)
    if len(ids) > 1:  # give the rest back at once: they were leased for this caller only
        with session_scope(engine) as session:
            for job in session.execute(select(Job).where(Job.id.in_(ids[1:]))).scalars():
                _give_back(job)
    return ids[0] if ids else None


def _error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(exc)).strip()[:2000]


def _done(job: Job) -> None:
    # `locked_by` stays: which worker ran the job, for the record (no lease once done).
    job.status = "done"
    job.finished_at = utcnow()
    job.locked_until = None


def _run_alone(engine: Engine, settings: Settings, job_id: int) -> None:
    """Run one leased job in its own transaction; a failure is recorded in another."""
    error: str | None = None
    try:
        with session_scope(engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            handler = _HANDLERS.get(job.kind)
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            handler(session, settings, dict(job.payload))
            _done(job)
    except Exception as exc:
        error = _error_text(exc)
        log.warning("job failed", extra={"job_id": job_id, "error_type": type(exc).__name__})
    if error is not None:
        with session_scope(engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            _failed_with(job, error, settings)


def _failed_with(job: Job, error: str, settings: Settings) -> None:
    job.last_error = error
    job.locked_by = None
    if job.attempts >= settings.jobs.max_attempts:
        job.status = "failed"
        job.finished_at = utcnow()
    else:
        job.status = "queued"
        job.run_at = utcnow() + timedelta(seconds=min(2**job.attempts, 3600))


#: A batch stops taking its next job this long after its first one and gives the rest back:
#: on SQLite its transaction holds the one write lock the intake indexer and the console also
#: need, on PostgreSQL the audit log's lock every other writer of the log waits on.
BATCH_SECONDS = 0.5


def _run_together(engine: Engine, settings: Settings, ids: list[int]) -> int:
    """Run leased jobs of one kind in one transaction, each in a savepoint: a job that
    fails is rolled back alone and recorded as failed in the same commit. A crash before
    the commit leaves every one of them leased and not done, so it runs again (another
    worker takes it once the lease is released or runs out); none runs twice. Returns
    how many ran (the rest of a batch that ran out of time is queued again)."""
    try:
        with session_scope(engine) as session:
            batch = session.execute(select(Job).where(Job.id.in_(ids)).order_by(Job.id))
            leased = batch.scalars().all()
            prepare = _PREPARE.get(leased[0].kind) if leased else None
            if prepare is not None:
                prepare(session, settings, [dict(job.payload) for job in leased])
            failed: dict[int, str] = {}
            ran: list[Job] = []
            started: float | None = None
            for job in leased:
                if started is not None and time.monotonic() - started > BATCH_SECONDS:
                    _give_back(job)
                    continue
                ran.append(job)
                handler = _HANDLERS[job.kind]
                if job.kind in _ISOLATED:
                    # Undone by itself, or it raises and the whole batch runs job by job.
                    handler(session, settings, dict(job.payload))
                else:
                    try:
                        with session.begin_nested():
                            handler(session, settings, dict(job.payload))
                    except Exception as exc:
                        log.warning(
                            "job failed",
                            extra={"job_id": job.id, "error_type": type(exc).__name__},
                        )
                        failed[job.id] = _error_text(exc)
                if started is None:
                    # Timed from the end of the first job: by then the batch holds what it
                    # locks (on PostgreSQL the audit log's lock, which the first job may
                    # have waited for behind another worker's batch; that wait is not time
                    # spent holding it, and counting it gave back a batch after one job).
                    started = time.monotonic()
            # Marked at the end: one multi-row UPDATE in the commit, not one per savepoint.
            for job in ran:
                if job.id in failed:
                    _failed_with(job, failed[job.id], settings)
                else:
                    _done(job)
            return len(ran)
    except Exception as exc:
        # The batch itself could not commit (the database went away, a constraint only the
        # commit sees): nothing of it happened, so each job runs again on its own.
        log.warning(
            "job batch failed; running its jobs one by one",
            extra={"jobs": len(ids), "error_type": type(exc).__name__},
        )
        for job_id in ids:
            _run_alone(engine, settings, job_id)
        return len(ids)


def run_batch(engine: Engine, settings: Settings, now: datetime | None = None) -> int:
    """Claim and run the next due job, with more of its kind when it runs in batches;
    returns how many ran (0 when none was due)."""
    now = now or utcnow()
    ids = _claim_batch(engine, settings, worker_id(), now)
    if len(ids) == 1:
        _run_alone(engine, settings, ids[0])
        return 1
    return _run_together(engine, settings, ids) if ids else 0


def run_one(engine: Engine, settings: Settings, now: datetime | None = None) -> bool:
    """Claim and run one due job (or one batch of them); False when there was none."""
    return run_batch(engine, settings, now) > 0


def run_periodic(engine: Engine, settings: Settings, now: datetime | None = None) -> None:
    now = now or utcnow()
    for name, fn in list(_PERIODIC.items()):
        try:
            fn(engine, settings, now)
        except Exception:
            log.exception("periodic task failed", extra={"task": name})


class _Wake:
    """Wakes this process's idle worker when work was queued here (the raw store's index
    commit), so a new message is dispatched at once instead of at the next poll. Work
    queued by another process is found by polling (`jobs.poll_seconds`)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending = False

    def notify(self) -> None:
        with self._cond:
            self._pending = True
            self._cond.notify_all()

    def wait(self, timeout: float) -> None:
        with self._cond:
            if not self._pending:
                self._cond.wait(timeout)
            self._pending = False


_WAKE = _Wake()


def notify() -> None:
    """Tell this process's worker that jobs were committed (or that it should stop)."""
    _WAKE.notify()


def run_worker(engine: Engine, settings: Settings, stop: threading.Event) -> None:
    """Run jobs and timers until `stop` is set (call `notify()` after setting it)."""
    released = release_orphans(engine)
    log.info("job worker started", extra={"orphans_released": released})
    poll = settings.jobs.poll_seconds
    last_periodic = float("-inf")
    while not stop.is_set():
        # Timers and orphan checks at the poll's pace, however often new work wakes us.
        if time.monotonic() - last_periodic >= poll:
            run_periodic(engine, settings)
            try:
                if release_orphans(engine):
                    log.warning("jobs of a dead worker on this host released")
            except Exception:
                log.exception("releasing orphaned jobs failed")
            last_periodic = time.monotonic()
        try:
            while not stop.is_set() and run_batch(engine, settings):
                pass
        except Exception:
            # The claim itself failed (database unreachable): try again at the next poll.
            log.exception("job worker could not claim jobs")
        if not stop.is_set():
            _WAKE.wait(poll)
    log.info("job worker stopped")


def drain(engine: Engine, settings: Settings, limit: int = 10_000) -> int:
    """Run every due job now (for `cme` commands and tests); returns how many ran."""
    ran = 0
    while ran < limit:
        done = run_batch(engine, settings)
        if not done:
            break
        ran += done
    return ran

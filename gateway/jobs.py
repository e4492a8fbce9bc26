"""The job queue and the worker that runs jobs and the periodic timers."""

from __future__ import annotations

import logging
import os
import socket
import threading
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
#: name -> periodic function(engine, settings, now), run on every worker tick.
Periodic = Callable[[Engine, Settings, datetime], None]
_PERIODIC: dict[str, Periodic] = {}


def register(kind: str) -> Callable[[Handler], Handler]:
    def wrap(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
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
    with session_scope(engine) as session:
        for job in session.execute(select(Job).where(Job.status == "running")).scalars():
            owner_host, _, rest = (job.locked_by or "").partition(":")
            pid = rest.partition(":")[0]
            if owner_host == host and pid.isdigit() and _process_gone(int(pid)):
                job.status = "queued"
                job.locked_by = None
                job.locked_until = None
                released += 1
    return released


def _claim(engine: Engine, settings: Settings, me: str, now: datetime) -> int | None:
    with session_scope(engine) as session:
        stmt: Any = (
            select(Job)
            .where(
                Job.run_at <= now,
                or_(
                    Job.status == "queued",
                    (Job.status == "running") & (Job.locked_until < now),  # a dead worker's
                ),
            )
            .order_by(Job.run_at, Job.id)
            .limit(1)
        )
        if engine.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        job = session.execute(stmt).scalar_one_or_none()
        if job is None:
            return None
        job.status = "running"
        job.locked_by = me
        job.locked_until = now + timedelta(seconds=settings.jobs.lease_seconds)
        job.attempts += 1
        return job.id


def run_one(engine: Engine, settings: Settings, now: datetime | None = None) -> bool:
    """Claim and run one due job; False when there was none."""
    now = now or utcnow()
    me = worker_id()
    job_id = _claim(engine, settings, me, now)
    if job_id is None:
        return False
    error: str | None = None
    try:
        with session_scope(engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            handler = _HANDLERS.get(job.kind)
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            handler(session, settings, dict(job.payload))
            job.status = "done"
            job.finished_at = utcnow()
            job.locked_by = None
    except Exception as exc:
        error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
        log.warning("job failed", extra={"job_id": job_id, "error_type": type(exc).__name__})
    if error is not None:
        with session_scope(engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            job.last_error = error
            job.locked_by = None
            if job.attempts >= settings.jobs.max_attempts:
                job.status = "failed"
                job.finished_at = utcnow()
            else:
                job.status = "queued"
                job.run_at = utcnow() + timedelta(seconds=min(2**job.attempts, 3600))
    return True


def run_periodic(engine: Engine, settings: Settings, now: datetime | None = None) -> None:
    now = now or utcnow()
    for name, fn in list(_PERIODIC.items()):
        try:
            fn(engine, settings, now)
        except Exception:
            log.exception("periodic task failed", extra={"task": name})


def run_worker(engine: Engine, settings: Settings, stop: threading.Event) -> None:
    """Run jobs and timers until `stop` is set."""
    released = release_orphans(engine)
    log.info("job worker started", extra={"orphans_released": released})
    while not stop.is_set():
        run_periodic(engine, settings)
        while not stop.is_set() and run_one(engine, settings):
            pass
        stop.wait(settings.jobs.poll_seconds)
    log.info("job worker stopped")


def drain(engine: Engine, settings: Settings, limit: int = 10_000) -> int:
    """Run every due job now (for `cme` commands and tests); returns how many ran."""
    ran = 0
    while ran < limit and run_one(engine, settings):
        ran += 1
    return ran

"""The periodic work the worker does: progress-update letters and sending the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from gateway import audit_anchor, outbox
from gateway.cases.service import send_due_progress_updates
from gateway.db import session_scope
from gateway.jobs import periodic
from gateway.retention import dispose as _retention  # noqa: F401  (the daily disposal job)
from gateway.settings import Settings


def local_today(settings: Settings, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(settings.core.timezone))


@periodic("progress_updates")
def progress_updates(engine: Engine, settings: Settings, now: datetime) -> None:
    with session_scope(engine) as session:
        send_due_progress_updates(session, settings, local_today(settings, now).date())


@periodic("outbox")
def send_outbox(engine: Engine, settings: Settings, now: datetime) -> None:
    outbox.send_due(engine, settings, now)


@periodic("audit_anchor")
def anchor_audit_chain(engine: Engine, settings: Settings, now: datetime) -> None:
    """Anchor the audit chain's head outside the database every few minutes."""
    audit_anchor.anchor_due(engine, settings, now)


_last_retention: list[datetime] = []


@periodic("lost_pupil_retention")
def lost_pupil_retention(engine: Engine, settings: Settings, now: datetime) -> None:
    """Dispose of lost-pupil files past retention (not on hold); hourly is plenty."""
    from gateway import audit
    from lost_pupil.lifecycle import expire_due, purge_disposed
    from lost_pupil.store import FileStore

    if _last_retention and now - _last_retention[-1] < timedelta(hours=1):
        return
    _last_retention[:] = [now]
    actor = "system:retention"
    with session_scope(engine) as session:
        report = expire_due(session, actor=actor, now=now)
        for sha in report.shas:
            audit.record(
                session,
                actor=actor,
                action="lost_pupil.dispose",
                entity="ctf_file",
                entity_id=sha[:16],
            )
    if report.files:
        store = FileStore(settings.home / "lost_pupil", settings.keys_dir / "lost_pupil.key")
        with session_scope(engine) as session:
            purge_disposed(session, store)

"""The periodic work the worker does: progress-update letters and sending the outbox."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from gateway import outbox
from gateway.cases.service import send_due_progress_updates
from gateway.db import session_scope
from gateway.jobs import periodic
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

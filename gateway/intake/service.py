"""Start and stop the intake components inside `cme run`: the SMTP listener, the IMAP poller."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine

import gateway.intake.dispatch  # noqa: F401  (registers the dispatch job handler)
from gateway.intake.imap import ImapPoller
from gateway.intake.rawstore import RawStore
from gateway.intake.smtp import SmtpListener
from gateway.settings import Settings

log = logging.getLogger(__name__)

Stop = Callable[[], None]


def start_smtp(settings: Settings, engine: Engine) -> Stop:
    """Recover anything a crash left half-indexed, then listen; returns the stop function."""
    store = RawStore(settings.home, engine)
    store.recover()
    listener = SmtpListener(settings, store)
    listener.start()

    def stop() -> None:
        listener.stop()
        store.close()

    return stop


def start_imap(settings: Settings, engine: Engine) -> Stop:
    """Poll the configured mailbox on a thread; returns the stop function."""
    store = RawStore(settings.home, engine)
    store.recover()
    poller = ImapPoller(settings, engine, store)
    poller.start()

    def stop() -> None:
        poller.stop()
        store.close()

    return stop

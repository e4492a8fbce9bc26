"""The sender: delivers queued exchange messages as soon as the transaction queuing them commits.

A commit that queued an outbound message wakes it (no polling sleep between an officer's
"send" and the post); retries wait for their backoff, and messages queued by another
process are found at the poll's pace (`jobs.poll_seconds`), as the job worker finds jobs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from gateway.db import utcnow
from gateway.exchange.outbound import DeliveryReport, deliver_due
from gateway.exchange.records import Direction
from gateway.models.exchange import ExchangeMessage
from gateway.settings import Settings

log = logging.getLogger(__name__)

#: session.info key: this transaction queued an outbound message.
QUEUED = "cme.exchange_queued"


class _Wake:
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


@event.listens_for(Session, "after_flush")
def _note_queued(session: Session, _context: object) -> None:
    for obj in session.new:
        if isinstance(obj, ExchangeMessage) and obj.direction == Direction.OUT.value:
            session.info[QUEUED] = True
            return


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop(QUEUED, False):
        _WAKE.notify()


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop(QUEUED, None)


class Sender:
    """One thread delivering this process's exchange messages; `stop()` ends it."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition()
        #: Messages delivered (receipt verified) since start.
        self.delivered = 0

    def start(self) -> Sender:
        self._thread = threading.Thread(target=self._run, name="exchange-sender", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        _WAKE.notify()
        if self._thread is not None:
            self._thread.join(60)

    def wait_delivered(self, count: int, timeout: float) -> bool:
        """Block until `count` messages were delivered in all, or the timeout passes."""
        with self._done:
            return self._done.wait_for(lambda: self.delivered >= count, timeout)

    def _round(self) -> DeliveryReport:
        report = deliver_due(self.engine, self.settings)
        with self._done:
            self.delivered += report.delivered
            self._done.notify_all()
        return report

    def _run(self) -> None:
        poll = self.settings.jobs.poll_seconds
        while not self._stop.is_set():
            timeout = poll
            try:
                due = self._round().next_due
                if due is not None:
                    # A floor, so rows another sender holds locked are not spun on.
                    timeout = min(poll, max((due - utcnow()).total_seconds(), 0.05))
            except Exception:
                log.exception("exchange sender round failed")
            if timeout > 0 and not self._stop.is_set():
                _WAKE.wait(timeout)


def start_sender(settings: Settings, engine: Engine) -> Callable[[], None]:
    """For `cme run`: the sender beside the job worker; returns its stop."""
    if not (settings.keys_dir / "exchange.key").exists():
        return lambda: None  # the exchange is not set up in this home
    return Sender(engine, settings).start().stop

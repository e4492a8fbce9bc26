"""The outbox delivers to a real aiosmtpd server on loopback, and retries when it cannot."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select

from gateway import outbox
from gateway.db import session_scope, utcnow
from gateway.models.ops import OutboxMessage
from gateway.settings import Settings, load_settings
from tests.support.postgres import free_port


class Sink:
    def __init__(self, refuse: str | None = None) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse = refuse

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return self.refuse
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    yield sink, port
    ctl.stop()


def _settings(port: int) -> Settings:
    s = load_settings()
    return dataclasses.replace(s, smtp=dataclasses.replace(s.smtp, relay=f"127.0.0.1:{port}"))


def _queue(engine: Engine, s: Settings) -> int:
    with session_scope(engine) as session:
        item = outbox.queue(
            session,
            s,
            kind="progress_update",
            to=["ref@school.example"],
            subject="[CME-7] Referral progress update",
            body="Dear colleague",
        )
        return item.id


def test_delivered_with_threading_and_auto_headers(
    engine: Engine, smtp_sink: tuple[Sink, int]
) -> None:
    sink, port = smtp_sink
    s = _settings(port)
    item_id = _queue(engine, s)
    report = outbox.send_due(engine, s)
    assert (report.sent, report.failed) == (1, 0)
    assert len(sink.messages) == 1
    _mail_from, rcpts, content = sink.messages[0]
    assert rcpts == ["ref@school.example"]
    msg = message_from_bytes(content, policy=default)
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Subject"] == "[CME-7] Referral progress update"
    with session_scope(engine) as session:
        item = session.get(OutboxMessage, item_id)
        assert item is not None and item.status == "sent" and item.message_id == msg["Message-ID"]
    assert outbox.send_due(engine, s).sent == 0  # sent once only


def test_relay_down_backs_off_then_delivers(engine: Engine) -> None:
    port = free_port()  # nothing listens here yet
    s = _settings(port)
    item_id = _queue(engine, s)
    report = outbox.send_due(engine, s)
    assert (report.sent, report.failed) == (0, 1)
    with session_scope(engine) as session:
        item = session.get(OutboxMessage, item_id)
        assert item is not None and item.status == "pending" and item.attempts == 1
        assert item.next_attempt_at > utcnow() + timedelta(seconds=50)
    sink = Sink()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        assert outbox.send_due(engine, s).sent == 0  # not due yet
        assert outbox.send_due(engine, s, now=utcnow() + timedelta(minutes=2)).sent == 1
        assert len(sink.messages) == 1
    finally:
        ctl.stop()


def test_permanent_refusal_goes_dead(engine: Engine) -> None:
    sink = Sink(refuse="554 5.7.1 rejected")
    port = free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        s = _settings(port)
        _queue(engine, s)
        report = outbox.send_due(engine, s)
        assert report.dead == 1
        with session_scope(engine) as session:
            statuses = session.execute(select(OutboxMessage.status)).scalars().all()
            assert statuses == ["dead"]
    finally:
        ctl.stop()

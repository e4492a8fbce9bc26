"""The transactional outbox: messages written with their cause, sent later with retries."""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.db import session_scope, utcnow
from gateway.models.ops import OutboxMessage
from gateway.settings import Settings

log = logging.getLogger(__name__)


def new_message_id(settings: Settings) -> str:
    domain = settings.outbox.from_address.rpartition("@")[2] or "cme.invalid"
    return f"<cme.{uuid.uuid4().hex}@{domain}>"


def build_message(
    settings: Settings,
    *,
    to: list[str],
    subject: str,
    body: str,
    message_id: str,
    in_reply_to: str | None = None,
    extra_headers: dict[str, str] | None = None,
    attachments: tuple[tuple[bytes, str, str, str], ...] = (),
) -> EmailMessage:
    """An RFC 5322 message from us: threadable, and marked so no auto-responder answers."""
    msg = EmailMessage()
    msg["From"] = settings.outbox.from_address
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for data, maintype, subtype, filename in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def queue(
    session: Session,
    settings: Settings,
    *,
    kind: str,
    to: list[str],
    subject: str,
    body: str,
    case_id: int | None = None,
    in_reply_to: str | None = None,
    extra_headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    message_id: str | None = None,
) -> OutboxMessage:
    """Write a message to the outbox in the caller's transaction (it commits with its cause).

    Give `raw` (with its `message_id`) to send prepared bytes as they are, e.g. S/MIME.
    """
    if not to:
        raise ValueError("an outbox message needs at least one recipient")
    if raw is None:
        message_id = new_message_id(settings)
        msg = build_message(
            settings,
            to=to,
            subject=subject,
            body=body,
            message_id=message_id,
            in_reply_to=in_reply_to,
            extra_headers=extra_headers,
        )
        raw = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    elif not message_id:
        raise ValueError("prepared raw bytes need their message_id")
    item = OutboxMessage(
        kind=kind,
        case_id=case_id,
        to_addrs=list(to),
        subject=subject,
        message_id=message_id,
        raw=raw,
        status="pending",
        next_attempt_at=utcnow(),
    )
    session.add(item)
    session.flush()
    return item


@dataclass(frozen=True)
class SendReport:
    sent: int
    failed: int
    dead: int


def _relay(settings: Settings) -> tuple[str, int]:
    host, _, port = settings.smtp.relay.rpartition(":")
    return host, int(port)


def _backoff(settings: Settings, attempts: int) -> timedelta:
    seconds = settings.outbox.backoff_seconds * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, settings.outbox.backoff_max_seconds))


def _deliver(settings: Settings, item: OutboxMessage) -> None:
    host, port = _relay(settings)
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        if settings.smtp.relay_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp.relay_user:
            smtp.login(settings.smtp.relay_user, settings.smtp.relay_password)
        smtp.sendmail(settings.outbox.from_address, list(item.to_addrs), item.raw)


def due_ids(session: Session, now: datetime, limit: int = 100) -> list[int]:
    return list(
        session.execute(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).scalars()
    )


def send_due(engine: Engine, settings: Settings, now: datetime | None = None) -> SendReport:
    """Send every pending message that is due through the configured smarthost."""
    if not settings.smtp.relay:
        return SendReport(0, 0, 0)
    now = now or utcnow()
    with session_scope(engine) as session:
        ids = due_ids(session, now)
    sent = failed = dead = 0
    for item_id in ids:
        with session_scope(engine) as session:
            stmt: Any = select(OutboxMessage).where(
                OutboxMessage.id == item_id, OutboxMessage.status == "pending"
            )
            if engine.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            item = session.execute(stmt).scalar_one_or_none()
            if item is None:
                continue  # another worker took it
            item.attempts += 1
            try:
                _deliver(settings, item)
            except (OSError, smtplib.SMTPException) as exc:
                item.last_error = f"{type(exc).__name__}: {exc}"[:500]
                permanent = isinstance(exc, smtplib.SMTPException) and _permanent(exc)
                if permanent or item.attempts >= settings.outbox.max_attempts:
                    item.status = "dead"
                    dead += 1
                else:
                    item.next_attempt_at = utcnow() + _backoff(settings, item.attempts)
                    failed += 1
                log.warning(
                    "outbox send failed", extra={"outbox_id": item.id, "attempt": item.attempts}
                )
                continue
            item.status = "sent"
            item.sent_at = utcnow()
            sent += 1
    return SendReport(sent, failed, dead)


def _permanent(exc: smtplib.SMTPException) -> bool:
    """A 5xx answer: the relay will never take this message, so retrying is pointless."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in exc.recipients.values())
    code = getattr(exc, "smtp_code", 0)
    return 500 <= int(code) < 600


def mark_undelivered(session: Session, message_id: str, reason: str) -> OutboxMessage | None:
    """A bounce came back for one of our messages."""
    item = session.execute(
        select(OutboxMessage).where(OutboxMessage.message_id == message_id)
    ).scalar_one_or_none()
    if item is not None:
        item.status = "undelivered"
        item.last_error = reason[:500]
    return item

"""Outbound documents: seal, record the disclosure, deliver with retries, dead-letter."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway import disclosures
from gateway.db import session_scope, utcnow
from gateway.exchange import receipts, transport_http, transport_mail
from gateway.exchange.documents import delivery_route, disclosed_items, plain_text
from gateway.exchange.envelope import seal
from gateway.exchange.errors import ExchangeError
from gateway.exchange.keys import Identity, load_identity
from gateway.exchange.partners import get_partner
from gateway.exchange.records import Channel, Direction, OutStatus
from gateway.exchange.transport_http import Poster
from gateway.models.exchange import ExchangeMessage
from gateway.settings import Settings
from parsers.exchange import Document, render_document

log = logging.getLogger(__name__)


def queue_document(
    session: Session,
    settings: Settings,
    doc: Document,
    *,
    actor: str,
    case_id: int | None = None,
    identity: Identity | None = None,
    channel: Channel | None = None,
) -> ExchangeMessage:
    """Seal a document for its recipient and queue it, recording any disclosure."""
    identity = identity or load_identity(settings.keys_dir)
    partner = get_partner(session, doc.header.recipient_la)
    chosen, recipient = delivery_route(partner, channel)
    xml = render_document(doc)
    sealed = seal(
        xml,
        plain_text(doc, settings),
        sender=identity,
        recipient=partner.certificate,
        filename=f"{doc.doc_type.value}.xml",
    )
    row = ExchangeMessage(
        direction=Direction.OUT.value,
        message_id=doc.header.message_id,
        partner_la=partner.la_code,
        doc_type=doc.doc_type.value,
        in_reply_to=doc.header.in_reply_to,
        case_id=case_id,
        channel=chosen.value,
        status=OutStatus.QUEUED.value,
        document=xml,
        wire=sealed.der,
        wire_sha256=sealed.sha256,
        next_attempt_at=utcnow(),
    )
    session.add(row)
    items = disclosed_items(doc)
    if items:
        kind = doc.doc_type.value.replace("-", "_")
        disclosures.record(
            session,
            kind=kind if kind in disclosures.KINDS else "exchange",
            case_id=case_id,
            message_id=doc.header.message_id,
            recipient_la=partner.la_code,
            recipient=f"{partner.name} <{recipient}>",
            basis=disclosures.LawfulBasis.PUBLIC_TASK,
            channel=chosen.value,
            fields=items,
            actor=actor,
        )
    session.flush()
    return row


def backoff(settings: Settings, attempts: int) -> timedelta:
    seconds = settings.exchange.retry_base_seconds * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, settings.exchange.retry_max_seconds))


def mail_backoff(settings: Settings, sends: int) -> timedelta:
    """Mail is store-and-forward (the smarthost retries delivery itself) and may be read by
    a person: send the same message again only after days, not minutes."""
    return timedelta(hours=settings.exchange.mail_resend_hours * (2 ** max(sends - 1, 0)))


def _attempts_allowed(settings: Settings, row: ExchangeMessage) -> int:
    if row.channel == Channel.MAIL.value:
        return settings.exchange.mail_max_sends
    return settings.exchange.max_attempts


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    sent_by_mail: int = 0
    retrying: int = 0
    dead: int = 0
    #: When the earliest HTTPS message still waiting (a retry, or one in flight) is due.
    next_due: datetime | None = None


def deliver_due(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime | None = None,
    poster: Poster | None = None,
) -> DeliveryReport:
    """Try every due message once: HTTPS waits for the receipt, mail goes to the outbox.

    The attempts are claimed in one short transaction (each due again only after its
    backoff, so a crash mid-send retries and another sender leaves it alone), the posts
    run with no transaction open (no database lock held across the network), and each
    answer is checked and recorded in its own.
    """
    now = now or utcnow()
    post = poster or transport_http.poster(settings)
    identity = load_identity(settings.keys_dir)
    delivered = mailed = retrying = dead = 0
    to_post: list[tuple[int, str, bytes]] = []
    with session_scope(engine) as session:
        for row in _claim_due(session, now):
            if row.attempts >= _attempts_allowed(settings, row):
                row.status = OutStatus.DEAD.value
                row.next_attempt_at = None
                row.last_error = (row.last_error or "") + " (gave up: dead letter)"
                dead += 1
                log.warning("exchange message dead-lettered", extra={"exchange_id": row.id})
                continue
            row.attempts += 1
            if row.channel == Channel.MAIL.value:
                partner = get_partner(session, row.partner_la)
                transport_mail.queue_mail(session, settings, row, partner.email)
                row.status = OutStatus.AWAITING_RECEIPT.value
                row.next_attempt_at = now + mail_backoff(settings, row.attempts)
                mailed += 1
                continue
            row.next_attempt_at = now + backoff(settings, row.attempts)
            try:
                url = str(get_partner(session, row.partner_la).url)
            except ExchangeError as exc:
                row.last_error = f"{type(exc).__name__}: {exc}"[:500]
                retrying += 1
                continue
            to_post.append((row.id, url, row.wire))
        next_due = _next_https_due(session)
    for msg_id, url, wire in to_post:
        error: Exception | None = None
        try:
            answer = post(url, wire)
        except OSError as exc:
            error = exc
        with session_scope(engine) as session:
            sent = session.get(ExchangeMessage, msg_id)
            if sent is None or sent.status == OutStatus.DELIVERED.value:
                continue
            if error is None:
                try:
                    receipts.accept_receipt_bytes(
                        session, settings, identity, answer, sent, now=now
                    )
                except ExchangeError as exc:
                    error = exc
            if error is not None:
                sent.last_error = f"{type(error).__name__}: {error}"[:500]
                retrying += 1
                continue
        delivered += 1
    return DeliveryReport(delivered, mailed, retrying, dead, next_due)


def _next_https_due(session: Session) -> datetime | None:
    found: datetime | None = session.execute(
        select(func.min(ExchangeMessage.next_attempt_at)).where(
            ExchangeMessage.direction == Direction.OUT.value,
            ExchangeMessage.channel == Channel.HTTPS.value,
            ExchangeMessage.status.in_([OutStatus.QUEUED.value, OutStatus.AWAITING_RECEIPT.value]),
        )
    ).scalar()
    return found


def _claim_due(session: Session, now: datetime) -> list[ExchangeMessage]:
    query = (
        select(ExchangeMessage)
        .where(
            ExchangeMessage.direction == Direction.OUT.value,
            ExchangeMessage.status.in_([OutStatus.QUEUED.value, OutStatus.AWAITING_RECEIPT.value]),
            ExchangeMessage.next_attempt_at <= now,
        )
        .order_by(ExchangeMessage.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Several senders share the table: each claims rows the others have not locked.
        query = query.with_for_update(skip_locked=True)
    return list(session.execute(query).scalars())


def dead_letters(session: Session) -> list[ExchangeMessage]:
    return list(
        session.execute(
            select(ExchangeMessage)
            .where(ExchangeMessage.status == OutStatus.DEAD.value)
            .order_by(ExchangeMessage.id)
        ).scalars()
    )

"""Outbound documents: seal, record the disclosure, deliver with retries, dead-letter."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway import disclosures
from gateway.db import session_scope, utcnow
from gateway.exchange.envelope import seal
from gateway.exchange.errors import ExchangeError
from gateway.exchange.keys import Identity, load_identity
from gateway.exchange.partners import Partner, get_partner
from gateway.exchange.records import Channel, Direction, OutStatus
from gateway.models.exchange import ExchangeMessage
from gateway.settings import Settings
from parsers.exchange import DocType, Document, Header, render_document

log = logging.getLogger(__name__)

#: post(url, body) -> the response body; raises OSError when the partner is unreachable.
Poster = Callable[[str, bytes], bytes]


def new_header(settings: Settings, to_la: str, in_reply_to: str | None = None) -> Header:
    return Header(
        message_id=str(uuid.uuid4()),
        sender_la=settings.core.la_code,
        recipient_la=to_la,
        created_at=utcnow().replace(microsecond=0),
        in_reply_to=in_reply_to,
    )


def _disclosed_items(doc: Document) -> list[str]:
    items: list[str] = []
    if doc.pupil is not None:
        p = doc.pupil
        items += [name for name, value in (
            ("surname", p.surname), ("forename", p.forename), ("upn", p.upn),
            ("middle_names", p.middle_names), ("former_surname", p.former_surname),
            ("dob", p.dob), ("sex", p.sex), ("address", p.address),
        ) if value]  # fmt: skip
    if doc.outcome is not None:
        items.append(f"outcome:{doc.outcome.status.value}")
        if doc.outcome.address is not None:
            items.append("address")
        if doc.outcome.laestab:
            items.append("school")
    if doc.note:
        items.append("note")
    return items


def delivery_route(partner: Partner, channel: Channel | None = None) -> tuple[Channel, str]:
    """How a document reaches the partner, and where: HTTPS when they run CME Gateway,
    else their CME lead's mailbox (the check-before-you-send page shows the same)."""
    chosen = channel or (Channel.HTTPS if partner.url else Channel.MAIL)
    if chosen is Channel.HTTPS and not partner.url:
        raise ExchangeError(f"LA {partner.la_code} has no HTTPS endpoint; send by mail")
    return chosen, str(partner.url) if chosen is Channel.HTTPS else partner.email


def plain_text(doc: Document, settings: Settings) -> str:
    """The readable part, for a CME lead who opens the message in a mail client."""
    lines = [
        f"Secure CME exchange message ({doc.doc_type.value}) from LA {settings.core.la_code} "
        f"({settings.core.la_name}) to LA {doc.header.recipient_la}.",
        f"Message id: {doc.header.message_id}",
    ]
    if doc.case_ref:
        lines.append(f"Our reference: {doc.case_ref}")
    if doc.pupil is not None:
        p = doc.pupil
        lines += [
            "",
            "Child:",
            f"  Name: {p.forename} {p.surname}",
            f"  Date of birth: {p.dob.isoformat() if p.dob else 'not known'}",
        ]
        if p.upn:
            lines.append(f"  UPN: {p.upn}")
        if p.address is not None:
            lines.append(f"  Address: {', '.join([*p.address.lines, p.address.postcode or ''])}")
    if doc.doc_type is DocType.ENQUIRY:
        lines += [
            "",
            "Is this child on roll at a school in your authority, or known to you?",
            "Reply to this message (signed and encrypted) in your own words if you do not run",
            "CME Gateway; your reply is filed against our case automatically.",
        ]
    if doc.outcome is not None:
        lines += ["", f"Our answer: {doc.outcome.status.value}"]
    if doc.note:
        lines += ["", doc.note]
    if doc.lawful_basis:
        lines += ["", f"Lawful basis: {doc.lawful_basis}"]
    return "\n".join(lines) + "\n"


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
    items = _disclosed_items(doc)
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


def due_messages(session: Session, now: datetime) -> list[int]:
    return list(
        session.execute(
            select(ExchangeMessage.id)
            .where(
                ExchangeMessage.direction == Direction.OUT.value,
                ExchangeMessage.status.in_(
                    [OutStatus.QUEUED.value, OutStatus.AWAITING_RECEIPT.value]
                ),
                ExchangeMessage.next_attempt_at <= now,
            )
            .order_by(ExchangeMessage.id)
        ).scalars()
    )


def deliver_due(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime | None = None,
    poster: Poster | None = None,
) -> DeliveryReport:
    """Try every due message once: HTTPS waits for the receipt, mail goes to the outbox."""
    from gateway.exchange import inbound, transport_http, transport_mail

    now = now or utcnow()
    post = poster or transport_http.poster(settings)
    identity = load_identity(settings.keys_dir)
    delivered = mailed = retrying = dead = 0
    with session_scope(engine) as session:
        ids = due_messages(session, now)
    for msg_id in ids:
        with session_scope(engine) as session:
            row = session.get(ExchangeMessage, msg_id)
            if row is None or row.status not in (OutStatus.QUEUED, OutStatus.AWAITING_RECEIPT):
                continue
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
            partner = get_partner(session, row.partner_la)
            try:
                answer = post(str(partner.url), row.wire)
                inbound.accept_receipt_bytes(session, settings, identity, answer, row, now=now)
            except (OSError, ExchangeError) as exc:
                row.last_error = f"{type(exc).__name__}: {exc}"[:500]
                row.next_attempt_at = now + backoff(settings, row.attempts)
                retrying += 1
                continue
            delivered += 1
    return DeliveryReport(delivered, mailed, retrying, dead)


def dead_letters(session: Session) -> list[ExchangeMessage]:
    return list(
        session.execute(
            select(ExchangeMessage)
            .where(ExchangeMessage.status == OutStatus.DEAD.value)
            .order_by(ExchangeMessage.id)
        ).scalars()
    )

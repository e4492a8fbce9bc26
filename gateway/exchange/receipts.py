"""Receive and verify: open a sealed message from a pinned partner; make and check receipts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.exchange.documents import new_header, plain_text
from gateway.exchange.envelope import Opened, open_message, seal
from gateway.exchange.errors import ExchangeError, UntrustedMessage
from gateway.exchange.keys import Identity, fingerprint
from gateway.exchange.partners import Partner, list_partners, partner_for_certificate
from gateway.exchange.records import Channel, Direction, OutStatus
from gateway.models.exchange import ExchangeMessage
from gateway.settings import Settings
from parsers.errors import ParseError
from parsers.exchange import Disposition, DocType, Document, parse_document, render_document


def signer_of(session: Session, exc: UntrustedMessage) -> str | None:
    """The LA of the pinned partner whose signature verified before the refusal, if any."""
    if exc.signer is None:
        return None
    try:
        return partner_for_certificate(session, exc.signer).la_code
    except ExchangeError:
        return None


def open_from_partner(
    session: Session, identity: Identity, raw: bytes, channel: Channel, now: datetime
) -> tuple[Opened, Partner]:
    partners = list_partners(session)  # read once: the trusted signers and their LAs
    opened = open_message(
        raw,
        identity=identity,
        trusted=[p.certificate for p in partners],
        now=now,
        require_outer_signature=channel is Channel.HTTPS,
    )
    pin = fingerprint(opened.signer)
    for partner in partners:
        if partner.fingerprint == pin:
            return opened, partner
    raise UntrustedMessage("no partner has this certificate pinned")


def check_header(doc: Document, partner: Partner, settings: Settings) -> None:
    if doc.header.sender_la != partner.la_code:
        raise UntrustedMessage(
            f"document claims sender LA {doc.header.sender_la} but is signed by LA "
            f"{partner.la_code}"
        )
    if doc.header.recipient_la != settings.core.la_code:
        raise UntrustedMessage(f"document is addressed to LA {doc.header.recipient_la}, not us")


def make_receipt(
    settings: Settings, identity: Identity, partner: Partner, doc: Document, wire_sha256: str
) -> tuple[str, bytes]:
    receipt = Document(
        DocType.RECEIPT,
        new_header(settings, partner.la_code, in_reply_to=doc.header.message_id),
        received_sha256=wire_sha256,
        disposition=Disposition.ACCEPTED,
    )
    sealed = seal(
        render_document(receipt),
        plain_text(receipt, settings),
        sender=identity,
        recipient=partner.certificate,
        filename="receipt.xml",
    )
    return receipt.header.message_id, sealed.der


def accept_receipt(session: Session, doc: Document, partner: Partner, *, now: datetime) -> None:
    """Mark our message delivered, only if the receipt names the SHA-256 of what we sent."""
    row = session.execute(
        select(ExchangeMessage).where(
            ExchangeMessage.direction == Direction.OUT.value,
            ExchangeMessage.partner_la == partner.la_code,
            ExchangeMessage.message_id == doc.header.in_reply_to,
        )
    ).scalar_one_or_none()
    if row is None:
        raise ExchangeError("receipt for a message we did not send to this partner")
    if doc.received_sha256 != row.wire_sha256:
        raise ExchangeError("receipt names different bytes from the ones we sent")
    if row.status != OutStatus.DELIVERED.value:
        row.status = OutStatus.DELIVERED.value
        row.delivered_at = now
        row.next_attempt_at = None
        row.last_error = None


def accept_receipt_bytes(
    session: Session,
    settings: Settings,
    identity: Identity,
    answer: bytes,
    sent: ExchangeMessage,
    *,
    now: datetime,
) -> None:
    """Check the synchronous HTTPS answer: a sealed receipt from that partner for that message."""
    try:
        opened, partner = open_from_partner(session, identity, answer, Channel.HTTPS, now)
        if opened.document is None:
            raise UntrustedMessage("no receipt document")
        doc = parse_document(opened.document)
        check_header(doc, partner, settings)
    except (UntrustedMessage, ParseError) as exc:
        reason = exc.reason if isinstance(exc, UntrustedMessage) else str(exc)
        raise ExchangeError(f"the answer is not a valid receipt ({reason})") from None
    if doc.doc_type is not DocType.RECEIPT or partner.la_code != sent.partner_la:
        raise ExchangeError("the answer is not a receipt from the recipient")
    if doc.header.in_reply_to != sent.message_id:
        raise ExchangeError("the receipt is for another message")
    accept_receipt(session, doc, partner, now=now)

"""Inbound messages: authenticate, validate, refuse replays, dedupe, receipt, then act."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db import utcnow
from gateway.exchange import working
from gateway.exchange.envelope import Opened
from gateway.exchange.errors import ExchangeError, UntrustedMessage
from gateway.exchange.keys import Identity
from gateway.exchange.partners import Partner
from gateway.exchange.receipts import (
    accept_receipt,
    check_header,
    make_receipt,
    open_from_partner,
    signer_of,
)
from gateway.exchange.records import (
    Channel,
    Direction,
    InboundOutcome,
    InStatus,
    Verdict,
)
from gateway.models.exchange import ExchangeMessage, QuarantinedMessage
from gateway.settings import Settings
from parsers.errors import ParseError
from parsers.exchange import DocType, parse_document

log = logging.getLogger(__name__)


#: What a bounded quarantine record keeps of the message itself.
PREFIX_BYTES = 256


def quarantine(
    session: Session,
    channel: Channel,
    raw: bytes,
    reason: str,
    *,
    signer_la: str | None = None,
    peer: str | None = None,
    raw_ref: str | None = None,
) -> InboundOutcome:
    """Record a refusal: whole only if a pinned partner signed it, else a bounded record.

    `signer_la` is the partner whose pinned certificate verified a signature on the
    message. Anything else (unsigned, unknown signer, tampered) is anyone's post: it gets
    hash, size, peer, reason and its first bytes, never its whole body. A mail's bytes
    are already in the raw store (`raw_ref`), and a second copy is not kept twice.
    """
    sha = hashlib.sha256(raw).hexdigest()
    whole = signer_la is not None and raw_ref is None and not _held_whole(session, sha)
    session.add(
        QuarantinedMessage(
            channel=channel.value,
            reason=reason[: 2000 if signer_la else 500],
            raw=raw if whole else None,
            sha256=sha,
            size=len(raw),
            prefix=raw[:PREFIX_BYTES],
            peer=peer[:200] if peer else None,
            signer_la=signer_la,
            raw_ref=raw_ref,
        )
    )
    session.flush()
    # The reason stays in the quarantine table; logs carry no message content.
    log.warning(
        "exchange message quarantined",
        extra={"channel": channel.value, "authenticated": signer_la is not None},
    )
    return InboundOutcome(Verdict.REFUSED, detail=UntrustedMessage.GENERIC)


def _held_whole(session: Session, sha256: str) -> bool:
    found = session.execute(
        select(QuarantinedMessage.id)
        .where(QuarantinedMessage.sha256 == sha256, QuarantinedMessage.raw.is_not(None))
        .limit(1)
    ).first()
    return found is not None


def receive(
    session: Session,
    settings: Settings,
    identity: Identity,
    raw: bytes,
    channel: Channel,
    *,
    now: datetime | None = None,
    opened: tuple[Opened, Partner] | None = None,
    peer: str | None = None,
    raw_ref: str | None = None,
) -> InboundOutcome:
    """The one inbound path for both transports; refusals are quarantined, never raised."""
    now = now or utcnow()
    try:
        opened_msg, partner = opened or open_from_partner(session, identity, raw, channel, now)
    except UntrustedMessage as exc:
        return quarantine(
            session, channel, raw, exc.reason,
            signer_la=signer_of(session, exc), peer=peer, raw_ref=raw_ref,
        )  # fmt: skip

    def refuse(reason: str) -> InboundOutcome:
        # The outer signature verified against this partner's pinned certificate.
        return quarantine(
            session, channel, raw, reason, signer_la=partner.la_code, peer=peer, raw_ref=raw_ref
        )

    try:
        if opened_msg.document is None:
            raise UntrustedMessage("no exchange document in the message")
        doc = parse_document(opened_msg.document)
        check_header(doc, partner, settings)
    except UntrustedMessage as exc:
        return refuse(exc.reason)
    except ParseError as exc:
        return refuse(f"invalid document: {exc}")

    if doc.doc_type is DocType.RECEIPT:
        try:
            accept_receipt(session, doc, partner, now=now)
        except ExchangeError as exc:
            return refuse(f"receipt refused: {exc}")
        return InboundOutcome(Verdict.RECEIPT, doc.header.message_id, None, partner.la_code)

    existing = session.execute(
        select(ExchangeMessage).where(
            ExchangeMessage.direction == Direction.IN.value,
            ExchangeMessage.partner_la == partner.la_code,
            ExchangeMessage.message_id == doc.header.message_id,
        )
    ).scalar_one_or_none()
    if existing is not None:
        if existing.wire_sha256 == opened_msg.wire_sha256 and existing.receipt_wire:
            return InboundOutcome(
                Verdict.DUPLICATE,
                doc.header.message_id,
                existing.receipt_wire,
                partner.la_code,
                "already received; the stored receipt is returned",
            )
        return refuse("replay: message id reused with other bytes")
    window = timedelta(seconds=settings.exchange.time_window_seconds)
    if abs(now - doc.header.created_at) > window:
        return refuse(f"outside the time window: created {doc.header.created_at}")

    receipt_id, receipt = make_receipt(settings, identity, partner, doc, opened_msg.wire_sha256)
    row = ExchangeMessage(
        direction=Direction.IN.value,
        message_id=doc.header.message_id,
        partner_la=partner.la_code,
        doc_type=doc.doc_type.value,
        in_reply_to=doc.header.in_reply_to,
        channel=channel.value,
        status=InStatus.ACCEPTED.value,
        document=opened_msg.document,
        wire=raw,
        wire_sha256=opened_msg.wire_sha256,
        receipt_wire=receipt,
        receipt_message_id=receipt_id,
        delivered_at=now,
    )
    session.add(row)
    session.flush()
    working.on_document(session, settings, row, doc, partner)
    return InboundOutcome(Verdict.ACCEPTED, doc.header.message_id, receipt, partner.la_code)

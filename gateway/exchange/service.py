"""The exchange's entry points for other areas: intake dispatch, the web endpoint, timers."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway import jobs
from gateway.db import utcnow
from gateway.exchange import inbound, monitoring, outbound, transport_mail, working
from gateway.exchange.envelope import open_message
from gateway.exchange.errors import ExchangeError, UntrustedMessage
from gateway.exchange.keys import load_identity
from gateway.exchange.partners import partner_for_certificate, trusted_certificates
from gateway.exchange.receipts import signer_of
from gateway.exchange.records import Channel, Direction, InboundOutcome, InStatus, Verdict
from gateway.exchange.transport_mail import is_smime
from gateway.models.exchange import ExchangeMessage
from gateway.models.intake import RawMessage
from gateway.outbox import queue as queue_outbox
from gateway.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["handle_inbound_https", "handle_inbound_mail", "is_smime", "tick"]


def handle_inbound_https(
    session: Session, settings: Settings, body: bytes, peer: str | None = None
) -> InboundOutcome:
    """POST /exchange: the outcome carries the sealed receipt to answer with.

    Raises ExchangeNotConfigured before `cme keys init` has made our key.
    """
    identity = load_identity(settings.keys_dir)
    return inbound.receive(session, settings, identity, body, Channel.HTTPS, peer=peer)


def _raw_row(session: Session, raw: bytes) -> tuple[str | None, str | None]:
    """The raw store's row for these bytes ("raw:ID", its peer): the mail is kept there."""
    sha = hashlib.sha256(raw).hexdigest()
    row = session.execute(
        select(RawMessage.id, RawMessage.peer).where(RawMessage.sha256 == sha)
    ).first()
    return (f"raw:{row.id}", row.peer) if row is not None else (None, None)


def handle_inbound_mail(
    session: Session, settings: Settings, raw: bytes, parsed: Any = None
) -> InboundOutcome:
    """An S/MIME mail from the intake (application/pkcs7-mime or multipart/signed).

    A document gets a receipt mailed back through the outbox; a free-text reply from a
    partner's mail client is filed against the enquiry it answers (In-Reply-To).
    """
    identity = load_identity(settings.keys_dir)
    now = utcnow()
    # The whole mail is in the raw store already: the exchange quarantine points at it.
    raw_ref, peer = _raw_row(session, raw)
    try:
        opened = open_message(
            raw,
            identity=identity,
            trusted=trusted_certificates(session),
            now=now,
            require_outer_signature=False,
        )
        partner = partner_for_certificate(session, opened.signer)
    except UntrustedMessage as exc:
        return inbound.quarantine(
            session, Channel.MAIL, raw, exc.reason,
            signer_la=signer_of(session, exc), peer=peer, raw_ref=raw_ref,
        )  # fmt: skip
    except ExchangeError as exc:
        return inbound.quarantine(session, Channel.MAIL, raw, str(exc), peer=peer, raw_ref=raw_ref)
    if opened.document is None:
        return _free_text(session, raw, opened.text or "", opened.wire_sha256, partner, now)
    outcome = inbound.receive(
        session, settings, identity, raw, Channel.MAIL, now=now, opened=(opened, partner),
        peer=peer, raw_ref=raw_ref,
    )  # fmt: skip
    if outcome.verdict is Verdict.ACCEPTED and outcome.receipt is not None:
        _mail_receipt(session, settings, outcome, partner.email)
    return outcome


def _free_text(
    session: Session, raw: bytes, text: str, sha: str, partner: Any, now: datetime
) -> InboundOutcome:
    import uuid

    thread = transport_mail.threaded_exchange_id(raw)
    row = ExchangeMessage(
        direction=Direction.IN.value,
        message_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"cme-free-text:{sha}")),
        partner_la=partner.la_code,
        doc_type="free-text",
        in_reply_to=thread,
        channel=Channel.MAIL.value,
        status=InStatus.ACCEPTED.value,
        document=text.encode("utf-8"),
        wire=raw,
        wire_sha256=sha,
        delivered_at=now,
    )
    existing = session.query(ExchangeMessage).filter_by(
        direction=row.direction, partner_la=row.partner_la, message_id=row.message_id
    )
    if existing.first() is not None:
        return InboundOutcome(Verdict.DUPLICATE, row.message_id, None, partner.la_code)
    session.add(row)
    session.flush()
    working.on_free_text(session, row, text, partner, thread)
    return InboundOutcome(Verdict.ACCEPTED, row.message_id, None, partner.la_code)


def _mail_receipt(session: Session, settings: Settings, outcome: InboundOutcome, to: str) -> None:
    receipt_row = ExchangeMessage(
        direction=Direction.OUT.value,
        message_id=str(outcome.message_id),
        doc_type="receipt",
        wire=outcome.receipt or b"",
    )
    mid, subject, raw = transport_mail.build_mail(settings, receipt_row, to, attempt=0)
    queue_outbox(
        session,
        settings,
        kind="exchange_receipt",
        to=[to],
        subject=subject,
        body="",
        raw=raw,
        message_id=mid.replace("<exchange.", "<exchange-receipt."),
    )


def tick(engine: Engine, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """One round of the exchange's timers: status requests due, then deliveries due."""
    now = now or utcnow()
    requests = monitoring.send_due_status_requests(engine, settings, now)
    # The requests just queued are due from the moment they were queued, which is after
    # `now`: delivering up to the later of the two sends them in this round, not the next.
    report = outbound.deliver_due(engine, settings, now=max(now, utcnow()))
    return {
        "status_requests": requests,
        "delivered": report.delivered,
        "mailed": report.sent_by_mail,
        "retrying": report.retrying,
        "dead": report.dead,
    }


@jobs.periodic("exchange")
def _periodic(engine: Engine, settings: Settings, now: datetime) -> None:
    if not (settings.keys_dir / "exchange.key").exists():
        return  # the exchange is not set up in this home
    tick(engine, settings, now)

"""The quarantine: messages held for an officer, listed, shown, retried or released."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases.queries import NotFound
from gateway.db import utcnow
from gateway.errors import UserError
from gateway.intake.referral import held_message_values
from gateway.models.intake import QuarantineEntry, QuarantineStatus, RawMessage, RawStatus
from gateway.settings import Settings
from gateway.triage.service import receive


class Reason(enum.StrEnum):
    NO_HEADERS = "no_headers"
    MESSAGE_TOO_LARGE = "message_too_large"
    PARSE_DEFECTS = "parse_defects"
    TOO_DEEP = "mime_too_deep"
    ATTACHMENT_TOO_LARGE = "attachment_too_large"
    EXECUTABLE_ATTACHMENT = "executable_attachment"
    UNREADABLE_TNEF = "unreadable_tnef"
    EXCHANGE_NOT_CONFIGURED = "exchange_not_configured"
    EXCHANGE_REFUSED = "exchange_refused"
    REFERRAL_UNREADABLE = "referral_unreadable"
    DISPATCH_ERROR = "dispatch_error"


@dataclass(frozen=True)
class QuarantineItem:
    """One held message as the officer sees it: no child data, only where and why."""

    id: int
    raw_id: int
    reason: str
    detail: str
    status: str
    created_at: datetime
    received_at: datetime
    channel: str
    size: int
    envelope_from: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "raw_id": self.raw_id,
            "reason": self.reason,
            "detail": self.detail,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "received_at": self.received_at.isoformat(),
            "channel": self.channel,
            "size": self.size,
            "envelope_from": self.envelope_from,
        }


def hold(session: Session, row: RawMessage, reason: Reason, detail: str) -> QuarantineEntry:
    """Quarantine a raw message (in the caller's transaction), closing any older open hold."""
    for old in session.execute(
        select(QuarantineEntry).where(
            QuarantineEntry.raw_id == row.id, QuarantineEntry.status == QuarantineStatus.OPEN
        )
    ).scalars():
        old.status = QuarantineStatus.RETRIED.value
        old.resolved_at = utcnow()
        old.resolved_by = "intake"
    entry = QuarantineEntry(raw_id=row.id, reason=reason.value, detail=detail[:2000])
    session.add(entry)
    row.status = RawStatus.QUARANTINED.value
    row.reason = f"{reason.value}: {detail}"[:2000]
    session.flush()
    return entry


def _item(entry: QuarantineEntry, row: RawMessage) -> QuarantineItem:
    return QuarantineItem(
        id=entry.id,
        raw_id=entry.raw_id,
        reason=entry.reason,
        detail=entry.detail,
        status=entry.status,
        created_at=entry.created_at,
        received_at=row.received_at,
        channel=row.channel,
        size=row.size,
        envelope_from=row.envelope_from,
    )


def list_held(session: Session, *, include_closed: bool = False) -> list[QuarantineItem]:
    stmt = (
        select(QuarantineEntry, RawMessage)
        .join(RawMessage, RawMessage.id == QuarantineEntry.raw_id)
        .order_by(QuarantineEntry.id)
    )
    if not include_closed:
        stmt = stmt.where(QuarantineEntry.status == QuarantineStatus.OPEN)
    return [_item(entry, row) for entry, row in session.execute(stmt).all()]


def open_entry(session: Session, raw_id: int) -> tuple[QuarantineEntry, RawMessage]:
    """The open hold on a raw message, or a NotFound that says what to do."""
    row = session.get(RawMessage, raw_id)
    if row is None:
        raise NotFound(f"there is no raw message {raw_id}")
    entry = session.execute(
        select(QuarantineEntry).where(
            QuarantineEntry.raw_id == raw_id, QuarantineEntry.status == QuarantineStatus.OPEN
        )
    ).scalar_one_or_none()
    if entry is None:
        raise NotFound(f"raw message {raw_id} is not in the quarantine; see `cme quarantine list`")
    return entry, row


def show(session: Session, raw_id: int, actor: str) -> QuarantineItem:
    """One held message; viewing it is audited (it may hold a child's details)."""
    entry, row = open_entry(session, raw_id)
    audit.record(
        session, actor=actor, action="quarantine.view", entity="raw_message", entity_id=raw_id
    )
    return _item(entry, row)


def resolve(session: Session, raw_id: int, status: QuarantineStatus, actor: str) -> RawMessage:
    """Close the open hold (retried or released) and put the message back for dispatch."""
    entry, row = open_entry(session, raw_id)
    entry.status = status.value
    entry.resolved_at = utcnow()
    entry.resolved_by = actor
    row.status = RawStatus.STORED.value
    row.reason = None
    audit.record(
        session,
        actor=actor,
        action=f"quarantine.{status.value}",
        entity="raw_message",
        entity_id=raw_id,
        detail={"reason": entry.reason},
    )
    session.flush()
    return row


def discard(session: Session, raw_id: int, reason: str, actor: str) -> QuarantineEntry:
    """The officer's decision that a held message needs nothing more (spam, a test, sent in
    error). The raw bytes stay in the raw store; only the hold is closed, with the reason."""
    if not reason.strip():
        raise UserError("say why the message is discarded (for example: spam, sent in error)")
    entry, _row = open_entry(session, raw_id)
    entry.status = QuarantineStatus.DISCARDED.value
    entry.resolved_at = utcnow()
    entry.resolved_by = actor
    entry.resolution = reason.strip()[:2000]
    audit.record(
        session, actor=actor, action="quarantine.discarded", entity="raw_message",
        entity_id=raw_id, detail={"reason": entry.reason},
    )  # fmt: skip
    session.flush()
    return entry


def make_referral(session: Session, settings: Settings, raw_id: int, actor: str) -> int:
    """The officer's decision that a held message is a referral: it waits in triage with
    whatever can be read of it, and a gap saying why it was held. Returns the referral id."""
    entry, row = open_entry(session, raw_id)
    values = held_message_values(settings, session, row)
    held = f"held in the quarantine ({entry.reason}): read the message before acting on it"
    values["gaps"] = [*values.get("gaps", []), held]
    routed = receive(session, settings, values, actor=actor, raw_id=row.id, triage_only=True)
    entry.status = QuarantineStatus.REFERRAL.value
    entry.resolved_at = utcnow()
    entry.resolved_by = actor
    entry.resolution = f"referral:{routed.referral_id}"
    row.status = RawStatus.DISPATCHED.value
    row.outcome = "triage"
    row.dispatched_at = utcnow()
    audit.record(
        session, actor=actor, action="quarantine.referral", entity="raw_message",
        entity_id=raw_id, detail={"reason": entry.reason, "referral_id": routed.referral_id},
    )  # fmt: skip
    session.flush()
    return routed.referral_id

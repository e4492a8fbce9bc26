"""Intake tables: every raw inbound message, the quarantine, and the IMAP cursor."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, utcnow


class IntakeChannel(enum.StrEnum):
    SMTP = "smtp"
    IMAP = "imap"
    FILE = "file"
    FORM = "form"  # the public web referral form


class RawStatus(enum.StrEnum):
    STORED = "stored"  # durable, waiting for its dispatch job
    DISPATCHED = "dispatched"
    QUARANTINED = "quarantined"


class Outcome(enum.StrEnum):
    CASE = "case"  # opened a case, or joined the child's case
    TRIAGE = "triage"  # a referral waiting for an officer
    ATTACHED = "attached"  # (older rows: joined an existing case)
    REPLY = "reply"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    EXCHANGE = "exchange"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"


class QuarantineStatus(enum.StrEnum):
    OPEN = "open"
    RETRIED = "retried"
    RELEASED = "released"
    REFERRAL = "referral"  # an officer made it a referral awaiting triage
    DISCARDED = "discarded"  # an officer discarded it, with the reason (bytes kept)


class RawMessage(Base):
    """One distinct inbound message (deduplicated on the SHA-256 of its bytes)."""

    __tablename__ = "raw_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    # Where the bytes live in the append-only raw store (see gateway.intake.rawstore).
    segment: Mapped[str] = mapped_column(String(120))
    offset: Mapped[int] = mapped_column(BigInteger)
    # Sealed with its own data key (gateway.intake.rawkeys); False: a plaintext record
    # written before the raw store was encrypted, until `cme keys rotate` re-encrypts it.
    encrypted: Mapped[bool] = mapped_column(default=False)
    channel: Mapped[str] = mapped_column(String(10))
    envelope_from: Mapped[str | None] = mapped_column(String(320))
    envelope_to: Mapped[list[Any]] = mapped_column(default=list)
    peer: Mapped[str | None] = mapped_column(String(200))
    source_ref: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    message_id: Mapped[str | None] = mapped_column(String(500), index=True)
    # Another message already arrived with this Message-ID but different bytes.
    message_id_repeat: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default=RawStatus.STORED.value)
    outcome: Mapped[str | None] = mapped_column(String(20))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    dispatched_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_raw_messages_segment_offset", "segment", "offset"),)


class QuarantineEntry(Base):
    """A raw message held back for an officer, with the reason."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    raw_id: Mapped[int] = mapped_column(ForeignKey("raw_messages.id"), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=QuarantineStatus.OPEN.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    # Why an officer discarded it, or the referral it became ("referral:12").
    resolution: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_quarantine_status", "status"),)


class ImapCursor(Base):
    """How far the poller has read one mailbox folder (valid while UIDVALIDITY holds)."""

    __tablename__ = "imap_cursors"

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(300))
    folder: Mapped[str] = mapped_column(String(200))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("account", "folder"),)

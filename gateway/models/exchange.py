"""The secure exchange's tables: partners, messages, disclosures, quarantine, monitoring."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, utcnow


class ExchangePartner(Base):
    """Another LA's CME lead, their endpoints and their pinned certificate."""

    __tablename__ = "exchange_partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    la_code: Mapped[str] = mapped_column(String(3), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    url: Mapped[str | None] = mapped_column(String(500))
    cert_pem: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    not_after: Mapped[datetime]
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(default=True)


class ExchangeMessage(Base):
    """One document sent or received, with the exact bytes on the wire and its state."""

    __tablename__ = "exchange_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))
    message_id: Mapped[str] = mapped_column(String(36))
    partner_la: Mapped[str] = mapped_column(String(3), index=True)
    doc_type: Mapped[str] = mapped_column(String(20))
    in_reply_to: Mapped[str | None] = mapped_column(String(36), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), index=True)
    document: Mapped[bytes] = mapped_column(LargeBinary)
    wire: Mapped[bytes] = mapped_column(LargeBinary)
    wire_sha256: Mapped[str] = mapped_column(String(64))
    # Inbound: the sealed receipt we answered with, so a duplicate gets the same bytes.
    receipt_wire: Mapped[bytes | None] = mapped_column(LargeBinary)
    receipt_message_id: Mapped[str | None] = mapped_column(String(36))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("direction", "partner_la", "message_id", name="uq_exchange_messages_key"),
        Index("ix_exchange_messages_due", "direction", "status", "next_attempt_at"),
    )


class Disclosure(Base):
    """What child data went to whom, on which lawful basis, by which channel: the one
    disclosure register (gateway.disclosures), whatever the kind of disclosure."""

    __tablename__ = "exchange_disclosures"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # What left: letter, enquiry, reply, onward_referral, ctf_download, report_export, ...
    kind: Mapped[str] = mapped_column(String(30), default="exchange")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    message_id: Mapped[str | None] = mapped_column(String(36))
    recipient_la: Mapped[str | None] = mapped_column(String(3))
    recipient: Mapped[str] = mapped_column(String(500))
    # The basis from the fixed list (gateway.disclosures.LawfulBasis), and its words.
    basis: Mapped[str | None] = mapped_column(String(30))
    lawful_basis: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(10))
    data_items: Mapped[list[Any]] = mapped_column(default=list)
    actor: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))


class QuarantinedMessage(Base):
    """An inbound message refused as untrusted or unreadable, with the reason.

    Kept whole (`raw`) only when a pinned partner's signature on it verified; anything
    else costs a bounded record (hash, size, peer, reason, the first bytes), so anonymous
    posts cannot fill the disk. A mail's whole bytes stay in the raw store (`raw_ref`).
    """

    __tablename__ = "exchange_quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    prefix: Mapped[bytes] = mapped_column(LargeBinary)
    peer: Mapped[str | None] = mapped_column(String(200))
    # The LA whose pinned certificate signed it; None: the sender was never authenticated.
    signer_la: Mapped[str | None] = mapped_column(String(3))
    raw_ref: Mapped[str | None] = mapped_column(String(100), index=True)

    @property
    def kept_whole(self) -> bool:
        return self.raw is not None


class Proposal(Base):
    """Something the exchange proposes and an officer decides: a reply, or a case update."""

    __tablename__ = "exchange_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    message_id: Mapped[int] = mapped_column(ForeignKey("exchange_messages.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]


class Monitoring(Base):
    """A case whose child moved to another LA, watched until a school place is confirmed."""

    __tablename__ = "exchange_monitoring"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    partner_la: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_confirmation_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    closed_reason: Mapped[str | None] = mapped_column(String(200))

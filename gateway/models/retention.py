"""Disposal records: what retention removed, when and under which rule (no personal data)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, utcnow


class RetentionDisposal(Base):
    """One disposal: a case (with everything under it), a dismissed referral or a
    quarantined message. Counts per kind and a digest of what went, never its content."""

    __tablename__ = "retention_disposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    # case, referral, quarantine (an intake message) or exchange_quarantine (a refused post)
    subject: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int]
    # No due date: under the birthday rules it would give away the child's date of birth.
    rule: Mapped[str] = mapped_column(String(30))
    # kind of record -> how many went, e.g. {"children": 1, "referrals": 2, "raw_messages": 3}
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # SHA-256 over the sorted list of what went ("table:id" and each message's "raw:<sha256>"),
    # so a backup taken before can be checked against this record.
    digest: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_retention_disposals_subject", "subject", "subject_id"),)

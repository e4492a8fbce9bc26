"""A referral: who told us about which child, how, when and why."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.db import Base, utcnow


class Channel(enum.StrEnum):
    EMAIL = "email"
    FORM = "form"
    PHONE = "phone"
    OTHER_LA = "other_la"
    LOST_PUPIL_FILE = "lost_pupil_file"
    SCHOOL_DELETION_RETURN = "school_deletion_return"


class Urgency(enum.StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    SAFEGUARDING = "safeguarding"


#: How pressing each urgency is (a case takes its most urgent referral's rank).
URGENCY_RANK = {Urgency.ROUTINE.value: 0, Urgency.URGENT.value: 1, Urgency.SAFEGUARDING.value: 2}


class TriageStatus(enum.StrEnum):
    AWAITING = "awaiting"  # in the triage queue: no case yet
    OPENED = "opened"  # opened a new case
    ATTACHED = "attached"  # joined a case that already existed
    DISMISSED = "dismissed"  # not a CME referral, with the reason


class DismissReason(enum.StrEnum):
    ON_ROLL = "on_roll"
    EHE = "ehe"
    NOT_RESIDENT = "not_resident"
    DUPLICATE = "duplicate"
    NOT_A_REFERRAL = "not_a_referral"


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None while the referral awaits triage (or after it was dismissed).
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="RESTRICT"), index=True
    )
    triage_status: Mapped[str] = mapped_column(
        String(20), default=TriageStatus.OPENED.value, index=True
    )
    triage_reason: Mapped[str | None] = mapped_column(String(40))
    triage_note: Mapped[str | None] = mapped_column(Text)
    triaged_by: Mapped[str | None] = mapped_column(String(100))
    triaged_at: Mapped[datetime | None]
    raw_id: Mapped[int | None] = mapped_column(ForeignKey("raw_messages.id"), index=True)
    # The child and family as the referral describes them (ReferralInput's field names, as
    # JSON): the triage page's pre-filled form, and the facts compared with a case's.
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The referrer asked not to be named: shown on the case, never in letters or messages.
    anonymous: Mapped[bool] = mapped_column(default=False)
    channel: Mapped[str] = mapped_column(String(30))
    received_on: Mapped[date]
    referrer_name: Mapped[str | None] = mapped_column(String(200))
    referrer_role: Mapped[str | None] = mapped_column(String(200))
    referrer_organisation: Mapped[str | None] = mapped_column(String(200))
    referrer_email: Mapped[str | None] = mapped_column(String(254))
    referrer_phone: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(20), default=Urgency.ROUTINE.value, index=True)
    # looked_after, social_care, child_protection, sen_ehcp, traveller ... -> bool
    flags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    school: Mapped[str | None] = mapped_column(String(200))
    date_last_attended: Mapped[date | None]
    date_last_seen: Mapped[date | None]
    actions_taken: Mapped[list[Any]] = mapped_column(default=list)
    # The parsed draft as the parser saw it (fields, confidence, source spans, gaps).
    draft: Mapped[dict[str, Any] | None] = mapped_column()
    gaps: Mapped[list[Any]] = mapped_column(default=list)
    raw_ref: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))

    case: Mapped[Any] = relationship("Case", back_populates="referrals")

    # The triage queue's counts and order (awaiting, safeguarding and urgent first).
    __table_args__ = (Index("ix_referrals_triage_urgency", "triage_status", "urgency"),)

"""A referral: who told us about which child, how, when and why."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
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


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    channel: Mapped[str] = mapped_column(String(30))
    received_on: Mapped[date]
    referrer_name: Mapped[str | None] = mapped_column(String(200))
    referrer_role: Mapped[str | None] = mapped_column(String(200))
    referrer_organisation: Mapped[str | None] = mapped_column(String(200))
    referrer_email: Mapped[str | None] = mapped_column(String(254))
    referrer_phone: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(20), default=Urgency.ROUTINE.value)
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

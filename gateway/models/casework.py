"""The officer's recorded work on a case through the CME process: status checks, home
visits, assessments, admissions referrals, escalations and onward referrals."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, utcnow
from gateway.models import ops  # noqa: F401  (onward referrals point at the outbox)


class CaseStep(Base):
    """One piece of work on a case, of a kind the process names (gateway.cases.steps)."""

    __tablename__ = "case_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    # status_check, home_visit_request, home_visit, assessment, admissions, escalation
    kind: Mapped[str] = mapped_column(String(30))
    # The day it happened (or is planned for, for a request).
    on: Mapped[date]
    # What came of it, as a code the kind lists (on_roll, done, referred ...).
    outcome: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class OnwardReferral(Base):
    """A referral of the child to another team (Attendance & Welfare, Admissions, social
    care, police, VEMT): sent by the outbox or printed, and a recorded disclosure."""

    __tablename__ = "onward_referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    team: Mapped[str] = mapped_column(String(40))
    # "email" (through the outbox to the team's address) or "print" (a letter to print).
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(300))
    lawful_basis: Mapped[str] = mapped_column(String(200))
    fields: Mapped[list[Any]] = mapped_column(default=list)
    reason: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"), index=True)
    sent_by: Mapped[str] = mapped_column(String(100))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class PrintedLetter(Base):
    """A letter to a referrer with no email address: printed and posted, or read out on
    the phone, never skipped. A task on the case says which."""

    __tablename__ = "printed_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(100))

"""The case (one per child), its tasks, its enquiry log and its timeline."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.db import Base, utcnow
from gateway.models.child import Child
from gateway.models.referral import Referral


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    status: Mapped[str] = mapped_column(String(40), index=True)
    # The officer working the case (a username); None: not yet allocated.
    allocated_to: Mapped[str | None] = mapped_column(String(100), index=True)
    # As urgent as its most urgent referral: 0 routine, 1 urgent, 2 safeguarding (kept by
    # the case service on every referral, so lists sort urgent first by index).
    urgency_rank: Mapped[int] = mapped_column(default=0)
    outcome: Mapped[str | None] = mapped_column(String(60))
    outcome_detail: Mapped[dict[str, Any] | None] = mapped_column()
    # Escalations that do not close the case: social_care, police, vemt -> {"since": ..}
    escalations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    opened_on: Mapped[date]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(100))
    signed_off_by: Mapped[str | None] = mapped_column(String(100))
    enquiries_complete_at: Mapped[datetime | None]
    # The school the child was last on roll at, when a lost-pupil file or a referral says.
    last_school: Mapped[str | None] = mapped_column(String(200))
    # A confirmed match to a school roll: {"school", "from", "entry"}; the case page offers
    # the Attendance & Welfare referral or closure.
    on_roll: Mapped[dict[str, Any] | None] = mapped_column()
    # A duplicate merged into another case points at it (and is closed as a duplicate).
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # A legal hold keeps the case past its retention date (gateway.retention), with why.
    legal_hold: Mapped[bool] = mapped_column(default=False)
    hold_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    child: Mapped[Child] = relationship(lazy="joined", foreign_keys=[child_id])
    referrals: Mapped[list[Referral]] = relationship(back_populates="case", order_by="Referral.id")
    tasks: Mapped[list[Task]] = relationship(back_populates="case", order_by="Task.id")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        Index("ix_cases_status_urgency", "status", "urgency_rank", "id"),
        Index("ix_cases_allocated_urgency", "allocated_to", "urgency_rank", "id"),
        # The dashboard's figures read only these columns: an index-only scan.
        Index("ix_cases_open_figures", "status", "allocated_to", "urgency_rank"),
    )

    @property
    def tag(self) -> str:
        """The reference that goes in letters' subjects: never a child's name."""
        return f"CME-{self.id}"


class Task(Base):
    """Something to do by a date: chase gaps, send a progress update, review."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    due: Mapped[date]
    status: Mapped[str] = mapped_column(String(20), default="open")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(back_populates="tasks")

    __table_args__ = (
        Index("ix_tasks_status_due", "status", "due"),
        # Overdue tasks by kind, counted from the index alone.
        Index("ix_tasks_status_due_kind", "status", "due", "kind"),
    )


class EnquiryLogEntry(Base):
    """One contact with an agency or person: who, when, how, outcome."""

    __tablename__ = "enquiry_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    agency: Mapped[str] = mapped_column(String(60))
    contact: Mapped[str | None] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime]
    outcome: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))


class TimelineEntry(Base):
    """What happened on a case, in order: referrals, replies, letters, decisions."""

    __tablename__ = "timeline_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    ref: Mapped[str | None] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(100))
    # What the entry shows beyond its summary, e.g. a reply's attachments.
    detail: Mapped[dict[str, Any] | None] = mapped_column()
    # Replies carry a "new" marker until an officer has read them.
    unread: Mapped[bool] = mapped_column(default=False, index=True)
    read_by: Mapped[str | None] = mapped_column(String(100))
    read_at: Mapped[datetime | None]


class FactState(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class CaseFact(Base):
    """A value a later referral or reply brought that the case lacks or contradicts.

    Listed on the case page for the officer to accept field by field; nothing is
    overwritten silently.
    """

    __tablename__ = "case_facts"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    value: Mapped[Any] = mapped_column(JSON)
    current: Mapped[Any] = mapped_column(JSON, nullable=True)
    source_ref: Mapped[str] = mapped_column(String(100))  # "referral:12"
    state: Mapped[str] = mapped_column(String(10), default=FactState.PENDING.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]

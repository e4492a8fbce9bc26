"""Matching tables: imported school rolls and the EHE register, and officers' match decisions."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, utcnow


class Register(enum.StrEnum):
    ROLL = "roll"  # a school's roll: the child is (or was) on it
    EHE = "ehe"  # the elective home education register


class RegisterEntry(Base):
    """One child on an imported school roll or the EHE register (docs/roll-csv.md)."""

    __tablename__ = "register_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    register: Mapped[str] = mapped_column(String(4), index=True)
    batch_sha256: Mapped[str] = mapped_column(String(64), index=True)
    source_name: Mapped[str] = mapped_column(String(255))
    line: Mapped[int]
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(100))
    upn: Mapped[str | None] = mapped_column(String(13), index=True)
    former_upns: Mapped[list[Any]] = mapped_column(default=list)
    surname: Mapped[str] = mapped_column(String(100))
    forename: Mapped[str] = mapped_column(String(100))
    middle_names: Mapped[str | None] = mapped_column(String(200))
    former_surnames: Mapped[list[Any]] = mapped_column(default=list)
    preferred_forename: Mapped[str | None] = mapped_column(String(100))
    dob: Mapped[date | None] = mapped_column(index=True)
    sex: Mapped[str | None] = mapped_column(String(1))
    year_group: Mapped[str | None] = mapped_column(String(3))
    address: Mapped[str | None] = mapped_column(String(300))
    town: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(10), index=True)
    # [{"forename": .., "surname": .., "relationship": ..}]
    contacts: Mapped[list[Any]] = mapped_column(default=list)
    school_laestab: Mapped[str | None] = mapped_column(String(7))
    from_date: Mapped[date | None]  # on roll / registered as EHE from
    to_date: Mapped[date | None]  # left the roll / ceased EHE

    __table_args__ = (Index("ix_register_entries_surname_dob", "surname", "dob"),)


class MatchDecision(Base):
    """An officer's confirmation or rejection of a pair: stored, and never proposed again."""

    __tablename__ = "match_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    query_ref: Mapped[str] = mapped_column(String(60), index=True)  # "referral:12"
    target_kind: Mapped[str] = mapped_column(String(20))  # case, lost_pupil, roll, ehe
    target_ref: Mapped[str] = mapped_column(String(60))
    verdict: Mapped[str] = mapped_column(String(10))  # confirmed / rejected
    score: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("query_ref", "target_kind", "target_ref", name="uq_match_decisions_pair"),
        # Retention finds what names a case or referral it disposes of.
        Index("ix_match_decisions_target_ref", "target_ref"),
    )


class CandidateState(enum.StrEnum):
    PENDING = "pending"  # for the officer to decide
    NOT_SURE = "not_sure"  # the officer looked and deferred
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # recomputed away, or its query was settled another way


class MatchCandidate(Base):
    """A candidate the matching job found for a referral or a case, stored for the pages.

    Pages read these rows; they never run the matcher. `query_ref` is "referral:12" or
    "case:7"; `target_ref` is "<source>:<id>" (case, lost_pupil, roll, ehe).
    """

    __tablename__ = "match_candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    query_ref: Mapped[str] = mapped_column(String(60))
    target_ref: Mapped[str] = mapped_column(String(60))
    target_kind: Mapped[str] = mapped_column(String(20))
    score: Mapped[float] = mapped_column(Float)  # log2 odds
    probability: Mapped[float] = mapped_column(Float)
    decision: Mapped[str] = mapped_column(String(10))  # proposed / review
    # [{"field", "query_value", "record_value", "level", "weight"}], in field order.
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    state: Mapped[str] = mapped_column(String(12), default=CandidateState.PENDING.value)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("query_ref", "target_ref", name="uq_match_candidates_pair"),
        Index("ix_match_candidates_state_probability", "state", "probability"),
        Index("ix_match_candidates_target_ref", "target_ref"),
    )

"""Tables of the lost-pupil store: files as uploaded, the pupil index, its search keys."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from lost_pupil.db import Base, utcnow


class PupilStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    EXPIRED = "expired"


class KeyKind(StrEnum):
    UPN = "U"  # the current UPN and every former UPN
    SURNAME = "S"  # phonetic surname + forename initial, for every name the child had
    FORENAME = "F"  # phonetic forename + surname initial: survives a typo in the surname


class CtfFileRecord(Base):
    """One uploaded CTF, stored encrypted under its SHA-256; the row outlives disposal."""

    __tablename__ = "lp_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int]
    original_name: Mapped[str | None] = mapped_column(String(255))
    uploader: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    source_laestab: Mapped[str] = mapped_column(String(7), index=True)
    dest_code: Mapped[str] = mapped_column(String(7))
    dest_kind: Mapped[str] = mapped_column(String(12))
    ctf_version: Mapped[str] = mapped_column(String(10))
    document_qualifier: Mapped[str | None] = mapped_column(String(10))
    pupil_count: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    legal_hold: Mapped[bool] = mapped_column(default=False)
    hold_reason: Mapped[str | None] = mapped_column(String(200))
    disposed_at: Mapped[datetime | None]


class LostPupil(Base):
    """One pupil from a stored CTF, with the fields needed to find the child."""

    __tablename__ = "lp_pupils"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("lp_files.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    upn: Mapped[str | None] = mapped_column(String(13))
    upn_valid: Mapped[bool] = mapped_column(default=False)
    surname: Mapped[str | None] = mapped_column(String(100))
    forename: Mapped[str | None] = mapped_column(String(100))
    surname_norm: Mapped[str] = mapped_column(String(100), default="")
    forename_norm: Mapped[str] = mapped_column(String(100), default="")
    middle_names: Mapped[str | None] = mapped_column(String(200))
    # Former and preferred names, normalised: [{"kind": "former", "surname": .., "forename": ..}]
    other_names: Mapped[list[Any]] = mapped_column(default=list)
    former_upns: Mapped[list[Any]] = mapped_column(default=list)
    dob: Mapped[date | None] = mapped_column(index=True)
    sex: Mapped[str | None] = mapped_column(String(1))
    postcode: Mapped[str | None] = mapped_column(String(8), index=True)
    source_laestab: Mapped[str] = mapped_column(String(7))
    leaving_date: Mapped[date | None]
    removal_grounds: Mapped[str | None] = mapped_column(String(40))
    dest_kind: Mapped[str] = mapped_column(String(12))
    # Not indexed: nothing looks pupils up by status alone (migration 0018).
    status: Mapped[str] = mapped_column(String(10), default=PupilStatus.OPEN.value)
    claimed_school: Mapped[str | None] = mapped_column(String(7))
    claimed_from: Mapped[date | None]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    problems: Mapped[list[Any]] = mapped_column(default=list)


class PupilKey(Base):
    """A blocking key: the primary key doubles as the covering index for lookups.

    On SQLite the table is clustered on that key (WITHOUT ROWID, migration 0019): every
    column is in it, so a rowid B-tree beside it would hold each key twice.
    """

    __tablename__ = "lp_pupil_keys"

    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    pupil_id: Mapped[int] = mapped_column(
        ForeignKey("lp_pupils.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (
        Index("ix_lp_pupil_keys_pupil_id", "pupil_id"),
        {"sqlite_with_rowid": False},
    )


class Disposal(Base):
    """The log of files disposed of at the end of retention (no child data in it)."""

    __tablename__ = "lp_disposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    pupils: Mapped[int]
    disposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(200))


class SchoolToken(Base):
    """A school's upload token, kept only as its SHA-256 (it is random, 256 bits)."""

    __tablename__ = "lp_school_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    laestab: Mapped[str] = mapped_column(String(7), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

"""The raw store's keys: each message's wrapped data key, and the master key versions."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, utcnow


class MasterState(enum.StrEnum):
    CURRENT = "current"  # new data keys are wrapped under it
    OLD = "old"  # a rotation is re-wrapping its data keys; still read
    RETIRED = "retired"  # no data key is wrapped under it; deleted from keys/raw.key


class RawMessageKey(Base):
    """A message's data key, wrapped (AES-GCM) by a master key version in keys/raw.key.

    Deleting the row is the message's disposal (crypto-shredding): its segment bytes stay
    where they are, sealed under a key that no longer exists anywhere.
    """

    __tablename__ = "raw_message_keys"

    raw_id: Mapped[int] = mapped_column(
        ForeignKey("raw_messages.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    version: Mapped[int]
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)

    # A rotation walks the keys still under an older version, in order.
    __table_args__ = (Index("ix_raw_message_keys_version", "version", "raw_id"),)


class RawMasterKey(Base):
    """One master key version and its state; the key itself lives only in keys/raw.key.

    Which version is current is decided here, in the database, so an indexer and a
    rotation agree on it inside a transaction (see gateway.intake.rotation).
    """

    __tablename__ = "raw_master_keys"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class RawShred(Base):
    """A segment record whose message was disposed of: crash recovery never re-indexes it,
    and a compaction of the segments may drop it. Holds a place, not a message."""

    __tablename__ = "raw_shredded"

    id: Mapped[int] = mapped_column(primary_key=True)
    segment: Mapped[str] = mapped_column(String(120))
    offset: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_raw_shredded_segment_offset", "segment", "offset"),)

"""The child and the people and places around them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.db import Base, utcnow


class Child(Base):
    __tablename__ = "children"

    id: Mapped[int] = mapped_column(primary_key=True)
    forenames: Mapped[str] = mapped_column(String(200))
    surname: Mapped[str] = mapped_column(String(200))
    middle_names: Mapped[str | None] = mapped_column(String(200))
    # Aliases, former and preferred names: [{"kind": "alias", "forename": .., "surname": ..}]
    other_names: Mapped[list[Any]] = mapped_column(default=list)
    dob: Mapped[date | None]
    sex: Mapped[str | None] = mapped_column(String(1))
    upn: Mapped[str | None] = mapped_column(String(13), index=True)
    former_upns: Mapped[list[Any]] = mapped_column(default=list)
    year_group: Mapped[str | None] = mapped_column(String(3))
    languages: Mapped[list[Any]] = mapped_column(default=list)
    interpreter_needed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    addresses: Mapped[list[ChildAddress]] = relationship(
        back_populates="child", order_by="ChildAddress.id", cascade="all, delete-orphan"
    )
    carers: Mapped[list[Carer]] = relationship(
        back_populates="child", order_by="Carer.id", cascade="all, delete-orphan"
    )
    siblings: Mapped[list[Sibling]] = relationship(
        back_populates="child", order_by="Sibling.id", cascade="all, delete-orphan"
    )

    __table_args__ = (Index("ix_children_surname_dob", "surname", "dob"),)

    @property
    def current_address(self) -> ChildAddress | None:
        current = [a for a in self.addresses if a.to_date is None]
        return current[-1] if current else None


class ChildAddress(Base):
    """An address with its history: the current one has no to_date."""

    __tablename__ = "child_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    line1: Mapped[str | None] = mapped_column(String(200))
    line2: Mapped[str | None] = mapped_column(String(200))
    town: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(10), index=True)
    from_date: Mapped[date | None]
    to_date: Mapped[date | None]
    source: Mapped[str | None] = mapped_column(String(100))

    child: Mapped[Child] = relationship(back_populates="addresses")


class Carer(Base):
    """A parent or carer named for the child."""

    __tablename__ = "carers"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    relationship_to_child: Mapped[str | None] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(Text)
    parental_responsibility: Mapped[bool | None]

    child: Mapped[Child] = relationship(back_populates="carers")


class Sibling(Base):
    __tablename__ = "siblings"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    dob: Mapped[date | None]
    school: Mapped[str | None] = mapped_column(String(200))

    child: Mapped[Child] = relationship(back_populates="siblings")

"""Console users: who may sign in, with which role, and how they prove it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # One of gateway.users.Role; a string so a new role needs no migration.
    role: Mapped[str] = mapped_column(String(20))
    # argon2id, encoded with its own parameters so they can be raised later.
    password_hash: Mapped[str] = mapped_column(String(255))
    # Base32 TOTP secret; empty when the user has no second factor.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The last TOTP time step accepted, so a code cannot be used twice.
    totp_last_step: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]

"""Console users: who may sign in, with which role, how they prove it, and their sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
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
    # The TOTP secret sealed with keys/totp.key (gateway.totp); empty without a second factor.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    # The last TOTP time step accepted, so a code cannot be used twice.
    totp_last_step: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]


class SignInAttempt(Base):
    """One try at a sign-in step, kept a day for throttling (the audit log keeps them all)."""

    __tablename__ = "signin_attempts"
    __table_args__ = (
        Index("ix_signin_attempts_client_at", "client", "at"),
        Index("ix_signin_attempts_username_client_at", "username", "client", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    # The client address as the web server saw it (the proxy's client if one is trusted).
    client: Mapped[str] = mapped_column(String(64))
    # The name tried, lower-cased; "" when it could not be a username at all (it may be a
    # password typed into the wrong box, so it is not kept).
    username: Mapped[str] = mapped_column(String(100))
    # gateway.signin.Step and gateway.signin.Outcome values.
    step: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))


class ConsoleSession(Base):
    """A signed-in browser; the cookie holds a random token, this table only its hash."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # gateway.console_sessions.EndReason: sign_out, idle, expired, disabled, password...
    end_reason: Mapped[str | None] = mapped_column(String(20))
    client: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))

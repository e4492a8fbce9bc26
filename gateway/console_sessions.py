"""Console sessions kept server-side, so signing out, disabling or a new password ends them."""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.models.users import ConsoleSession, User

#: However active, a session ends after this long and the user signs in again.
LONGEST = timedelta(hours=12)


class EndReason(enum.StrEnum):
    SIGN_OUT = "sign_out"
    IDLE = "idle"
    EXPIRED = "expired"
    DISABLED = "disabled"
    PASSWORD = "password"  # noqa: S105 (ended by a new password)
    REPLACED = "replaced"


@dataclass(frozen=True)
class Resumed:
    """A session looked up from its cookie: the user's id, or why it no longer works."""

    user_id: int | None
    ended: EndReason | None = None


def _hash(token: str) -> str:
    # The cookie's token is 256 random bits: a plain hash is enough, and a copy of the table
    # holds nothing a browser could present.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(
    session: Session,
    user_id: int,
    *,
    now: datetime,
    client: str | None = None,
    user_agent: str | None = None,
) -> str:
    """A new session for a user who has just proved who they are; the token for the cookie."""
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=_hash(token),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            client=(client or "")[:64] or None,
            user_agent=(user_agent or "")[:200] or None,
        )
    )
    session.flush()
    return token


def _find(session: Session, token: str) -> ConsoleSession | None:
    return session.execute(
        select(ConsoleSession).where(ConsoleSession.token_hash == _hash(token))
    ).scalar_one_or_none()


def _end(row: ConsoleSession, reason: EndReason, now: datetime) -> None:
    row.ended_at = now
    row.end_reason = reason.value


def resume(session: Session, token: str, *, now: datetime, idle: timedelta) -> Resumed:
    """The session behind a cookie's token, touched as seen now; or why it has ended."""
    row = _find(session, token)
    if row is None:
        return Resumed(None)
    if row.ended_at is not None:
        return Resumed(None, EndReason(row.end_reason or EndReason.SIGN_OUT))
    reason: EndReason | None = None
    if now - row.last_seen_at > idle:
        reason = EndReason.IDLE
    elif now - row.created_at > LONGEST:
        reason = EndReason.EXPIRED
    else:
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            reason = EndReason.DISABLED
    if reason is not None:
        _end(row, reason, now)
        return Resumed(None, reason)
    row.last_seen_at = now
    return Resumed(row.user_id)


def end(session: Session, token: str, reason: EndReason, *, now: datetime) -> bool:
    """End the session behind a token; False if there was none still open."""
    row = _find(session, token)
    if row is None or row.ended_at is not None:
        return False
    _end(row, reason, now)
    return True


def sign_out(session: Session, token: str, *, actor: str, now: datetime) -> None:
    """End the session the user signed out of, and say so in the audit log."""
    row = _find(session, token)
    if row is None or row.ended_at is not None:
        return
    _end(row, EndReason.SIGN_OUT, now)
    audit.record(session, actor=actor, action="signout", entity="user", entity_id=row.user_id)


def end_all(session: Session, user_id: int, reason: EndReason, *, now: datetime) -> int:
    """End every open session of a user at once; how many there were."""
    result = session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason.value)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)

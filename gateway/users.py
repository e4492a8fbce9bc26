"""Console users: adding, listing, disabling them and setting their passwords."""

from __future__ import annotations

import contextlib
import enum
import functools
import re
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway import audit, console_sessions
from gateway.console_sessions import EndReason
from gateway.db import session_scope, utcnow
from gateway.errors import UserError
from gateway.models.audit import AuditEntry
from gateway.models.users import User
from gateway.totp import TotpVault, is_clear, new_secret, provisioning_uri

MIN_PASSWORD_LENGTH = 12

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# argon2id at OWASP's baseline (19 MiB, 2 passes, 1 lane): each sign-in costs a fraction
# of a second, so the unauthenticated sign-in page is no lever for exhausting the server.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the username is unknown, so a wrong name costs the same time
    # as a wrong password and response times do not reveal which accounts exist.
    return _hasher.hash("not-a-real-password-for-timing")


class Role(enum.StrEnum):
    OFFICER = "officer"
    MANAGER = "manager"
    ADMIN = "admin"


#: What each role may do includes everything the roles before it may do.
_RANK = {Role.OFFICER: 1, Role.MANAGER: 2, Role.ADMIN: 3}


class AccountError(UserError):
    """A user that cannot be added or changed; the message says what to fix."""


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    totp_enabled: bool
    last_login_at: datetime | None

    def has_role(self, needed: Role) -> bool:
        return _RANK[self.role] >= _RANK[needed]


@dataclass(frozen=True)
class NewUser:
    user: UserView
    #: Shown once to whoever adds the user, to load into an authenticator app.
    totp_secret: str | None
    totp_uri: str | None


def view(user: User) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        active=user.active,
        totp_enabled=bool(user.totp_secret),
        last_login_at=user.last_login_at,
    )


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise AccountError(
            f"role must be one of: {', '.join(r.value for r in Role)}, not {value!r}"
        ) from None


def normalise_username(value: str) -> str:
    return value.strip().lower()


def is_valid_username(name: str) -> bool:
    """Whether `name` (normalised) could be a username at all."""
    return bool(_USERNAME.match(name))


def check_password_strength(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if username.lower() in password.lower():
        raise AccountError("the password must not contain the username")


def find_user(session: Session, username: str, *, for_update: bool = False) -> User | None:
    """The user row by name; `for_update` locks it on PostgreSQL until the transaction ends."""
    query = select(User).where(User.username == normalise_username(username))
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def lock_user(session: Session, user_id: int) -> User | None:
    """The user row by id, locked on PostgreSQL and read afresh (not from the identity map)."""
    query = (
        select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.execute(query).scalar_one_or_none()


def password_matches(user: User | None, password: str) -> bool:
    """Check a password; with no user, verify against a dummy hash so it takes as long."""
    stored = user.password_hash if user is not None else _dummy_hash()
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    if user is None:
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def add_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str,
    totp: bool,
    actor: str,
    vault: TotpVault | None = None,
) -> NewUser:
    """Add a user; with `totp`, also make the secret their authenticator app needs.

    The secret is stored sealed with `vault` (the data home's keys/totp.key), needed when
    `totp` is set."""
    name = normalise_username(username)
    if not is_valid_username(name):
        raise AccountError(
            "the username must be 2-64 characters: lower-case letters, digits, '.', '_' or '-'"
        )
    if not display_name.strip():
        raise AccountError("give the user's full name (--name)")
    check_password_strength(password, name)
    if find_user(session, name) is not None:
        raise AccountError(f"there is already a user called {name!r}")
    if totp and vault is None:
        raise ValueError("a user with TOTP needs the TOTP key to seal their secret")
    secret = new_secret() if totp else None
    user = User(
        username=name,
        display_name=display_name.strip(),
        role=role.value,
        password_hash=_hasher.hash(password),
        totp_secret=vault.seal(secret) if secret and vault else None,
        active=True,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.add",
        entity="user",
        entity_id=user.id,
        detail={"username": name, "role": role.value, "totp": totp},
    )
    uri = provisioning_uri(secret, name) if secret else None
    return NewUser(view(user), secret, uri)


def list_users(session: Session) -> list[UserView]:
    return [view(u) for u in session.execute(select(User).order_by(User.username)).scalars()]


def get_user(session: Session, user_id: int) -> UserView | None:
    """The user behind a console session, or None if they no longer exist or are disabled."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    return view(user)


def _must_find(session: Session, username: str) -> User:
    user = find_user(session, username, for_update=True)
    if user is None:
        raise AccountError(f"there is no user called {username!r}")
    return user


def disable_user(session: Session, username: str, *, actor: str) -> UserView:
    """Stop a user signing in and end every session they have open, at once."""
    user = _must_find(session, username)
    if not user.active:
        raise AccountError(f"the user {user.username!r} is already disabled")
    now = utcnow()
    user.active = False
    user.disabled_at = now
    ended = console_sessions.end_all(session, user.id, EndReason.DISABLED, now=now)
    audit.record(
        session,
        actor=actor,
        action="user.disable",
        entity="user",
        entity_id=user.id,
        detail={"username": user.username, "sessions_ended": ended},
    )
    return view(user)


def replace_password(session: Session, user: User, password: str, *, actor: str) -> int:
    """Set a new password and end every session of the user; how many were ended.

    The caller has the row locked (find_user/lock_user) and has checked who is asking."""
    check_password_strength(password, user.username)
    with contextlib.suppress(VerificationError, InvalidHashError):
        if _hasher.verify(user.password_hash, password):
            raise AccountError("the new password must be different from the current one")
    user.password_hash = _hasher.hash(password)
    ended = console_sessions.end_all(session, user.id, EndReason.PASSWORD, now=utcnow())
    audit.record(
        session,
        actor=actor,
        action="user.password",
        entity="user",
        entity_id=user.id,
        detail={"username": user.username, "sessions_ended": ended},
    )
    return ended


def set_password(session: Session, username: str, password: str, *, actor: str) -> UserView:
    """An administrator's reset (`cme users set-password`): every session of the user ends."""
    user = _must_find(session, username)
    replace_password(session, user, password, actor=actor)
    return view(user)


def seal_clear_totp_secrets(engine: Engine, vault: TotpVault) -> int:
    """Seal the TOTP secrets written in clear before secrets were sealed; how many.

    Run by `cme init` after the migrations (a migration cannot read keys/)."""
    sealed = 0
    with session_scope(engine) as session:
        query = select(User).where(User.totp_secret.is_not(None)).with_for_update()
        for user in session.execute(query).scalars():
            if user.totp_secret and is_clear(user.totp_secret):
                user.totp_secret = vault.seal(user.totp_secret)
                sealed += 1
    return sealed


@dataclass(frozen=True)
class ViewRecord:
    """One person who viewed a record: when they last did, and how many times."""

    actor: str
    at: datetime
    views: int


def who_viewed(
    session: Session, entity: str, entity_id: int | str, limit: int = 50
) -> list[ViewRecord]:
    """The distinct people who viewed a record, each with their last view, most recent first
    (one row per person, however many page loads), from the audit log."""
    last = func.max(AuditEntry.at).label("last")
    rows = session.execute(
        select(AuditEntry.actor, last, func.count(AuditEntry.id))
        .where(
            AuditEntry.entity == entity,
            AuditEntry.entity_id == str(entity_id),
            AuditEntry.action.like("%.view"),
        )
        .group_by(AuditEntry.actor)
        # The newest entry first: entries keep whole seconds, ids are in order.
        .order_by(func.max(AuditEntry.id).desc())
        .limit(limit)
    )
    return [ViewRecord(actor, at, int(n)) for actor, at, n in rows]

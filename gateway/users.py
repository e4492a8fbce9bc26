"""Console users: adding, listing and disabling them, and checking how they sign in."""

from __future__ import annotations

import contextlib
import enum
import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db import utcnow
from gateway.errors import UserError
from gateway.models.audit import AuditEntry
from gateway.models.users import User

#: Failed sign-ins (password or code) in a row before the account is locked.
MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
TOTP_ISSUER = "CME Gateway"

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


class SignInOutcome(enum.StrEnum):
    OK = "ok"
    NEEDS_CODE = "needs_code"
    BAD_CREDENTIALS = "bad_credentials"
    BAD_CODE = "bad_code"
    LOCKED = "locked"


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    totp_enabled: bool
    last_login_at: datetime | None
    locked_until: datetime | None

    def has_role(self, needed: Role) -> bool:
        return _RANK[self.role] >= _RANK[needed]


@dataclass(frozen=True)
class SignInResult:
    outcome: SignInOutcome
    user: UserView | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class NewUser:
    user: UserView
    #: Shown once to whoever adds the user, to load into an authenticator app.
    totp_secret: str | None
    totp_uri: str | None


def _view(user: User) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        active=user.active,
        totp_enabled=bool(user.totp_secret),
        last_login_at=user.last_login_at,
        locked_until=user.locked_until,
    )


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise AccountError(
            f"role must be one of: {', '.join(r.value for r in Role)}, not {value!r}"
        ) from None


def check_password_strength(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if username.lower() in password.lower():
        raise AccountError("the password must not contain the username")


def _find(session: Session, username: str) -> User | None:
    return session.execute(
        select(User).where(User.username == username.strip().lower())
    ).scalar_one_or_none()


def add_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str,
    totp: bool,
    actor: str,
) -> NewUser:
    """Add a user; with `totp`, also make the secret their authenticator app needs."""
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise AccountError(
            "the username must be 2-64 characters: lower-case letters, digits, '.', '_' or '-'"
        )
    if not display_name.strip():
        raise AccountError("give the user's full name (--name)")
    check_password_strength(password, name)
    if _find(session, name) is not None:
        raise AccountError(f"there is already a user called {name!r}")
    secret = pyotp.random_base32() if totp else None
    user = User(
        username=name,
        display_name=display_name.strip(),
        role=role.value,
        password_hash=_hasher.hash(password),
        totp_secret=secret,
        active=True,
        failed_attempts=0,
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
    uri = (
        pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=TOTP_ISSUER) if secret else None
    )
    return NewUser(_view(user), secret, uri)


def list_users(session: Session) -> list[UserView]:
    return [_view(u) for u in session.execute(select(User).order_by(User.username)).scalars()]


def get_user(session: Session, user_id: int) -> UserView | None:
    """The user behind a console session, or None if they no longer exist or are disabled."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    return _view(user)


def disable_user(session: Session, username: str, *, actor: str) -> UserView:
    """Stop a user signing in; their sessions end on their next request."""
    user = _find(session, username)
    if user is None:
        raise AccountError(f"there is no user called {username!r}")
    if not user.active:
        raise AccountError(f"the user {user.username!r} is already disabled")
    user.active = False
    user.disabled_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="user.disable",
        entity="user",
        entity_id=user.id,
        detail={"username": user.username},
    )
    return _view(user)


def _is_locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _fail(session: Session, user: User, now: datetime, action: str) -> SignInResult:
    user.failed_attempts += 1
    if user.failed_attempts >= MAX_FAILED_ATTEMPTS:
        user.locked_until = now + LOCKOUT
        user.failed_attempts = 0
    audit.record(
        session,
        actor=user.username,
        action=action,
        entity="user",
        entity_id=user.id,
        detail={"locked": user.locked_until is not None and user.locked_until > now},
    )
    if _is_locked(user, now):
        return SignInResult(SignInOutcome.LOCKED, locked_until=user.locked_until)
    if action == "signin.bad_code":
        return SignInResult(SignInOutcome.BAD_CODE)
    return SignInResult(SignInOutcome.BAD_CREDENTIALS)


def _succeed(session: Session, user: User, now: datetime) -> SignInResult:
    user.failed_attempts = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record(session, actor=user.username, action="signin", entity="user", entity_id=user.id)
    return SignInResult(SignInOutcome.OK, _view(user))


def check_password(
    session: Session, username: str, password: str, *, now: datetime | None = None
) -> SignInResult:
    """The first step of signing in. A user with TOTP gets NEEDS_CODE, not OK."""
    now = now or utcnow()
    user = _find(session, username)
    if user is None or not user.active:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_dummy_hash(), password)
        return SignInResult(SignInOutcome.BAD_CREDENTIALS)
    if _is_locked(user, now):
        return SignInResult(SignInOutcome.LOCKED, locked_until=user.locked_until)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return _fail(session, user, now, "signin.bad_password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    if user.totp_secret:
        return SignInResult(SignInOutcome.NEEDS_CODE, _view(user))
    return _succeed(session, user, now)


def check_code(
    session: Session, user_id: int, code: str, *, now: datetime | None = None
) -> SignInResult:
    """The second step: a code from the user's authenticator app, each usable once."""
    now = now or utcnow()
    user = session.get(User, user_id)
    if user is None or not user.active or not user.totp_secret:
        return SignInResult(SignInOutcome.BAD_CREDENTIALS)
    if _is_locked(user, now):
        return SignInResult(SignInOutcome.LOCKED, locked_until=user.locked_until)
    digits = code.replace(" ", "").strip()
    step = _matching_step(user.totp_secret, digits, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return _fail(session, user, now, "signin.bad_code")
    user.totp_last_step = step
    return _succeed(session, user, now)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code matches, allowing one step of clock drift either way."""
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // totp.interval
    for step in (current - 1, current, current + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


@dataclass(frozen=True)
class ViewRecord:
    actor: str
    at: datetime
    action: str


def who_viewed(
    session: Session, entity: str, entity_id: int | str, limit: int = 50
) -> list[ViewRecord]:
    """The most recent views of a record by console users, newest first, from the audit log."""
    rows = session.execute(
        select(AuditEntry.actor, AuditEntry.at, AuditEntry.action)
        .where(
            AuditEntry.entity == entity,
            AuditEntry.entity_id == str(entity_id),
            AuditEntry.action.like("%.view"),
        )
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    return [ViewRecord(actor, at, action) for actor, at, action in rows]

"""Signing in: passwords and codes checked, throttled by address and by name, all audited.

How throttling works (from the `signin_attempts` table, so every process agrees)
- By client address: `ADDRESS_LIMIT` failures from one address within `ADDRESS_WINDOW`,
  whatever names were tried, and that address is refused until enough of them age out.
- By name from one address: after `FREE_FAILURES` failures for a name from one address
  (since its last sign-in from there, within `NAME_WINDOW`), that address must wait
  before trying the name again, 30 seconds doubling to 15 minutes. Another address is
  not affected, so an attacker cannot lock the real user out: nothing locks an account.
- Names are throttled whether or not they exist (a disabled account counts as unknown):
  the answers, and the work done to give them, are the same either way.
- A refused attempt checks no password and counts as no failure, and every attempt,
  refused or not, is audited with the name tried and the client address.
On PostgreSQL, attempts from one address and attempts on one name are serialised by
transaction-scoped advisory locks, and the user row is locked (SELECT ... FOR UPDATE), so
concurrent guesses cannot slip past the counts and one code cannot be used twice. SQLite
serialises writers already (every transaction begins IMMEDIATE).
"""

from __future__ import annotations

import enum
import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, text
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db import utcnow
from gateway.models.users import SignInAttempt, User
from gateway.totp import TotpVault, matching_step
from gateway.users import (
    UserView,
    find_user,
    is_valid_username,
    lock_user,
    normalise_username,
    password_matches,
    replace_password,
    view,
)

ADDRESS_LIMIT = 20
ADDRESS_WINDOW = timedelta(minutes=15)
FREE_FAILURES = 5
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)
NAME_WINDOW = timedelta(hours=1)
#: Attempts are kept this long for throttling; the audit log keeps the record for good.
KEEP_ATTEMPTS = timedelta(days=1)
#: The audit actor of an attempt on a name that is not an active user.
ANONYMOUS = "anonymous"

# Advisory lock classes (the two-key form, apart from the audit log's one-key lock).
_LOCK_CLIENT = 807_436_101
_LOCK_NAME = 807_436_102


class Step(enum.StrEnum):
    PASSWORD = "password"  # noqa: S105 (a step's name)
    CODE = "code"
    PASSWORD_CHANGE = "password_change"  # noqa: S105


class Attempt(enum.StrEnum):
    OK = "ok"
    PASSWORD_OK = "password_ok"  # noqa: S105
    FAILED = "failed"
    THROTTLED = "throttled"


class SignInOutcome(enum.StrEnum):
    OK = "ok"
    NEEDS_CODE = "needs_code"
    BAD_CREDENTIALS = "bad_credentials"
    BAD_CODE = "bad_code"
    THROTTLED = "throttled"
    CHANGED = "changed"


@dataclass(frozen=True)
class SignInResult:
    outcome: SignInOutcome
    user: UserView | None = None
    #: When THROTTLED: whole seconds until this address may try this name again.
    retry_after: int = 0


def _name_key(username: str) -> str:
    # Something that cannot be a username may be a password typed into the wrong box: it is
    # neither kept nor audited, and all such names share one throttle.
    name = normalise_username(username)
    return name if is_valid_username(name) else ""


def _lock_key(value: str) -> int:
    return int.from_bytes(hashlib.sha256(value.encode("utf-8")).digest()[:4], "big", signed=True)


def _serialise(session: Session, client: str, name: str) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    # Always the address first, then the name: one order, so two sign-ins never deadlock.
    for cls, value in ((_LOCK_CLIENT, client), (_LOCK_NAME, name)):
        session.execute(
            text("SELECT pg_advisory_xact_lock(:c, :k)"), {"c": cls, "k": _lock_key(value)}
        )


def _failures(session: Session, *conditions: ColumnElement[bool]) -> list[datetime]:
    query = (
        select(SignInAttempt.at)
        .where(SignInAttempt.outcome == Attempt.FAILED.value, *conditions)
        .order_by(SignInAttempt.at)
    )
    return list(session.execute(query).scalars())


def _address_wait(session: Session, client: str, now: datetime) -> timedelta:
    times = _failures(
        session, SignInAttempt.client == client, SignInAttempt.at > now - ADDRESS_WINDOW
    )
    if len(times) < ADDRESS_LIMIT:
        return timedelta(0)
    # Refused until so many have aged out of the window that fewer than the limit remain.
    return times[len(times) - ADDRESS_LIMIT] + ADDRESS_WINDOW - now


def _name_wait(session: Session, client: str, name: str, now: datetime) -> timedelta:
    since = now - NAME_WINDOW
    last_ok = session.execute(
        select(func.max(SignInAttempt.at)).where(
            SignInAttempt.client == client,
            SignInAttempt.username == name,
            SignInAttempt.outcome == Attempt.OK.value,
            SignInAttempt.at > since,
        )
    ).scalar_one_or_none()
    times = _failures(
        session,
        SignInAttempt.client == client,
        SignInAttempt.username == name,
        SignInAttempt.at > (last_ok if last_ok is not None else since),
    )
    over = len(times) - FREE_FAILURES
    if over < 0:
        return timedelta(0)
    wait = min(FIRST_WAIT * 2 ** min(over, 16), LONGEST_WAIT)
    return times[-1] + wait - now


def _wait(session: Session, client: str, name: str, now: datetime) -> int:
    """Whole seconds before this address may try this name again (0: it may now)."""
    wait = max(_address_wait(session, client, now), _name_wait(session, client, name, now))
    return max(0, math.ceil(wait.total_seconds()))


@dataclass(frozen=True)
class _Try:
    """One attempt at one step: what it is recorded, throttled and audited under."""

    session: Session
    client: str
    name: str
    step: Step
    now: datetime

    def wait(self) -> int:
        return _wait(self.session, self.client, self.name, self.now)

    def note(self, attempt: Attempt, action: str, user: User | None, **extra: object) -> None:
        self.session.add(
            SignInAttempt(
                at=self.now,
                client=self.client,
                username=self.name,
                step=self.step.value,
                outcome=attempt.value,
            )
        )
        self.session.execute(
            delete(SignInAttempt).where(SignInAttempt.at < self.now - KEEP_ATTEMPTS)
        )
        audit.record(
            self.session,
            actor=user.username if user is not None else ANONYMOUS,
            action=action,
            entity="user",
            entity_id=user.id if user is not None else None,
            detail={
                "username": self.name or None,
                "client": self.client,
                "step": self.step.value,
                **extra,
            },
        )

    def throttled(self, user: User | None, wait: int) -> SignInResult:
        self.note(Attempt.THROTTLED, "signin.throttled", user, wait_seconds=wait)
        return SignInResult(SignInOutcome.THROTTLED, retry_after=wait)

    def failed(self, user: User | None, action: str, answer: SignInOutcome) -> SignInResult:
        self.note(Attempt.FAILED, action, user)
        # The failure that reaches a limit says so at once rather than on the next try.
        wait = self.wait()
        if wait:
            return SignInResult(SignInOutcome.THROTTLED, retry_after=wait)
        return SignInResult(answer)

    def succeeded(self, user: User) -> SignInResult:
        user.last_login_at = self.now
        self.note(Attempt.OK, "signin", user)
        return SignInResult(SignInOutcome.OK, view(user))


def _begin(
    session: Session, client: str | None, username: str, step: Step, now: datetime | None
) -> _Try:
    attempt = _Try(session, (client or "unknown")[:64], _name_key(username), step, now or utcnow())
    _serialise(session, attempt.client, attempt.name)
    return attempt


def check_password(
    session: Session,
    username: str,
    password: str,
    *,
    client: str | None,
    now: datetime | None = None,
) -> SignInResult:
    """The first step of signing in. A user with TOTP gets NEEDS_CODE, not OK.

    The caller commits, whatever the outcome: the attempt and its audit entry are part of
    the answer."""
    attempt = _begin(session, client, username, Step.PASSWORD, now)
    user = find_user(session, attempt.name, for_update=True) if attempt.name else None
    account = user if user is not None and user.active else None
    wait = attempt.wait()
    if wait:
        return attempt.throttled(account, wait)
    if not password_matches(account, password):
        if account is not None:
            action = "signin.bad_password"
        else:  # a disabled account is answered as an unknown name; the log tells them apart
            action = "signin.unknown_user" if user is None else "signin.disabled_user"
        return attempt.failed(account, action, SignInOutcome.BAD_CREDENTIALS)
    assert account is not None
    if account.totp_secret:
        attempt.note(Attempt.PASSWORD_OK, "signin.password_ok", account)
        return SignInResult(SignInOutcome.NEEDS_CODE, view(account))
    return attempt.succeeded(account)


def check_code(
    session: Session,
    user_id: int,
    code: str,
    *,
    client: str | None,
    vault: TotpVault,
    now: datetime | None = None,
) -> SignInResult:
    """The second step: a code from the user's authenticator app, each usable once."""
    found = session.get(User, user_id)
    if found is None:
        return SignInResult(SignInOutcome.BAD_CREDENTIALS)
    attempt = _begin(session, client, found.username, Step.CODE, now)
    user = lock_user(session, user_id)
    if user is None or not user.active or not user.totp_secret:
        return attempt.failed(None, "signin.unknown_user", SignInOutcome.BAD_CREDENTIALS)
    wait = attempt.wait()
    if wait:
        return attempt.throttled(user, wait)
    secret = vault.open(user.totp_secret, username=user.username)
    step = matching_step(secret, code.replace(" ", "").strip(), attempt.now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return attempt.failed(user, "signin.bad_code", SignInOutcome.BAD_CODE)
    user.totp_last_step = step
    return attempt.succeeded(user)


def change_own_password(
    session: Session,
    user_id: int,
    current: str,
    new: str,
    *,
    client: str | None,
    now: datetime | None = None,
) -> SignInResult:
    """A signed-in user changes their own password: the current one is checked (throttled
    like a sign-in), then every session of the user ends (the caller starts a fresh one).

    CHANGED, BAD_CREDENTIALS or THROTTLED; AccountError if the new password will not do."""
    found = session.get(User, user_id)
    if found is None or not found.active:
        return SignInResult(SignInOutcome.BAD_CREDENTIALS)
    attempt = _begin(session, client, found.username, Step.PASSWORD_CHANGE, now)
    user = lock_user(session, user_id)
    assert user is not None
    wait = attempt.wait()
    if wait:
        return attempt.throttled(user, wait)
    if not password_matches(user, current):
        return attempt.failed(user, "signin.bad_password", SignInOutcome.BAD_CREDENTIALS)
    replace_password(session, user, new, actor=user.username)
    return SignInResult(SignInOutcome.CHANGED, view(user))

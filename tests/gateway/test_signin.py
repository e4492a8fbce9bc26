"""Sign-in throttling by address and by name, answers that hide which names exist, audit."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.db import utcnow
from gateway.models.audit import AuditEntry
from gateway.models.users import SignInAttempt
from gateway.signin import (
    ADDRESS_LIMIT,
    FREE_FAILURES,
    SignInOutcome,
    SignInResult,
    change_own_password,
    check_password,
)
from gateway.totp import TotpVault, new_key
from gateway.users import AccountError, Role, add_user, disable_user

PASSWORD = "correct-horse-battery-staple"
ATTACKER = "203.0.113.66"
OFFICE = "192.0.2.10"
VAULT = TotpVault(new_key())
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=utcnow().tzinfo)


def _add(session: Session, name: str = "olivia", role: Role = Role.OFFICER) -> int:
    new = add_user(session, username=name, password=PASSWORD, role=role,
                   display_name=name.title(), totp=False, actor="test", vault=VAULT)  # fmt: skip
    session.commit()
    return new.user.id


def _try(session: Session, name: str, password: str, client: str, at: datetime) -> SignInResult:
    result = check_password(session, name, password, client=client, now=at)
    session.commit()
    return result


def test_an_attacker_cannot_lock_the_real_user_out_from_elsewhere(session: Session) -> None:
    _add(session, "adam", Role.ADMIN)
    for i in range(FREE_FAILURES - 1):
        assert _try(session, "adam", f"guess-{i}", ATTACKER, T0).outcome is (
            SignInOutcome.BAD_CREDENTIALS
        )
    assert _try(session, "adam", "guess-x", ATTACKER, T0).outcome is SignInOutcome.THROTTLED
    # The attacker's address now waits, even with the right password ...
    assert _try(session, "adam", PASSWORD, ATTACKER, T0).outcome is SignInOutcome.THROTTLED
    # ... and the real user, from their own address, signs in at once.
    assert _try(session, "adam", PASSWORD, OFFICE, T0).outcome is SignInOutcome.OK


def test_the_wait_doubles_and_is_never_a_lockout(session: Session) -> None:
    _add(session)
    for i in range(FREE_FAILURES):
        last = _try(session, "olivia", f"guess-{i}", ATTACKER, T0)
    assert last.outcome is SignInOutcome.THROTTLED and last.retry_after == 30
    early = _try(session, "olivia", PASSWORD, ATTACKER, T0 + timedelta(seconds=29))
    assert early.outcome is SignInOutcome.THROTTLED and early.retry_after == 1
    # A refused attempt is no guess and does not lengthen the wait.
    at = T0 + timedelta(seconds=30)
    sixth = _try(session, "olivia", "guess-6", ATTACKER, at)
    assert sixth.outcome is SignInOutcome.THROTTLED and sixth.retry_after == 60
    at += timedelta(seconds=60)
    assert _try(session, "olivia", PASSWORD, ATTACKER, at).outcome is SignInOutcome.OK
    # Signing in wipes the slate for that address.
    for i in range(FREE_FAILURES - 1):
        assert _try(session, "olivia", f"again-{i}", ATTACKER, at).outcome is (
            SignInOutcome.BAD_CREDENTIALS
        )


def test_an_address_trying_many_names_is_refused_for_every_name(session: Session) -> None:
    _add(session)
    for i in range(ADDRESS_LIMIT - 1):
        assert _try(session, f"name{i}", "guess", ATTACKER, T0).outcome is (
            SignInOutcome.BAD_CREDENTIALS
        )
    at = T0 + timedelta(minutes=1)
    limit = _try(session, "another", "guess", ATTACKER, at)
    assert limit.outcome is SignInOutcome.THROTTLED
    # Refused until the oldest failures are 15 minutes old.
    assert limit.retry_after == 14 * 60
    assert _try(session, "olivia", PASSWORD, ATTACKER, at).outcome is SignInOutcome.THROTTLED
    assert _try(session, "olivia", PASSWORD, OFFICE, at).outcome is SignInOutcome.OK
    later = T0 + timedelta(minutes=15, seconds=1)
    assert _try(session, "olivia", PASSWORD, ATTACKER, later).outcome is SignInOutcome.OK


def _answers(session: Session, name: str, client: str) -> list[tuple[SignInOutcome, int]]:
    """What a stranger sees trying `name` through every state of the throttle."""
    seen = []
    steps = [(T0, f"guess-{i}") for i in range(FREE_FAILURES + 1)]
    steps += [(T0, PASSWORD), (T0 + timedelta(seconds=31), "guess-late")]
    for at, password in steps:
        result = _try(session, name, password, client, at)
        seen.append((result.outcome, result.retry_after))
    # Now the address limit, reached with other names.
    for i in range(ADDRESS_LIMIT):
        _try(session, f"other{i}", "guess", client, T0 + timedelta(minutes=2))
    result = _try(session, name, PASSWORD, client, T0 + timedelta(minutes=3))
    seen.append((result.outcome, result.retry_after))
    return seen


def test_unknown_and_disabled_names_are_answered_exactly_like_real_ones(
    session: Session,
) -> None:
    _add(session, "olivia")
    _add(session, "dora")
    disable_user(session, "dora", actor="test")
    session.commit()
    real = _answers(session, "olivia", "198.51.100.2")
    ghost = _answers(session, "ghost", "198.51.100.3")
    disabled = _answers(session, "dora", "198.51.100.4")
    assert real == ghost == disabled
    assert {outcome for outcome, _ in real} == {
        SignInOutcome.BAD_CREDENTIALS,
        SignInOutcome.THROTTLED,
    }


def _audit(session: Session) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action.like("signin%")).order_by(AuditEntry.id)
    return list(session.execute(query).scalars())


def test_every_attempt_is_audited_with_name_and_address_never_the_password(
    session: Session,
) -> None:
    uid = _add(session)
    _try(session, "ghost", "secret-guess-1", ATTACKER, T0)
    for i in range(FREE_FAILURES):
        _try(session, "olivia", f"secret-guess-{i + 2}", ATTACKER, T0)
    _try(session, "olivia", PASSWORD, ATTACKER, T0)  # refused: throttled
    _try(session, "olivia", PASSWORD, OFFICE, T0)
    _try(session, "Not A Name!", "secret-guess-9", ATTACKER, T0)
    entries = _audit(session)
    assert [(e.actor, e.action) for e in entries] == [
        ("anonymous", "signin.unknown_user"),
        *[("olivia", "signin.bad_password")] * FREE_FAILURES,
        ("olivia", "signin.throttled"),
        ("olivia", "signin"),
        ("anonymous", "signin.unknown_user"),
    ]
    assert entries[0].detail == {"username": "ghost", "client": ATTACKER, "step": "password"}
    assert entries[0].entity_id is None
    assert entries[1].entity_id == str(uid)
    assert entries[-3].detail["wait_seconds"] == 30
    assert entries[-2].detail["client"] == OFFICE
    # Something that cannot be a username may be a password typed in the wrong box.
    assert entries[-1].detail["username"] is None
    for entry in entries:
        assert "secret-guess" not in str(entry.detail) and PASSWORD not in str(entry.detail)
    stored = session.execute(select(SignInAttempt.username)).scalars().all()
    assert "not a name!" not in stored and "" in stored


def test_attempts_older_than_a_day_are_pruned(session: Session) -> None:
    _try(session, "ghost", "guess", ATTACKER, T0)
    _try(session, "ghost", "guess", ATTACKER, T0 + timedelta(days=1, seconds=1))
    count = session.execute(select(func.count()).select_from(SignInAttempt)).scalar_one()
    assert count == 1
    # The audit log keeps both.
    assert len(_audit(session)) == 2


def test_changing_your_password_checks_the_current_one_under_the_same_throttle(
    session: Session,
) -> None:
    uid = _add(session)
    for i in range(FREE_FAILURES - 1):
        wrong = change_own_password(session, uid, f"guess-{i}", "a-new-long-passphrase",
                                    client=ATTACKER, now=T0)  # fmt: skip
        assert wrong.outcome is SignInOutcome.BAD_CREDENTIALS
    session.commit()
    # The stolen session's guesses count towards signing in from that address too.
    assert _try(session, "olivia", "guess", ATTACKER, T0).outcome is SignInOutcome.THROTTLED
    with pytest.raises(AccountError, match="at least 12"):
        change_own_password(session, uid, PASSWORD, "short", client=OFFICE, now=T0)
    session.rollback()
    done = change_own_password(session, uid, PASSWORD, "a-new-long-passphrase",
                               client=OFFICE, now=T0)  # fmt: skip
    session.commit()
    assert done.outcome is SignInOutcome.CHANGED
    assert _try(session, "olivia", "a-new-long-passphrase", OFFICE, T0).outcome is (
        SignInOutcome.OK
    )

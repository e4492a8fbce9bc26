"""Console users: adding, disabling, password and TOTP checks, lockout, and `cme users`."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db import utcnow
from gateway.models.users import User
from gateway.users import (
    LOCKOUT,
    MAX_FAILED_ATTEMPTS,
    AccountError,
    Role,
    SignInOutcome,
    add_user,
    check_code,
    check_password,
    disable_user,
    get_user,
    list_users,
)
from tests.conftest import CliCall

PASSWORD = "correct-horse-battery-staple"


def _add(session: Session, name: str = "olivia", **kw: object) -> int:
    new = add_user(
        session,
        username=name,
        password=PASSWORD,
        role=kw.pop("role", Role.OFFICER),  # type: ignore[arg-type]
        display_name="Olivia Tester",
        totp=bool(kw.pop("totp", False)),
        actor="test",
    )
    session.commit()
    return new.user.id


def test_password_is_stored_as_argon2(session: Session) -> None:
    _add(session)
    user = session.execute(select(User)).scalar_one()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_sign_in_with_password(session: Session) -> None:
    _add(session)
    ok = check_password(session, "OLIVIA ", PASSWORD)
    assert ok.outcome is SignInOutcome.OK and ok.user is not None
    assert ok.user.role is Role.OFFICER
    assert check_password(session, "olivia", "nope").outcome is SignInOutcome.BAD_CREDENTIALS
    assert check_password(session, "ghost", PASSWORD).outcome is SignInOutcome.BAD_CREDENTIALS


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("olivia", "short", "at least 12"),
        ("olivia", "olivia-is-my-password", "must not contain the username"),
        ("Bad Name!", PASSWORD, "username must be"),
    ],
)
def test_bad_new_users_are_refused(
    session: Session, username: str, password: str, message: str
) -> None:
    with pytest.raises(AccountError, match=message):
        add_user(
            session,
            username=username,
            password=password,
            role=Role.OFFICER,
            display_name="X",
            totp=False,
            actor="test",
        )
    assert session.execute(select(User)).first() is None


def test_duplicate_username_is_refused(session: Session) -> None:
    _add(session)
    with pytest.raises(AccountError, match="already a user"):
        _add(session)


def test_lockout_and_its_end(session: Session) -> None:
    _add(session)
    now = utcnow()
    for _ in range(MAX_FAILED_ATTEMPTS - 1):
        assert check_password(session, "olivia", "x", now=now).outcome is (
            SignInOutcome.BAD_CREDENTIALS
        )
    assert check_password(session, "olivia", "x", now=now).outcome is SignInOutcome.LOCKED
    assert check_password(session, "olivia", PASSWORD, now=now).outcome is SignInOutcome.LOCKED
    later = now + LOCKOUT + timedelta(seconds=1)
    assert check_password(session, "olivia", PASSWORD, now=later).outcome is SignInOutcome.OK


def test_totp_codes(session: Session) -> None:
    uid = _add(session, totp=True)
    user = session.get(User, uid)
    assert user is not None and user.totp_secret
    totp = pyotp.TOTP(user.totp_secret)
    now = utcnow().replace(microsecond=0)
    assert check_password(session, "olivia", PASSWORD, now=now).outcome is (
        SignInOutcome.NEEDS_CODE
    )
    assert check_code(session, uid, "12345", now=now).outcome is SignInOutcome.BAD_CODE
    code = totp.at(now)
    assert check_code(session, uid, code, now=now).outcome is SignInOutcome.OK
    # Used once; refused again (replay), even within its 30 seconds.
    assert check_code(session, uid, code, now=now).outcome is SignInOutcome.BAD_CODE
    # One step of clock drift is allowed, two are not.
    later = now + timedelta(seconds=90)
    assert check_code(session, uid, totp.at(later - timedelta(seconds=30)), now=later).outcome is (
        SignInOutcome.OK
    )
    assert check_code(session, uid, totp.at(later - timedelta(seconds=90)), now=later).outcome is (
        SignInOutcome.BAD_CODE
    )


def test_disabled_user_cannot_sign_in(session: Session) -> None:
    uid = _add(session)
    disable_user(session, "olivia", actor="test")
    session.commit()
    assert get_user(session, uid) is None
    assert check_password(session, "olivia", PASSWORD).outcome is SignInOutcome.BAD_CREDENTIALS
    with pytest.raises(AccountError, match="already disabled"):
        disable_user(session, "olivia", actor="test")
    assert [u.active for u in list_users(session)] == [False]


def test_roles_rank(session: Session) -> None:
    _add(session, "mo", role=Role.MANAGER)
    (mo,) = list_users(session)
    assert mo.has_role(Role.OFFICER) and mo.has_role(Role.MANAGER)
    assert not mo.has_role(Role.ADMIN)


def test_cli_add_list_disable(cme_home: object, cli: CliCall) -> None:
    added = cli("users", "add", "olivia", "--name", "Olivia Tester", "--role", "manager",
                "--totp", input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "added olivia (manager)" in added.output
    assert "otpauth://totp/" in added.output
    listed = cli("users", "list")
    assert "olivia" in listed.output and "manager" in listed.output and "totp" in listed.output
    assert cli("users", "disable", "olivia").exit_code == 0
    assert '"active": false' in cli("users", "list", "--json").output


def test_cli_bad_input_is_one_line(cme_home: object, cli: CliCall) -> None:
    weak = cli("users", "add", "olivia", "--name", "O", input="short\nshort\n")
    assert weak.exit_code != 0
    assert weak.output.strip().splitlines()[-1] == (
        "Error: the password must be at least 12 characters long"
    )
    missing = cli("users", "disable", "ghost")
    assert missing.exit_code != 0
    assert missing.output.strip().splitlines()[-1] == "Error: there is no user called 'ghost'"
    assert "Traceback" not in missing.output

"""Console users: adding, disabling, password and TOTP checks, and `cme users`."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db import utcnow
from gateway.models.users import User
from gateway.signin import SignInOutcome, check_code, check_password
from gateway.totp import TotpVault, new_key
from gateway.users import (
    AccountError,
    Role,
    add_user,
    disable_user,
    get_user,
    list_users,
)
from tests.conftest import CliCall

PASSWORD = "correct-horse-battery-staple"
CLIENT = "192.0.2.10"
VAULT = TotpVault(new_key())


def _add(session: Session, name: str = "olivia", **kw: object) -> int:
    return _add_new(session, name, **kw)[0]


def _add_new(session: Session, name: str = "olivia", **kw: object) -> tuple[int, str | None]:
    new = add_user(
        session,
        username=name,
        password=PASSWORD,
        role=kw.pop("role", Role.OFFICER),  # type: ignore[arg-type]
        display_name="Olivia Tester",
        totp=bool(kw.pop("totp", False)),
        actor="test",
        vault=VAULT,
    )
    session.commit()
    return new.user.id, new.totp_secret


def test_password_is_stored_as_argon2(session: Session) -> None:
    _add(session)
    user = session.execute(select(User)).scalar_one()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_sign_in_with_password(session: Session) -> None:
    _add(session)
    ok = check_password(session, "OLIVIA ", PASSWORD, client=CLIENT)
    assert ok.outcome is SignInOutcome.OK and ok.user is not None
    assert ok.user.role is Role.OFFICER
    nope = check_password(session, "olivia", "nope", client=CLIENT)
    assert nope.outcome is SignInOutcome.BAD_CREDENTIALS
    ghost = check_password(session, "ghost", PASSWORD, client=CLIENT)
    assert ghost.outcome is SignInOutcome.BAD_CREDENTIALS


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


def test_totp_codes(session: Session) -> None:
    uid, secret = _add_new(session, totp=True)
    assert secret is not None
    totp = pyotp.TOTP(secret)
    now = utcnow().replace(microsecond=0)

    def code_at(code: str, at: datetime) -> SignInOutcome:
        return check_code(session, uid, code, client=CLIENT, vault=VAULT, now=at).outcome

    assert check_password(session, "olivia", PASSWORD, client=CLIENT, now=now).outcome is (
        SignInOutcome.NEEDS_CODE
    )
    assert code_at("12345", now) is SignInOutcome.BAD_CODE
    code = totp.at(now)
    assert code_at(code, now) is SignInOutcome.OK
    # Used once; refused again (replay), even within its 30 seconds.
    assert code_at(code, now) is SignInOutcome.BAD_CODE
    # One step of clock drift is allowed, two are not.
    later = now + timedelta(seconds=90)
    assert code_at(totp.at(later - timedelta(seconds=30)), later) is SignInOutcome.OK
    assert code_at(totp.at(later - timedelta(seconds=90)), later) is SignInOutcome.BAD_CODE


def test_disabled_user_cannot_sign_in(session: Session) -> None:
    uid = _add(session)
    disable_user(session, "olivia", actor="test")
    session.commit()
    assert get_user(session, uid) is None
    refused = check_password(session, "olivia", PASSWORD, client=CLIENT)
    assert refused.outcome is SignInOutcome.BAD_CREDENTIALS
    with pytest.raises(AccountError, match="already disabled"):
        disable_user(session, "olivia", actor="test")
    assert [u.active for u in list_users(session)] == [False]


def test_roles_rank(session: Session) -> None:
    _add(session, "mo", role=Role.MANAGER)
    (mo,) = list_users(session)
    assert mo.has_role(Role.OFFICER) and mo.has_role(Role.MANAGER)
    assert not mo.has_role(Role.ADMIN)


def test_cli_add_list_disable(cme_home: object, cli: CliCall) -> None:
    cli.as_user = cli.add_user("ada", "admin")
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
    cli.as_user = cli.add_user("ada", "admin")
    weak = cli("users", "add", "olivia", "--name", "O", input="short\nshort\n")
    assert weak.exit_code != 0
    assert weak.output.strip().splitlines()[-1] == (
        "Error: the password must be at least 12 characters long"
    )
    missing = cli("users", "disable", "ghost")
    assert missing.exit_code != 0
    assert missing.output.strip().splitlines()[-1] == "Error: there is no user called 'ghost'"
    assert "Traceback" not in missing.output


def test_cli_add_from_a_password_file_and_set_password(
    cme_home: object, cli: CliCall, tmp_path: Path
) -> None:
    cli.as_user = cli.add_user("ada", "admin")
    from gateway import console_sessions
    from gateway.cli.context import unit_of_work

    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text(f"{PASSWORD}\n")
    second.write_text("a-brand-new-passphrase\n")
    added = cli("users", "add", "olivia", "--name", "Olivia Tester", "--role", "officer",
                "--password-file", first, "--no-totp")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Password" not in added.output  # nothing asked
    with unit_of_work() as (_s, session):
        user = check_password(session, "olivia", PASSWORD, client=CLIENT).user
        assert user is not None
        token = console_sessions.start(session, user.id, now=utcnow())
    changed = cli("users", "set-password", "olivia", "--password-file", second)
    assert changed.exit_code == 0, changed.output
    assert "sessions have ended" in changed.output
    with unit_of_work() as (_s, session):
        resumed = console_sessions.resume(session, token, now=utcnow(), idle=timedelta(hours=1))
        assert resumed.user_id is None
        assert resumed.ended is console_sessions.EndReason.PASSWORD
        old = check_password(session, "olivia", PASSWORD, client=CLIENT)
        assert old.outcome is SignInOutcome.BAD_CREDENTIALS
        new = check_password(session, "olivia", "a-brand-new-passphrase", client=CLIENT)
        assert new.outcome is SignInOutcome.OK


def test_cli_set_password_prompts_and_refuses_bad_input(
    cme_home: object, cli: CliCall, tmp_path: Path
) -> None:
    cli.as_user = cli.add_user("ada", "admin")
    assert (
        cli("users", "add", "olivia", "--name", "O", input=f"{PASSWORD}\n{PASSWORD}\n").exit_code
        == 0
    )
    same = cli("users", "set-password", "olivia", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert same.exit_code != 0
    assert same.output.strip().splitlines()[-1] == (
        "Error: the new password must be different from the current one"
    )
    empty = tmp_path / "empty"
    empty.write_text("")
    refused = cli("users", "set-password", "olivia", "--password-file", empty)
    assert refused.exit_code != 0
    assert "is empty" in refused.output.strip().splitlines()[-1]
    ghost = cli("users", "set-password", "ghost", input=f"{PASSWORD}x\n{PASSWORD}x\n")
    assert ghost.output.strip().splitlines()[-1] == "Error: there is no user called 'ghost'"
    prompted = cli("users", "set-password", "olivia", input="another-long-password\n" * 2)
    assert prompted.exit_code == 0, prompted.output

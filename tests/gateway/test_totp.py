"""TOTP secrets sealed at rest, sealed by `cme init` if left in clear, and locked sign-in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from gateway.db import utcnow
from gateway.models.users import SignInAttempt
from gateway.signin import FREE_FAILURES, SignInOutcome, SignInResult, check_code, check_password
from gateway.totp import TotpKeyError, TotpVault, is_clear, new_key
from gateway.users import Role, add_user

PASSWORD = "correct-horse-battery-staple"
VAULT = TotpVault(new_key())
NOW = datetime(2026, 11, 27, 9, 0, 5, tzinfo=utcnow().tzinfo)


def _add_totp_user(engine: Engine, vault: TotpVault = VAULT) -> tuple[int, str]:
    with Session(engine) as s:
        new = add_user(s, username="tom", password=PASSWORD, role=Role.OFFICER,
                       display_name="Tom", totp=True, actor="test", vault=vault)  # fmt: skip
        s.commit()
    assert new.totp_secret is not None
    return new.user.id, new.totp_secret


def _raw_secret(engine: Engine, uid: int) -> str:
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT totp_secret FROM users WHERE id = :id"), {"id": uid}
        ).scalar_one()
    assert isinstance(stored, str)
    return stored


def test_the_secret_is_not_stored_in_clear(engine: Engine) -> None:
    uid, secret = _add_totp_user(engine)
    stored = _raw_secret(engine, uid)
    assert secret not in stored and not is_clear(stored)
    assert VAULT.open(stored, username="tom") == secret
    with pytest.raises(TotpKeyError, match="does not open"):
        TotpVault(new_key()).open(stored, username="tom")


def test_a_secret_left_in_clear_is_refused_until_cme_init_seals_it(
    cme_home: Path, db_url: str
) -> None:
    from gateway.db import make_engine
    from gateway.home import init_home
    from gateway.settings import load_settings

    settings = load_settings()
    vault = TotpVault.load(settings.keys_dir)
    engine = make_engine(db_url)
    try:
        uid, secret = _add_totp_user(engine, vault)
        with engine.begin() as conn:  # as a user added before secrets were sealed
            conn.execute(text("UPDATE users SET totp_secret = :s"), {"s": secret})
        with Session(engine) as s, pytest.raises(TotpKeyError, match="run `cme init`"):
            check_code(s, uid, pyotp.TOTP(secret).at(NOW), client="x", vault=vault, now=NOW)
        init_home(settings)
        stored = _raw_secret(engine, uid)
        assert not is_clear(stored) and vault.open(stored, username="tom") == secret
        init_home(settings)  # again: nothing sealed twice
        assert _raw_secret(engine, uid) == stored
        with Session(engine) as s:
            done = check_code(s, uid, pyotp.TOTP(secret).at(NOW), client="x", vault=vault,
                              now=NOW)  # fmt: skip
        assert done.outcome is SignInOutcome.OK
    finally:
        engine.dispose()


def test_a_missing_key_says_run_cme_init(tmp_path: Path) -> None:
    with pytest.raises(TotpKeyError, match="run `cme init`"):
        TotpVault.load(tmp_path)


# PostgreSQL: the user row and the name are locked during sign-in. Each test holds one
# sign-in open (not committed) and starts a second on another connection; the second must
# wait for the first (seen in pg_blocking_pids), and only then decide.


def _backend_pid(session: Session) -> int:
    return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _while_first_is_open(
    engine: Engine, first: Session, second: Callable[[Session], SignInResult]
) -> SignInResult:
    """Run `second` on its own connection while `first` holds its transaction open; commit
    `first` only once `second` waits on it (or has finished, which is the bug)."""
    ready = threading.Barrier(2)
    done = threading.Event()
    found: dict[str, object] = {}

    def run() -> None:
        try:
            with Session(engine, expire_on_commit=False) as s:
                found["pid"] = _backend_pid(s)
                ready.wait()
                found["result"] = second(s)
                s.commit()
        except BaseException as exc:  # re-raised in the test's thread
            found["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    ready.wait()
    deadline = time.monotonic() + 30
    with engine.connect() as watch:
        while not done.is_set():
            waiting = watch.execute(
                text("SELECT :first = ANY(pg_blocking_pids(:pid))"),
                {"first": _backend_pid(first), "pid": found["pid"]},
            ).scalar_one()
            if waiting:
                break
            assert time.monotonic() < deadline, "the second sign-in neither waited nor finished"
            done.wait(0.005)
    first.commit()
    thread.join()
    if "error" in found:
        raise found["error"]  # type: ignore[misc]
    result = found["result"]
    assert isinstance(result, SignInResult)
    return result


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_one_code_used_twice_at_once_signs_in_once(engine: Engine) -> None:
    uid, secret = _add_totp_user(engine)
    code = pyotp.TOTP(secret).at(NOW)
    with Session(engine, expire_on_commit=False) as first:
        one = check_code(first, uid, code, client="192.0.2.1", vault=VAULT, now=NOW)
        two = _while_first_is_open(
            engine,
            first,
            lambda s: check_code(s, uid, code, client="192.0.2.2", vault=VAULT, now=NOW),
        )
    assert sorted([one.outcome, two.outcome]) == sorted([SignInOutcome.OK, SignInOutcome.BAD_CODE])


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_concurrent_guesses_cannot_pass_the_limit(engine: Engine) -> None:
    with Session(engine) as s:
        add_user(s, username="olivia", password=PASSWORD, role=Role.OFFICER,
                 display_name="Olivia", totp=False, actor="test")  # fmt: skip
        s.commit()
        for i in range(FREE_FAILURES - 1):
            check_password(s, "olivia", f"guess-{i}", client="203.0.113.5", now=NOW)
            s.commit()
    with Session(engine, expire_on_commit=False) as first:
        last_free = check_password(first, "olivia", "guess-last", client="203.0.113.5", now=NOW)
        extra = _while_first_is_open(
            engine,
            first,
            lambda s: check_password(s, "olivia", "guess-extra", client="203.0.113.5", now=NOW),
        )
    assert last_free.outcome is SignInOutcome.THROTTLED
    assert extra.outcome is SignInOutcome.THROTTLED
    with Session(engine) as s:
        failed = s.execute(
            select(func.count()).where(SignInAttempt.outcome == "failed")
        ).scalar_one()
    assert failed == FREE_FAILURES

"""Console sessions are kept server-side: a copied cookie dies with the session it copied."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import time_machine
from sqlalchemy import select

from gateway.db import utcnow
from gateway.models.users import ConsoleSession
from gateway.users import set_password
from tests.conftest import CliCall
from tests.web.conftest import PASSWORD, WebClient, WebEnv
from web.access import SESSION_ID

COOKIE = "cme_session"
NEW_PASSWORD = "a-completely-new-passphrase"


def _copy_of(web: WebEnv, browser: WebClient) -> WebClient:
    """Another browser holding a copy of `browser`'s cookie (as a thief would)."""
    cookie = browser.raw.get_cookie(COOKIE)
    assert cookie is not None
    thief = WebClient(web.app)
    thief.raw.set_cookie(COOKIE, cookie.value)
    return thief


def _signed_in(client: WebClient) -> bool:
    return client.raw.get("/cases").status_code == 200


def test_a_copied_cookie_stops_working_after_sign_out(web: WebEnv, officer: WebClient) -> None:
    thief = _copy_of(web, officer)
    assert _signed_in(thief)
    officer.post("/sign-out", {})
    assert not _signed_in(thief)
    assert not _signed_in(officer)
    (row,) = _sessions(web)
    assert row.end_reason == "sign_out" and row.ended_at is not None
    assert [e.actor for e in web.audit("signout")] == ["olivia"]


def test_cme_users_disable_ends_every_session_at_once(
    web: WebEnv, officer: WebClient, cli: CliCall
) -> None:
    thief = _copy_of(web, officer)
    assert cli("users", "disable", "olivia", as_user=cli.add_user("ada", "admin")).exit_code == 0
    assert not _signed_in(thief)
    assert not _signed_in(officer)
    assert {r.end_reason for r in _sessions(web)} == {"disabled"}


def test_a_password_change_on_the_console_ends_every_other_session(
    web: WebEnv, officer: WebClient
) -> None:
    thief = _copy_of(web, officer)
    other_browser = WebClient(web.app)
    other_browser.sign_in("olivia")
    officer.get("/account/password")
    officer.post(
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert not _signed_in(thief)  # the very cookie the officer had before the change
    assert not _signed_in(other_browser)
    assert _signed_in(officer)  # which now holds a new session


def test_cme_users_set_password_ends_every_session(
    web: WebEnv, officer: WebClient, cli: CliCall
) -> None:
    thief = _copy_of(web, officer)
    cli.as_user = cli.add_user("ada", "admin")
    changed = cli("users", "set-password", "olivia", input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert changed.exit_code == 0, changed.output
    assert not _signed_in(thief)
    resp = officer.raw.get("/cases")
    assert resp.status_code == 302
    banner = officer.get(resp.headers["Location"]).text(
        "//div[contains(@class,'govuk-notification-banner')]"
    )
    assert "the password was changed" in banner
    officer.sign_in("olivia", NEW_PASSWORD)
    assert _signed_in(officer)


def test_the_table_holds_only_a_hash_of_the_cookie_token(web: WebEnv, officer: WebClient) -> None:
    with officer.raw.session_transaction() as cookie:
        token = cookie[SESSION_ID]
    (row,) = _sessions(web)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {row.token_hash, row.client, row.user_agent}
    assert row.client == "127.0.0.1"


def test_signing_in_again_replaces_the_browser_s_session(web: WebEnv, officer: WebClient) -> None:
    thief = _copy_of(web, officer)
    officer.post("/sign-in", {"username": "olivia", "password": PASSWORD})
    assert not _signed_in(thief)
    assert sorted(r.end_reason or "open" for r in _sessions(web)) == ["open", "replaced"]


def test_a_session_ends_after_12_hours_however_active(web: WebEnv, client: WebClient) -> None:
    web.add_user("olivia")
    start = utcnow()
    with time_machine.travel(start, tick=False):
        client.sign_in("olivia")
    step = timedelta(minutes=web.settings.web.session_idle_minutes - 5)
    at = start
    while at + step < start + timedelta(hours=12):
        at += step
        with time_machine.travel(at, tick=False):
            assert _signed_in(client)
    with time_machine.travel(start + timedelta(hours=12, minutes=1), tick=False):
        resp = client.raw.get("/cases")
        assert resp.status_code == 302
        page = client.get(resp.headers["Location"])
    assert "sign in again each working day" in page.text(
        "//div[contains(@class,'govuk-notification-banner')]"
    )
    assert [r.end_reason for r in _sessions(web)] == ["expired"]


def test_an_idle_session_is_ended_on_the_server(web: WebEnv, client: WebClient) -> None:
    web.add_user("olivia")
    start = utcnow()
    with time_machine.travel(start, tick=False):
        client.sign_in("olivia")
        thief = _copy_of(web, client)
    idle = timedelta(minutes=web.settings.web.session_idle_minutes)
    with time_machine.travel(start + idle + timedelta(seconds=1), tick=False):
        assert not _signed_in(client)
    # The thief's copy, even if "active" since, stays dead.
    with time_machine.travel(start + idle + timedelta(seconds=2), tick=False):
        assert not _signed_in(thief)
    assert [r.end_reason for r in _sessions(web)] == ["idle"]


def test_set_password_ends_sessions_in_the_gateway_too(web: WebEnv, officer: WebClient) -> None:
    with web.session() as s:
        set_password(s, "olivia", NEW_PASSWORD, actor="test")
        s.commit()
    assert {r.end_reason for r in _sessions(web)} == {"password"}
    assert not _signed_in(officer)


def _sessions(web: WebEnv) -> list[ConsoleSession]:
    with web.session() as s:
        return list(s.execute(select(ConsoleSession).order_by(ConsoleSession.id)).scalars())

"""Signing in: passwords, TOTP codes, throttling, idle timeout, cookies, signing out."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

import pyotp
import time_machine
from sqlalchemy import select

from gateway.db import utcnow
from gateway.models.audit import AuditEntry
from gateway.signin import ADDRESS_LIMIT, FREE_FAILURES
from gateway.users import Role, disable_user
from tests.web.conftest import PASSWORD, WebClient, WebEnv, totp_now


def test_sign_in_page(client: WebClient) -> None:
    page = client.get("/sign-in")
    assert page.title.startswith("Sign in")
    assert page.doc.xpath("//form[@action='/sign-in']//input[@name='password'][@type='password']")


def test_right_password_signs_in_and_shows_who(web: WebEnv, client: WebClient) -> None:
    web.add_user("olivia")
    page = client.sign_in("olivia")
    assert page.response.headers["Location"] == "/"  # the dashboard
    cases = client.get("/cases")
    assert "Olivia Tester (officer)" in cases.text("//*[@data-testid='signed-in-as']")


def test_wrong_password_and_unknown_user_get_the_same_answer(
    web: WebEnv, client: WebClient
) -> None:
    web.add_user("olivia")
    client.get("/sign-in")
    wrong = client.post("/sign-in", {"username": "olivia", "password": "nope"}, status=401)
    unknown = client.post("/sign-in", {"username": "nobody", "password": "nope"}, status=401)
    assert (
        wrong.error_links()
        == unknown.error_links()
        == {"username": "Enter a correct username and password"}
    )
    assert wrong.title.startswith("Error: Sign in")


def test_empty_form_names_each_missing_field(client: WebClient) -> None:
    client.get("/sign-in")
    page = client.post("/sign-in", {"username": "", "password": ""}, status=400)
    assert page.error_links() == {
        "username": "Enter your username",
        "password": "Enter your password",
    }


def _from(web: WebEnv, address: str) -> WebClient:
    """A browser on another client address."""
    other = WebClient(web.app)
    other.raw.environ_base["REMOTE_ADDR"] = address
    return other


def test_repeated_failures_slow_that_address_and_never_lock_the_account(
    web: WebEnv, client: WebClient
) -> None:
    web.add_user("olivia")
    start = utcnow()
    with time_machine.travel(start, tick=False):
        client.get("/sign-in")
        for _ in range(FREE_FAILURES - 1):
            client.post("/sign-in", {"username": "olivia", "password": "wrong-guess"}, status=401)
        slowed = client.post(
            "/sign-in", {"username": "olivia", "password": "wrong-guess"}, status=429
        )
        assert slowed.error_links() == {
            "username": "Too many attempts to sign in. Wait 1 minute, then try again"
        }
        assert slowed.response.headers["Retry-After"] == "30"
        # This address must wait, even with the right password ...
        client.post("/sign-in", {"username": "olivia", "password": PASSWORD}, status=429)
        # ... but the account is not locked: from another address the user signs in at once.
        office = _from(web, "192.0.2.10")
        office.get("/sign-in")
        office.post("/sign-in", {"username": "olivia", "password": PASSWORD}, status=302)
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        page = client.post("/sign-in", {"username": "olivia", "password": PASSWORD}, status=302)
    assert page.response.headers["Location"] == "/"
    with web.session() as s:
        query = select(AuditEntry.action).where(AuditEntry.actor == "olivia")
        actions = [a for (a,) in s.execute(query)]
    assert actions.count("signin.bad_password") == FREE_FAILURES
    assert actions.count("signin.throttled") == 1
    assert actions.count("signin") == 2


def _normalised(body: str, typed: str) -> str:
    body = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', body)
    return body.replace(typed, "TYPED-NAME")


def _stranger_sees(web: WebEnv, name: str, address: str) -> list[tuple[int, str, str | None]]:
    """Every answer a stranger on `address` gets trying `name` through the throttle's states."""
    browser = _from(web, address)
    start = utcnow().replace(microsecond=0)
    seen: list[tuple[int, str, str | None]] = []

    def attempt(username: str, password: str, at: datetime, keep: bool = True) -> None:
        with time_machine.travel(at, tick=False):
            browser.get("/sign-in")
            resp = browser.raw.post(
                "/sign-in",
                data={"username": username, "password": password, "csrf_token": browser.token()},
            )
        if keep:
            body = _normalised(resp.get_data(as_text=True), username)
            seen.append((resp.status_code, body, resp.headers.get("Retry-After")))

    for i in range(FREE_FAILURES + 1):  # wrong, ..., slowed, refused
        attempt(name, f"guess-{i}", start)
    attempt(name, PASSWORD, start)  # the right password while slowed
    attempt(name, "guess-late", start + timedelta(seconds=31))  # allowed again, slowed again
    for i in range(ADDRESS_LIMIT):  # the address's own limit, reached with other names
        attempt(f"other{i}", "guess", start + timedelta(minutes=2), keep=False)
    attempt(name, PASSWORD, start + timedelta(minutes=3))
    return seen


def test_unknown_and_known_names_get_byte_identical_answers_in_every_state(
    web: WebEnv,
) -> None:
    web.add_user("olivia")
    web.add_user("dorcas")
    with web.session() as s:
        disable_user(s, "dorcas", actor="test")
        s.commit()
    real = _stranger_sees(web, "olivia", "198.51.100.1")
    unknown = _stranger_sees(web, "gideon", "198.51.100.2")
    disabled = _stranger_sees(web, "dorcas", "198.51.100.3")
    assert real == unknown == disabled
    assert [status for status, _, _ in real] == [401] * (FREE_FAILURES - 1) + [429] * 5
    # Every attempt is audited, on known and unknown names alike, with the address.
    with web.session() as s:
        entries = (
            s.execute(select(AuditEntry).where(AuditEntry.action.like("signin%"))).scalars().all()
        )
    per_address = Counter(e.detail["client"] for e in entries)
    assert per_address == {a: len(real) + ADDRESS_LIMIT for a in
                           ("198.51.100.1", "198.51.100.2", "198.51.100.3")}  # fmt: skip
    assert {e.actor for e in entries if e.detail["username"] == "gideon"} == {"anonymous"}
    assert all(PASSWORD not in str(e.detail) for e in entries)


def test_totp_user_needs_a_code(web: WebEnv, client: WebClient) -> None:
    secret = web.add_user("tom", totp=True)
    assert secret is not None
    client.get("/sign-in")
    page = client.post("/sign-in", {"username": "tom", "password": PASSWORD})
    assert page.response.headers["Location"] == "/sign-in/code"
    # Not signed in yet: the console is still closed.
    assert client.raw.get("/cases").status_code == 302
    code_page = client.get("/sign-in/code")
    assert code_page.h1 == "Enter your security code"
    wrong = "000000" if totp_now(secret) != "000000" else "111111"
    bad = client.post("/sign-in/code", {"code": wrong}, status=401)
    assert "code" in bad.error_links()
    ok = client.post("/sign-in/code", {"code": totp_now(secret)})
    assert ok.response.headers["Location"] == "/"
    client.get("/cases")


def test_a_code_cannot_be_used_twice(web: WebEnv, client: WebClient) -> None:
    secret = web.add_user("tom", totp=True)
    assert secret is not None
    at = utcnow().replace(second=5, microsecond=0)
    with time_machine.travel(at, tick=False):
        code = pyotp.TOTP(secret).now()
        client.sign_in("tom", code=code)
        client.raw.post("/sign-out", data={"csrf_token": client.token()})
        client.get("/sign-in")
        client.post("/sign-in", {"username": "tom", "password": PASSWORD})
        client.post("/sign-in/code", {"code": code}, status=401)


def test_code_page_without_a_password_goes_back_to_sign_in(client: WebClient) -> None:
    resp = client.raw.get("/sign-in/code")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/sign-in"


def test_wrong_codes_slow_that_address(web: WebEnv, client: WebClient) -> None:
    secret = web.add_user("tom", totp=True)
    assert secret is not None
    start = utcnow().replace(second=5, microsecond=0)
    with time_machine.travel(start, tick=False):
        client.get("/sign-in")
        client.post("/sign-in", {"username": "tom", "password": PASSWORD})
        wrong = "123456" if totp_now(secret) != "123456" else "654321"
        for _ in range(FREE_FAILURES - 1):
            client.post("/sign-in/code", {"code": wrong}, status=401)
        slowed = client.post("/sign-in/code", {"code": wrong}, status=429)
        assert "Too many attempts" in slowed.error_links()["code"]
        client.get("/sign-in")
        client.post("/sign-in", {"username": "tom", "password": PASSWORD}, status=429)
        # Tom, elsewhere, is not locked out.
        office = _from(web, "192.0.2.10")
        office.get("/sign-in")
        office.post("/sign-in", {"username": "tom", "password": PASSWORD}, status=302)
        office.post("/sign-in/code", {"code": totp_now(secret)}, status=302)
        office.get("/cases")


def test_session_cookie_flags(web: WebEnv, client: WebClient) -> None:
    web.add_user("olivia")
    client.get("/sign-in")
    resp = client.raw.post(
        "/sign-in", data={"username": "olivia", "password": PASSWORD, "csrf_token": client.token()}
    )
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP in development


def test_https_makes_the_cookie_secure(web: WebEnv) -> None:
    import dataclasses

    from web.app import create_app

    settings = dataclasses.replace(
        web.settings, web=dataclasses.replace(web.settings.web, https=True)
    )
    app = create_app(settings, web.engine)
    resp = app.test_client().get("/sign-in", base_url="https://localhost")
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("__Host-cme_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


def test_idle_session_times_out(web: WebEnv, client: WebClient) -> None:
    web.add_user("olivia")
    start = utcnow()
    with time_machine.travel(start, tick=False):
        client.sign_in("olivia")
        client.get("/cases")
    idle = web.settings.web.session_idle_minutes
    with time_machine.travel(start + timedelta(minutes=idle - 1), tick=False):
        client.get("/cases")  # activity keeps the session alive
    with time_machine.travel(start + timedelta(minutes=2 * idle - 1), tick=False):
        client.get("/cases")
    with time_machine.travel(start + timedelta(minutes=3 * idle + 1), tick=False):
        resp = client.raw.get("/cases")
        assert resp.status_code == 302
        page = client.get(resp.headers["Location"])
        banner = page.text("//div[contains(@class,'govuk-notification-banner')]")
        assert "without activity" in banner


def test_disabled_user_is_signed_out_on_next_request(web: WebEnv, client: WebClient) -> None:
    web.add_user("olivia")
    client.sign_in("olivia")
    client.get("/cases")
    with web.session() as s:
        disable_user(s, "olivia", actor="test")
        s.commit()
    assert client.raw.get("/cases").status_code == 302
    client.get("/sign-in")
    client.post("/sign-in", {"username": "olivia", "password": PASSWORD}, status=401)


def test_sign_out(web: WebEnv, client: WebClient) -> None:
    web.add_user("olivia", Role.MANAGER)
    client.sign_in("olivia")
    page = client.get("/cases")
    form = page.doc.xpath("//form[@action='/sign-out']")
    assert form, "every console page has a sign-out button"
    client.post("/sign-out", {})
    assert client.raw.get("/cases").status_code == 302

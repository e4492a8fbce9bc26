"""Changing your own password on the console."""

from __future__ import annotations

import pytest

from tests.web.conftest import PASSWORD, Page, WebClient, WebEnv

NEW = "a-completely-new-passphrase"


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Form behaviour: one engine is enough (sessions and sign-in run on both)."""
    return sqlite_url


def _change(officer: WebClient, status: int, **fields: str) -> Page:
    form = {"current_password": PASSWORD, "new_password": NEW, "confirm_password": NEW}
    form.update(fields)
    return officer.post("/account/password", form, status=status)


def test_the_page_is_reached_from_every_console_page(officer: WebClient) -> None:
    cases = officer.get("/cases")
    assert cases.doc.xpath("//a[@href='/account/password'][normalize-space()='Change password']")
    page = officer.get("/account/password")
    assert page.title.startswith("Change your password")
    assert page.h1 == "Change your password"
    assert page.doc.xpath("//form[@action='/account/password']//input[@type='password']")


@pytest.mark.parametrize(
    ("fields", "status", "errors"),
    [
        ({"current_password": "", "new_password": "", "confirm_password": ""}, 400,
         {"current_password": "Enter your current password",
          "new_password": "Enter a new password"}),
        ({"confirm_password": "something-else-entirely"}, 400,
         {"confirm_password": "Enter the same new password twice"}),
        ({"new_password": "short", "confirm_password": "short"}, 400,
         {"new_password": "The password must be at least 12 characters long"}),
        ({"new_password": "olivia-longer-pass", "confirm_password": "olivia-longer-pass"}, 400,
         {"new_password": "The password must not contain the username"}),
        ({"new_password": PASSWORD, "confirm_password": PASSWORD}, 400,
         {"new_password": "The new password must be different from the current one"}),
        ({"current_password": "not-my-password"}, 401,
         {"current_password": "Your current password is not correct"}),
    ],
)  # fmt: skip
def test_problems_are_named_in_the_error_summary(
    officer: WebClient, fields: dict[str, str], status: int, errors: dict[str, str]
) -> None:
    officer.get("/account/password")
    page = _change(officer, status, **fields)
    assert page.error_links() == errors
    assert page.title.startswith("Error: Change your password")
    # Nothing changed: the old password still works.
    officer.post("/sign-out", {})
    officer.sign_in("olivia", PASSWORD)


def test_a_change_takes_effect_and_is_audited(web: WebEnv, officer: WebClient) -> None:
    officer.get("/account/password")
    done = _change(officer, 302)
    assert done.response.headers["Location"] == "/account/password"
    page = officer.get("/account/password")
    assert "Your password has been changed" in page.text(
        "//div[contains(@class,'govuk-notification-banner--success')]"
    )
    (entry,) = web.audit("user.password")
    assert entry.actor == "olivia" and entry.detail["sessions_ended"] == 1
    officer.post("/sign-out", {})
    officer.get("/sign-in")
    officer.post("/sign-in", {"username": "olivia", "password": PASSWORD}, status=401)
    officer.sign_in("olivia", NEW)


def test_guessing_the_current_password_is_throttled_like_signing_in(
    web: WebEnv, officer: WebClient
) -> None:
    from gateway.signin import FREE_FAILURES

    officer.get("/account/password")
    for _ in range(FREE_FAILURES - 1):
        _change(officer, 401, current_password="a-guess-at-it")
    slowed = _change(officer, 429, current_password="a-guess-at-it")
    assert "Too many attempts" in slowed.error_links()["current_password"]
    assert len(web.audit("signin.bad_password")) == FREE_FAILURES
    assert all(e.detail["step"] == "password_change" for e in web.audit("signin.bad_password"))

"""The exchange in a real browser: ask another authority (with the check page), approve a
partner's answer, the partner directory and the quarantine; then two running instances,
LA 807 and LA 806 over HTTPS on loopback, each officer working in their own console."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gateway.db import session_scope
from gateway.exchange import working
from gateway.exchange.keys import init_keys
from gateway.exchange.outbound import deliver_due
from gateway.exchange.partners import add_partner
from gateway.totp import TotpVault
from gateway.users import Role, add_user
from tests.gateway.exchange.instances import Instance, env_for, make_instance, serve, tls_files
from tests.support.browser import AXE, AXE_PATH, check_page, expect, expect_errors_described
from tests.support.browser import sign_in as sign_in_here
from tests.web import exchange_support as ex
from tests.web.conftest import PASSWORD, WebEnv

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from web.server import WebServer


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """What the browser sees does not depend on the engine (the view tests run on both)."""
    return sqlite_url


def _heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


def _nav(page: Page, name: str) -> None:
    page.locator("#navigation").get_by_role("link", name=re.compile(rf"^{name}")).click()


def test_ask_check_send_approve_directory_quarantine(web: WebEnv, page: Page) -> None:
    ex.set_up_exchange(web)
    ex.add(web, "806")
    ex.add(web, "808", "expired")
    web.add_user("olivia")
    case_id = web.add_case("Amelia", "Testwell")
    # A case of ours LA 806 has answered already, and a hostile post refused at the door.
    other = web.add_case("Ava", "Testmover")
    with web.session() as s:
        asked = working.send_enquiry(s, web.settings, other, "806", "olivia").message_id
        s.commit()
    ex.their_answer(web, "806", asked, ex.ON_ROLL, note="Started in January.")
    hostile = b"<script>alert('owned')</script>\x00\x1b[31m" + b"\xab" * 300
    refused = web.app.test_client().post(
        "/exchange", data=hostile, content_type="application/pkcs7-mime"
    )
    assert refused.status_code == 400

    sign_in_here(page, "olivia")
    page.goto(f"/cases/{case_id}")
    _heading(page, "Amelia Testwell")
    check_page(page, "case")
    page.get_by_role("link", name="Ask another authority").click()
    _heading(page, "Ask another authority about Amelia Testwell")
    expect(page.get_by_label("Test LA 808 (808)")).to_be_disabled()
    check_page(page, "compose")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Choose the authority to ask")
    check_page(page, "compose-empty", status=400)
    expect_errors_described(page)
    page.get_by_label("Test LA 806 (806)").check()
    page.get_by_label("A note for them (optional)").fill("Thought to be with an aunt.")
    page.get_by_role("button", name="Continue").click()
    _heading(page, "Check before you send")
    expect(page.locator("#disclosed")).to_contain_text("3 April 2015")
    expect(page.locator("#disclosed")).to_contain_text("Thought to be with an aunt.")
    expect(page.locator("#lawful-basis")).to_contain_text("Public task")
    check_page(page, "check-before-you-send")
    page.get_by_role("button", name="Send enquiry").click()
    banner = page.locator(".govuk-notification-banner")
    expect(banner).to_contain_text("Enquiry sent to Test LA 806")
    expect(page.locator("#timeline")).to_contain_text("Enquiry sent to LA 806")
    check_page(page, "enquiry-sent")

    _nav(page, "Exchange")
    _heading(page, "Exchange")
    expect(page.locator("#count-answers")).to_contain_text("1")
    check_page(page, "exchange")
    page.locator("#count-answers a").click()
    _heading(page, "Enquiries and answers")
    check_page(page, "answers")
    page.locator("#partner-answers-table").get_by_role("link", name=re.compile("^Review")).click()
    _heading(page, "Answer about Ava Testmover")
    expect(page.locator("#said")).to_contain_text("8063001 (Example Primary)")
    check_page(page, "partner-answer")
    page.get_by_role("button", name="Approve the answer").click()
    _heading(page, "Ava Testmover")
    expect(page.locator("#case-outcome")).to_contain_text("another")
    check_page(page, "answer-approved")

    _nav(page, "Exchange")
    check_page(page, "exchange-again")
    page.locator("#count-partners a").click()
    _heading(page, "Partner directory")
    expect(page.locator("#warning-808")).to_contain_text("expired on")
    expect(page.locator("#partner-808 [data-cert='expired']")).to_have_text("Expired")
    check_page(page, "partners")
    page.get_by_role("link", name="Back to the exchange").click()
    check_page(page, "exchange-from-partners")
    page.locator("#count-refused a").click()
    _heading(page, "Exchange quarantine")
    check_page(page, "quarantine")
    page.locator("#refused tbody tr").first.get_by_role("link").click()
    _heading(page, "Why it was refused")
    expect(page.locator("#prefix-text")).to_contain_text("<script>alert('owned')</script>\\x00")
    expect(page.locator("main script")).to_have_count(0)
    check_page(page, "refused-message")


# -- two instances ---------------------------------------------------------------------------


@dataclass
class Console:
    """One instance's console for the browser (plain HTTP on loopback)."""

    url: str
    server: WebServer


@pytest.fixture
def partner_806(tmp_path: Path, web: WebEnv, page: Page) -> Iterator[tuple[Instance, Console]]:
    """LA 806 running beside us (807, the `web` app): each pins the other and posts to the
    other's /exchange over HTTPS; 806's console is served for the browser too."""
    from web.app import create_app
    from web.server import WebServer

    tls = tls_files(tmp_path)
    url = f"sqlite:///{tmp_path / 'la806.db'}"
    b = make_instance("806", tmp_path, url, env_for("806", tmp_path / "home806", url))
    a = Instance("807", web.settings.home, web.settings, web.engine)
    init_keys(web.settings.keys_dir, la_code="807", la_name="Redcar and Cleveland",
              email="cme@redcar-cleveland.example")  # fmt: skip
    console = WebServer(create_app(b.settings, b.engine), "127.0.0.1", 0).start()
    try:
        for inst in (a, b):
            serve(inst, tls)
            shutil.copy(tls[0], inst.home / "exchange" / "https-ca.pem")
        for me, other, name in ((a, b, "Test LA 806"), (b, a, "Redcar and Cleveland")):
            with session_scope(me.engine) as s:
                add_partner(
                    s, me.settings, la_code=other.la, name=name,
                    email=f"cme@la{other.la}.example", cert_bytes=other.cert_pem(), url=other.url,
                )  # fmt: skip
        with session_scope(b.engine) as s:
            add_user(
                s, username="bella", password=PASSWORD, role=Role.OFFICER,
                display_name="Bella Tester", totp=False, actor="test",
                vault=TotpVault.load(b.settings.keys_dir),
            )  # fmt: skip
        home = f"http://127.0.0.1:{console.port}"
        page.context.route(
            home + AXE_PATH,
            lambda route: route.fulfill(path=str(AXE), content_type="text/javascript"),
        )
        yield b, Console(home, console)
    finally:
        console.stop()
        for inst in (a, b):
            inst.stop_server()
        b.engine.dispose()


def _sign_in_at(page: Page, base: str, username: str) -> None:
    """Sign in on another instance's console (the two share a host, so one cookie at a time)."""
    page.goto(base + "/sign-in")
    check_page(page, f"sign-in-{username}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#sign-in").click()
    expect(page.get_by_test_id("signed-in-as")).to_be_visible()
    check_page(page, f"signed-in-{username}")


def test_two_instances_enquiry_answer_and_approval(
    web: WebEnv, page: Page, partner_806: tuple[Instance, Console]
) -> None:
    b, console_806 = partner_806
    web.add_user("olivia")
    case_id = web.add_case("Amelia", "Testwell")

    # LA 807's officer asks LA 806.
    sign_in_here(page, "olivia")
    page.goto(f"/cases/{case_id}")
    check_page(page, "807-case")
    page.get_by_role("link", name="Ask another authority").click()
    check_page(page, "807-compose")
    page.get_by_label("Test LA 806 (806)").check()
    page.get_by_role("button", name="Continue").click()
    _heading(page, "Check before you send")
    expect(page.locator("#recipient")).to_contain_text(b.url)
    check_page(page, "807-check")
    page.get_by_role("button", name="Send enquiry").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Enquiry sent")
    check_page(page, "807-sent")
    # The exchange's timer runs: a signed receipt from 806 confirms the delivery.
    assert deliver_due(web.engine, web.settings).delivered == 1

    # LA 806's officer answers in 806's console.
    _sign_in_at(page, console_806.url, "bella")
    expect(page.locator("#nav-exchange")).to_contain_text("(1")
    _nav(page, "Exchange")
    _heading(page, "Exchange")
    check_page(page, "806-exchange")
    page.locator("#count-enquiries a").click()
    check_page(page, "806-answers")
    page.locator("#enquiries-table").get_by_role("link", name=re.compile("^Answer")).click()
    _heading(page, "Enquiry about Amelia Testwell")
    expect(page.locator("#asked")).to_contain_text("3 April 2015")
    check_page(page, "806-enquiry")
    page.get_by_label("On roll at a school").check()
    page.get_by_label("School LAESTAB").fill("8063001")
    page.get_by_label("School name (optional)").fill("Example Primary")
    page.get_by_label("Day").fill("6")
    page.get_by_label("Month").fill("1")
    page.get_by_label("Year").fill("2025")
    page.get_by_role("button", name="Send this answer").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("will be sent to")
    check_page(page, "806-answered")
    assert deliver_due(b.engine, b.settings).delivered == 1

    # Back at 807: the answer has arrived; the officer approves it and the case closes.
    sign_in_here(page, "olivia")
    expect(page.locator("#nav-exchange")).to_contain_text("(1")
    _nav(page, "Exchange")
    check_page(page, "807-exchange")
    page.locator("#count-answers a").click()
    check_page(page, "807-answers")
    page.locator("#partner-answers-table").get_by_role("link", name=re.compile("^Review")).click()
    _heading(page, "Answer about Amelia Testwell")
    expect(page.locator("#said")).to_contain_text("On roll at a school")
    expect(page.locator("#consequence")).to_contain_text(f"Case CME-{case_id} closes")
    check_page(page, "807-answer")
    page.get_by_role("button", name="Approve the answer").click()
    _heading(page, "Amelia Testwell")
    expect(page.locator("#case-outcome")).to_contain_text("another")
    check_page(page, "807-case-closed")

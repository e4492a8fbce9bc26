"""The exchange in a real browser: ask another authority (with the check page), approve a
partner's answer, the partner directory and the quarantine; then the officer's day across two
running instances, LA 807 and LA 806, over HTTPS and over mail on loopback, each officer
working in their own console."""

from __future__ import annotations

import dataclasses
import re
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gateway import outbox
from gateway.db import session_scope, utcnow
from gateway.exchange import service, working
from gateway.exchange.keys import init_keys
from gateway.exchange.partners import add_partner
from gateway.intake.dispatch import dispatch_safely
from gateway.intake.rawstore import Arrival, RawStore
from gateway.models.intake import IntakeChannel, Outcome
from gateway.totp import TotpVault
from gateway.users import Role, add_user
from tests.gateway.exchange.instances import Instance, env_for, make_instance, serve, tls_files
from tests.support.browser import AXE, AXE_PATH, check_page, expect, expect_errors_described
from tests.support.browser import sign_in as sign_in_here
from tests.web import exchange_support as ex
from tests.web.conftest import PASSWORD, WebEnv, totp_now

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


class Relay:
    """The smarthost both instances send mail through: a real SMTP server on loopback that
    keeps each message with its envelope recipients, for the test to hand to the addressee."""

    def __init__(self) -> None:
        self.messages: list[tuple[tuple[str, ...], bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        rcpt = tuple(str(r).lower() for r in envelope.rcpt_tos)  # type: ignore[attr-defined]
        self.messages.append((rcpt, envelope.content))  # type: ignore[attr-defined]
        return "250 OK"

    def take(self, rcpt: str) -> list[bytes]:
        """The messages addressed to `rcpt`, taken out of the relay."""
        mine = [data for to, data in self.messages if rcpt in to]
        self.messages = [(to, data) for to, data in self.messages if rcpt not in to]
        return mine


@dataclass
class Console:
    """One instance's console for the browser (plain HTTP on loopback)."""

    url: str
    server: WebServer


@dataclass
class Pair:
    """LA 807 (the `web` app, its console the `page` fixture's) and LA 806 beside it, each
    knowing the other by `channel`: `https` (each posts to the other's /exchange) or `mail`
    (each knows only the other's CME lead mailbox; mail goes through the relay)."""

    a: Instance
    b: Instance
    console_806: Console
    channel: str
    relay: Relay


@pytest.fixture
def relay() -> Iterator[tuple[Relay, str]]:
    from aiosmtpd.controller import Controller

    box = Relay()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, f"127.0.0.1:{port}"
    finally:
        controller.stop()


@pytest.fixture(params=["https", "mail"])
def pair(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    web: WebEnv,
    page: Page,
    relay: tuple[Relay, str],
) -> Iterator[Pair]:
    """LA 806 running beside us (807): each pins the other's certificate; 806's console is
    served for the browser too, under its own cookie name so both officers stay signed in
    (the two consoles share the host 127.0.0.1, and cookies do not tell ports apart)."""
    from web.app import create_app
    from web.server import WebServer

    channel = str(request.param)
    box, relay_at = relay
    tls = tls_files(tmp_path)
    url = f"sqlite:///{tmp_path / 'la806.db'}"
    b = make_instance("806", tmp_path, url, env_for("806", tmp_path / "home806", url, relay_at))
    ours = dataclasses.replace(
        web.settings, smtp=dataclasses.replace(web.settings.smtp, relay=relay_at)
    )
    a = Instance("807", web.settings.home, ours, web.engine)
    init_keys(web.settings.keys_dir, la_code="807", la_name="Redcar and Cleveland",
              email="cme@redcar-cleveland.example")  # fmt: skip
    app_806 = create_app(b.settings, b.engine)
    app_806.config["SESSION_COOKIE_NAME"] = "cme_session_806"
    console = WebServer(app_806, "127.0.0.1", 0).start()
    try:
        for inst in (a, b):
            serve(inst, tls)
            shutil.copy(tls[0], inst.home / "exchange" / "https-ca.pem")
        for me, other, name in ((a, b, "Test LA 806"), (b, a, "Redcar and Cleveland")):
            with session_scope(me.engine) as s:
                add_partner(
                    s, me.settings, la_code=other.la, name=name,
                    email=f"cme@la{other.la}.example", cert_bytes=other.cert_pem(),
                    url=other.url if channel == "https" else None,
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
        yield Pair(a, b, Console(home, console), channel, box)
    finally:
        console.stop()
        for inst in (a, b):
            inst.stop_server()
        b.engine.dispose()


def _post(pair: Pair, sender: Instance, to: Instance) -> list[str]:
    """The sender's outbox goes to the relay; the mail server hands what is addressed to
    `to`'s CME lead to `to`'s intake (raw store, then the dispatch job): the verdicts."""
    outbox.send_due(sender.engine, sender.settings)
    mails = pair.relay.take(f"cme@la{to.la}.example")
    assert mails, f"nothing was mailed from LA {sender.la} to LA {to.la}"
    verdicts = []
    for mail in mails:
        assert b"Amelia" not in mail and b"Testwell" not in mail  # nothing in clear
        store = RawStore(to.settings.home, to.engine)
        try:
            stored = store.store(
                mail,
                Arrival(
                    IntakeChannel.SMTP,
                    mail_from=f"cme@la{sender.la}.example",
                    rcpt_tos=(f"cme@la{to.la}.example",),
                ),
            )
        finally:
            store.close()
        with session_scope(to.engine) as s:
            got = dispatch_safely(s, to.settings, stored.raw_id)
        assert got.outcome is Outcome.EXCHANGE, (got.outcome, got.reason)
        verdicts.append(str(got.reason))
    return verdicts


def _exchange_timer(pair: Pair, sender: Instance, to: Instance, rounds: int = 1) -> dict[str, int]:
    """The sender's exchange timer runs (status requests due, then deliveries): one
    document reaches `to`, and `to`'s signed receipt comes back (over HTTPS in the answer
    to the POST; by mail through the relay). The totals of `rounds` rounds."""
    reports = [service.tick(sender.engine, sender.settings) for _ in range(rounds)]
    report = {key: sum(r[key] for r in reports) for key in reports[0]}
    if pair.channel == "https":
        assert (report["delivered"], report["mailed"]) == (1, 0), report
        return report
    assert (report["delivered"], report["mailed"]) == (0, 1), report
    verdicts = _post(pair, sender, to)
    # A receipt still owed for an earlier message may travel with the document.
    assert sorted(verdicts) == ["accepted"] + ["receipt"] * (len(verdicts) - 1), verdicts
    assert _post(pair, to, sender) == ["receipt"]
    return report


def _sign_in_at(page: Page, base: str, username: str) -> None:
    """Sign in on another instance's console."""
    page.goto(base + "/sign-in")
    check_page(page, f"sign-in-{username}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#sign-in").click()
    expect(page.get_by_test_id("signed-in-as")).to_be_visible()
    check_page(page, f"signed-in-{username}")


def _sign_in_with_code(page: Page, username: str, secret: str) -> None:
    """The password, then a code from the authenticator app (read as the field is filled)."""
    page.goto("/sign-in")
    check_page(page, "807-sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#sign-in").click()
    expect(page.get_by_label("Enter your security code")).to_be_visible()
    check_page(page, "807-security-code")
    page.get_by_label("Enter your security code").fill(totp_now(secret))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_test_id("signed-in-as")).to_be_visible()
    _heading(page, "Dashboard")
    check_page(page, "807-dashboard")


def _fill_date(page: Page, prefix: str, day: date) -> None:
    for part in ("day", "month", "year"):
        page.locator(f"#{prefix}-{part}").fill(str(getattr(day, part)))


def _banner(page: Page, text: str) -> None:
    expect(page.locator(".govuk-notification-banner")).to_contain_text(text)


def _answer_at_806(page: Page, pair: Pair, heading: str) -> None:
    """806's officer opens what 807 sent from 806's dashboard (the form is filled after)."""
    page.goto(pair.console_806.url + "/")
    _heading(page, "Dashboard")
    expect(page.locator("#partner-answers")).to_contain_text("1")
    check_page(page, "806-dashboard")
    page.locator("#partner-answers").get_by_role("link").click()
    _heading(page, "Enquiries and answers")
    check_page(page, "806-answers")
    page.locator("#enquiries-table").get_by_role("link", name=re.compile("^Answer")).click()
    _heading(page, heading)
    expect(page.locator("#asked")).to_contain_text("3 April 2015")
    check_page(page, "806-" + heading)


def _review_at_807(page: Page, said: str) -> None:
    """807's officer sees the partner's answer arrive on the dashboard and opens it."""
    page.goto("/")
    _heading(page, "Dashboard")
    expect(page.locator("#nav-exchange")).to_contain_text("(1")
    expect(page.locator("#partner-answers")).to_contain_text("1")
    check_page(page, "807-dashboard-answer-in")
    page.locator("#partner-answers").get_by_role("link").click()
    _heading(page, "Enquiries and answers")
    check_page(page, "807-answers")
    page.locator("#partner-answers-table").get_by_role("link", name=re.compile("^Review")).click()
    _heading(page, "Answer about Amelia Testwell")
    expect(page.locator("#said")).to_contain_text(said)


def test_two_instances_an_officers_day(web: WebEnv, page: Page, pair: Pair) -> None:
    """The officer's day across LA 807 and LA 806 (over HTTPS, then over mail): sign in
    with a code, the dashboard, the case, a phone call and a home visit, an enquiry to 806,
    806's answer (applying for a school place here) approved, the child on the monitoring
    list, a status request sent now, 806's answer (on roll) approved: the case closes."""
    a, b = pair.a, pair.b
    secret = web.add_user("olivia", totp=True)
    assert secret is not None
    case_id = web.add_case(
        carers=[{"name": "Carol Testwell", "relationship": "mother", "phone": "01642 000000"}]
    )
    today = utcnow().date()

    # LA 807's officer signs in with a code and opens the case from the dashboard.
    _sign_in_with_code(page, "olivia", secret)
    expect(page.locator("#team-open")).to_contain_text("1")
    page.locator("#team-open").get_by_role("link").click()
    _heading(page, "Cases")
    check_page(page, "807-cases")
    page.get_by_role("link", name=f"CME-{case_id}", exact=True).click()
    _heading(page, "Amelia Testwell")
    check_page(page, "807-case")

    # A phone call with the parents, then a home visit asked of Choice Advice and its outcome.
    page.locator("#action-parent-call").click()
    _heading(page, "Record an enquiry")
    expect(page.get_by_label("Phone", exact=True)).to_be_checked()
    check_page(page, "807-phone-call")
    _fill_date(page, "contact_on", today)
    page.locator("#outcome").fill("Mother answered: the family has moved to Test LA 806")
    page.locator("#contact").fill("Carol Testwell")
    page.locator("#save").click()
    _banner(page, "Phone call with the parents recorded.")
    expect(page.locator("#enquiries")).to_contain_text("Parent or carer (Carol Testwell)")
    check_page(page, "807-case-after-phone-call")
    page.locator("#action-home-visit").click()
    _heading(page, "Request a home visit")
    check_page(page, "807-home-visit-request")
    page.get_by_label("Choice Advice").check()
    _fill_date(page, "visit_by", today + timedelta(days=10))
    page.locator("#save").click()
    _banner(page, "Home visit requested from Choice Advice")
    check_page(page, "807-case-visit-requested")
    page.locator("#action-home-visit-outcome").click()
    _heading(page, "Record a home visit")
    check_page(page, "807-home-visit")
    page.get_by_label("Family seen, child not seen").check()
    _fill_date(page, "visited_on", today)
    page.get_by_label("Note (optional)").fill("A neighbour says the family left for LA 806")
    page.locator("#save").click()
    _banner(page, "Home visit recorded: Family seen, child not seen.")
    expect(page.locator("#work")).to_contain_text("Home visit: Family seen, child not seen")
    check_page(page, "807-case-visit-recorded")

    # The officer asks LA 806.
    page.get_by_role("link", name="Ask another authority").click()
    check_page(page, "807-compose")
    page.get_by_label("Test LA 806 (806)").check()
    page.get_by_role("button", name="Continue").click()
    _heading(page, "Check before you send")
    expect(page.locator("#recipient")).to_contain_text(
        b.url if pair.channel == "https" else "cme@la806.example"
    )
    check_page(page, "807-check")
    page.get_by_role("button", name="Send enquiry").click()
    _banner(page, "Enquiry sent")
    check_page(page, "807-sent")
    _exchange_timer(pair, a, b)

    # LA 806's officer answers: the family is here, applying for a school place.
    _sign_in_at(page, pair.console_806.url, "bella")
    expect(page.locator("#nav-exchange")).to_contain_text("(1")
    _nav(page, "Exchange")
    _heading(page, "Exchange")
    check_page(page, "806-exchange")
    page.locator("#count-enquiries a").click()
    check_page(page, "806-answers-first")
    page.locator("#enquiries-table").get_by_role("link", name=re.compile("^Answer")).click()
    _heading(page, "Enquiry about Amelia Testwell")
    expect(page.locator("#asked")).to_contain_text("3 April 2015")
    check_page(page, "806-enquiry")
    page.get_by_label("Applying for a school place").check()
    page.get_by_role("button", name="Send this answer").click()
    _banner(page, "will be sent to")
    check_page(page, "806-answered")
    _exchange_timer(pair, b, a)

    # At 807 the answer has arrived; approved, the child goes on the monitoring list.
    _review_at_807(page, "Applying for a school place")
    expect(page.locator("#consequence")).to_contain_text(
        f"Case CME-{case_id} goes on the monitoring list with Test LA 806 (LA 806)"
    )
    check_page(page, "807-answer-applying")
    page.get_by_role("button", name="Approve the answer").click()
    _heading(page, "Amelia Testwell")
    expect(page.locator("#timeline")).to_contain_text(
        "Answer from LA 806 approved: Applying for a school place"
    )
    check_page(page, "807-case-monitored")
    _nav(page, "Monitoring")
    _heading(page, "Monitoring")
    row = page.locator(f"#monitored-{case_id}")
    expect(row).to_contain_text("Amelia Testwell")
    expect(row).to_contain_text("Test LA 806 (806)")
    check_page(page, "807-monitoring")
    row.get_by_role("button", name=re.compile("Send a status request now")).click()
    _banner(page, "A status request about Amelia Testwell will be sent to Test LA 806")
    check_page(page, "807-status-requested")
    # Two rounds: a status request queued in one round is sent in the next (the round
    # delivers what was due when it began).
    assert _exchange_timer(pair, a, b, rounds=2)["status_requests"] == 1

    # 806's officer answers the status request: the child is on roll at one of its schools.
    _answer_at_806(page, pair, "Status request about Amelia Testwell")
    page.get_by_label("On roll at a school").check()
    page.get_by_label("School LAESTAB").fill("8063001")
    page.get_by_label("School name (optional)").fill("Example Primary")
    page.get_by_label("Day").fill("6")
    page.get_by_label("Month").fill("1")
    page.get_by_label("Year").fill("2025")
    page.get_by_role("button", name="Send this answer").click()
    _banner(page, "will be sent to")
    check_page(page, "806-answered-status")
    _exchange_timer(pair, b, a)

    # Back at 807: the officer approves the placement; the case closes, monitoring ends.
    _review_at_807(page, "On roll at a school")
    expect(page.locator("#said")).to_contain_text("8063001 (Example Primary)")
    expect(page.locator("#consequence")).to_contain_text(f"Case CME-{case_id} closes")
    check_page(page, "807-answer")
    page.get_by_role("button", name="Approve the answer").click()
    _heading(page, "Amelia Testwell")
    expect(page.locator("#case-outcome")).to_contain_text("another")
    check_page(page, "807-case-closed")
    _nav(page, "Monitoring")
    _heading(page, "Monitoring")
    expect(page.locator("#none-monitored")).to_be_visible()
    check_page(page, "807-monitoring-after")

"""Ask another authority from a case: choose the partner, check before you send, send."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.cases.service import close_case
from gateway.exchange.labels import CHANNELS, DISCLOSED
from gateway.exchange.records import LAWFUL_BASIS
from gateway.models.case import TimelineEntry
from gateway.models.exchange import Disclosure, ExchangeMessage
from tests.web import exchange_support as ex
from tests.web.conftest import Page, WebClient, WebEnv


@pytest.fixture
def case_id(web: WebEnv) -> int:
    """Our exchange set up, three partners (806 fine, 805 expiring soon, 808 expired)."""
    ex.set_up_exchange(web)
    ex.add(web, "806")
    ex.add(web, "805", "soon")
    ex.add(web, "808", "expired")
    return web.add_case("Amelia", "Testwell")


def _count(web: WebEnv, model: type) -> int:
    with web.session() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def _disclosed(page: Page) -> dict[str, str]:
    rows = page.doc.xpath("//dl[@id='disclosed']/div")
    return {
        " ".join(r.xpath("string(dt)").split()): " ".join(r.xpath("string(dd)").split())
        for r in rows
    }


def _hidden(page: Page, action: str) -> dict[str, str]:
    [form] = page.doc.xpath(f"//form[@action='{action}']")
    return {i.get("name"): i.get("value") or "" for i in form.xpath(".//input[@type='hidden']")}


def test_the_case_page_links_to_the_enquiry(web: WebEnv, officer: WebClient, case_id: int) -> None:
    page = officer.get(f"/cases/{case_id}")
    [link] = page.doc.xpath("//a[@id='ask-another-authority']")
    assert link.text_content() == "Ask another authority"
    assert link.get("href") == f"/cases/{case_id}/enquiry"


def test_partners_by_name_and_code_an_expired_one_cannot_be_chosen(
    web: WebEnv, officer: WebClient, case_id: int
) -> None:
    page = officer.get(f"/cases/{case_id}/enquiry")
    assert page.h1 == "Ask another authority about Amelia Testwell"
    assert page.title.startswith("Ask another authority about Amelia Testwell – ")
    labels = [" ".join(x.split()) for x in page.doc.xpath("//div[@id='partners']//label/text()")]
    assert labels == ["Test LA 805 (805)", "Test LA 806 (806)", "Test LA 808 (808)"]
    [expired] = page.doc.xpath("//input[@value='808']")
    assert expired.get("disabled") is not None
    assert "Cannot be chosen: its certificate expired on" in page.text("//div[@data-partner='808']")
    assert page.doc.xpath("//input[@value='806']")[0].get("disabled") is None
    assert "Their certificate expires on" in page.text("//div[@data-partner='805']")
    assert CHANNELS["https"] in page.text("//div[@data-partner='806']")
    [entry] = web.audit("enquiry.compose.view")
    assert (entry.actor, entry.entity_id) == ("olivia", str(case_id))
    # Posted anyway (a stale page, a crafted post): refused with the reason, nothing queued.
    refused = officer.post(f"/cases/{case_id}/enquiry", {"partner": "808"}, status=400)
    assert "its certificate has expired" in refused.error_links()["partner"]
    refused = officer.post(f"/cases/{case_id}/enquiry/send", {"partner": "808"}, status=400)
    assert "expired" in refused.error_links()["partner"]
    assert _count(web, ExchangeMessage) == 0


def test_check_before_you_send_shows_the_fields_and_basis_and_sends_nothing(
    web: WebEnv, officer: WebClient, case_id: int
) -> None:
    note = "Thought to be staying with an aunt in your area."
    check = officer.post(f"/cases/{case_id}/enquiry", {"partner": "806", "note": note}, status=200)
    assert check.h1 == "Check before you send"
    assert _disclosed(check) == {
        "First name": "Amelia",
        "Last name": "Testwell",
        "Date of birth": "3 April 2015",
        "Address": "1 Synthetic Street, Redcar, TS10 1AA",
        "Your note": note,
        "Our reference": f"CME-{case_id}",
    }
    recipient = check.text("//dl[@id='recipient']")
    assert "Test LA 806 (LA 806)" in recipient
    assert CHANNELS["https"] in recipient and "https://la806.example/exchange" in recipient
    basis = check.text("//div[@id='lawful-basis']")
    assert basis.startswith("Public task: UK GDPR Art 6(1)(e)")
    assert LAWFUL_BASIS in basis
    # Nothing has left yet: no message, no disclosure; the page itself is on record.
    assert _count(web, ExchangeMessage) == 0 and _count(web, Disclosure) == 0
    [viewed] = web.audit("enquiry.check.view")
    assert viewed.detail == {"partner_la": "806"}

    send = f"/cases/{case_id}/enquiry/send"
    done = officer.post(send, _hidden(check, send))
    assert done.response.headers["Location"] == f"/cases/{case_id}"
    with web.session() as s:
        [row] = s.execute(select(ExchangeMessage)).scalars()
        assert (row.direction, row.partner_la, row.channel, row.status, row.doc_type) == (
            "out", "806", "https", "queued", "enquiry",
        )  # fmt: skip
        [disclosure] = s.execute(select(Disclosure)).scalars()
        assert disclosure.message_id == row.message_id and disclosure.actor == "olivia"
        assert note.encode() in row.document
        timeline = s.execute(
            select(TimelineEntry.summary).where(TimelineEntry.case_id == case_id)
        ).scalars()
        assert "Enquiry sent to LA 806" in list(timeline)
    # Exactly what the check page showed is what the register says left.
    shown = [k for k in _disclosed(check) if k != "Our reference"]
    assert sorted(shown) == sorted(DISCLOSED[i] for i in disclosure.data_items)
    page = officer.get(f"/cases/{case_id}")
    assert "Enquiry sent to Test LA 806" in page.text(
        "//div[contains(@class,'govuk-notification-banner')]"
    )


def test_a_partner_without_https_is_asked_by_secure_email(
    web: WebEnv, officer: WebClient, case_id: int
) -> None:
    ex.add(web, "809", url=False)
    check = officer.post(f"/cases/{case_id}/enquiry", {"partner": "809"}, status=200)
    recipient = check.text("//dl[@id='recipient']")
    assert CHANNELS["mail"] in recipient and "cme@la809.example" in recipient
    assert "Your note" not in _disclosed(check)
    send = f"/cases/{case_id}/enquiry/send"
    officer.post(send, _hidden(check, send))
    with web.session() as s:
        [row] = s.execute(select(ExchangeMessage)).scalars()
        assert (row.partner_la, row.channel) == ("809", "mail")


def test_change_goes_back_to_the_form_with_the_choices(
    web: WebEnv, officer: WebClient, case_id: int
) -> None:
    back = officer.post(
        f"/cases/{case_id}/enquiry", {"partner": "806", "note": "A note", "change": "1"},
        status=200,
    )  # fmt: skip
    assert back.h1.startswith("Ask another authority")
    assert back.doc.xpath("//input[@value='806']")[0].get("checked") is not None
    assert back.text("//textarea[@id='note']") == "A note"
    assert not back.error_links()


def test_mistakes_are_shown_and_nothing_is_sent(
    web: WebEnv, officer: WebClient, case_id: int
) -> None:
    page = officer.post(f"/cases/{case_id}/enquiry", {}, status=400)
    assert page.error_links() == {"partner": "Choose the authority to ask"}
    page = officer.post(
        f"/cases/{case_id}/enquiry", {"partner": "806", "note": "x" * 1001}, status=400
    )
    assert page.error_links() == {"note": "The note must be 1000 characters or fewer"}
    page = officer.post(f"/cases/{case_id}/enquiry", {"partner": "123"}, status=400)
    assert page.error_links() == {"partner": "Choose an authority from the partner directory"}
    assert _count(web, ExchangeMessage) == 0
    officer.get("/cases/9999/enquiry", status=404)


def test_a_closed_case_asks_nobody(web: WebEnv, officer: WebClient, case_id: int) -> None:
    with web.session() as s:
        close_case(s, web.settings, case_id, "left_england", {}, "test")
        s.commit()
    page = officer.post(f"/cases/{case_id}/enquiry", {"partner": "806"}, status=400)
    assert "is closed" in page.error_links()["partner"]
    assert _count(web, ExchangeMessage) == 0

"""The monitoring list: children who moved out of area, overdue first; request now; stop."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from gateway.db import utcnow
from gateway.exchange import monitoring
from gateway.exchange.partners import add_partner
from gateway.models.case import TimelineEntry
from gateway.models.exchange import Monitoring
from tests.gateway.exchange.conftest import make_identity
from tests.web.conftest import WebClient, WebEnv


@cache
def _certificate(la: str) -> bytes:
    return make_identity(la).certificate.public_bytes(serialization.Encoding.PEM)


def monitored(web: WebEnv, forename: str, *, la: str = "806", overdue: bool = False) -> int:
    """A case whose child moved to LA `la`, on the monitoring list (as an approved answer
    puts it there); `overdue`: its status request's day has passed."""
    case_id = web.add_case(forename, "Testmover")
    with web.session() as s:
        add_partner(
            s, web.settings, la_code=la, name=f"Test LA {la}", email=f"cme@la{la}.example",
            cert_bytes=_certificate(la),
        )  # fmt: skip
        row = monitoring.start(s, web.settings, case_id, la, "test")
        if overdue:
            row.next_check_at = utcnow() - timedelta(days=1)
        s.commit()
    return case_id


def _row(web: WebEnv, case_id: int) -> Monitoring:
    with web.session() as s:
        return s.execute(select(Monitoring).where(Monitoring.case_id == case_id)).scalar_one()


def test_the_list_shows_each_child_by_partner_overdue_first(
    web: WebEnv, officer: WebClient
) -> None:
    on_time = monitored(web, "Ava")
    late = monitored(web, "Ben", la="808", overdue=True)
    page = officer.get("/monitoring")
    assert page.h1 == "Monitoring"
    assert page.title.startswith("Monitoring – ")
    rows = page.doc.xpath("//table[@id='monitored']/tbody/tr/@id")
    assert rows == [f"monitored-{late}", f"monitored-{on_time}"]
    first = page.text(f"//tr[@id='monitored-{late}']")
    assert "Ben Testmover" in first and "Test LA 808 (808)" in first
    assert "Not yet" in first  # never confirmed
    assert page.doc.xpath(f"//tr[@id='monitored-{late}']//*[@data-marker='overdue']")
    assert not page.doc.xpath(f"//tr[@id='monitored-{on_time}']//*[@data-marker='overdue']")
    due = _row(web, on_time).next_check_at.astimezone(ZoneInfo(web.settings.core.timezone))
    assert f"{due.day} {due:%B %Y}" in page.text(f"//tr[@id='monitored-{on_time}']")
    assert page.doc.xpath(f"//tr[@id='monitored-{late}']//a[@href='/cases/{late}']")
    assert page.text("//*[@id='monitored-count']") == "2 children monitored, 1 overdue"
    [entry] = web.audit("monitoring.view")
    assert entry.actor == "olivia" and entry.detail == {"page": 1, "cases": [late, on_time]}
    for href in set(page.doc.xpath("//table[@id='monitored']//a/@href")):
        officer.get(href)


def test_an_empty_list_says_so(officer: WebClient) -> None:
    page = officer.get("/monitoring")
    assert page.text("//*[@id='none-monitored']") == "No children are being monitored out of area."


def test_send_a_status_request_now(web: WebEnv, officer: WebClient) -> None:
    case_id = monitored(web, "Ava")
    page = officer.get("/monitoring")
    [action] = page.doc.xpath(f"//tr[@id='monitored-{case_id}']//form/@action")
    assert action == f"/monitoring/{case_id}/request"
    before = utcnow()
    done = officer.post(action, {})
    assert done.response.headers["Location"] == "/monitoring"
    assert _row(web, case_id).next_check_at <= utcnow()
    assert _row(web, case_id).next_check_at >= before - timedelta(seconds=1)
    [entry] = web.audit("monitoring.request_now")
    assert entry.actor == "olivia" and entry.entity_id == str(case_id)
    banner = officer.get("/monitoring").text(
        "//div[contains(@class,'govuk-notification-banner--success')]"
    )
    assert "A status request about Ava Testmover will be sent to Test LA 806" in banner
    officer.post("/monitoring/9999/request", {}, status=404)


def test_stop_monitoring_needs_a_reason(web: WebEnv, officer: WebClient) -> None:
    case_id = monitored(web, "Ava")
    page = officer.get("/monitoring")
    [href] = page.doc.xpath(f"//tr[@id='monitored-{case_id}']//a[starts-with(., 'Stop')]/@href")
    confirm = officer.get(href)
    assert confirm.h1 == "Stop monitoring Ava Testmover"
    assert confirm.doc.xpath("//main//form/@action") == [f"/monitoring/{case_id}/stop"]
    assert "Test LA 806 (806)" in confirm.text("//main")

    empty = officer.post(href, {"reason": "   "}, status=400)
    assert empty.error_links() == {"reason": "Enter why monitoring stops"}
    assert empty.h1 == "Stop monitoring Ava Testmover"
    too_long = officer.post(href, {"reason": "x" * 201}, status=400)
    assert too_long.error_links() == {"reason": "The reason must be 200 characters or fewer"}
    assert _row(web, case_id).status == "active"
    assert web.audit("monitoring.stop") == []


def test_stop_monitoring_with_a_reason(web: WebEnv, officer: WebClient) -> None:
    case_id = monitored(web, "Ava")
    other = monitored(web, "Ben")
    reason = "LA 806 says the family moved on to Scotland"
    done = officer.post(f"/monitoring/{case_id}/stop", {"reason": reason})
    assert done.response.headers["Location"] == "/monitoring"
    row = _row(web, case_id)
    assert (row.status, row.closed_reason) == ("closed", reason)
    [entry] = web.audit("monitoring.stop")
    assert entry.actor == "olivia" and entry.detail == {"reason": reason}
    with web.session() as s:
        summaries = s.execute(
            select(TimelineEntry.summary).where(
                TimelineEntry.case_id == case_id, TimelineEntry.kind == "monitoring"
            )
        ).scalars()
        assert list(summaries) == [f"Monitoring with LA 806 stopped: {reason}"]
    page = officer.get("/monitoring")
    assert "Monitoring stopped for Ava Testmover. The case stays open." in page.text("//main")
    assert page.doc.xpath("//table[@id='monitored']/tbody/tr/@id") == [f"monitored-{other}"]
    # Stopped: neither page acts on it again.
    officer.get(f"/monitoring/{case_id}/stop", status=404)
    officer.post(f"/monitoring/{case_id}/stop", {"reason": "again"}, status=404)

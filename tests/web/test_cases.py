"""The case pages: list, filter, paginate, view (audited), move and close."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway import audit
from gateway.cases import service
from gateway.models.case import Case
from gateway.users import Role
from tests.web.conftest import WebClient, WebEnv


def test_case_list_shows_cases_and_is_audited(web: WebEnv, officer: WebClient) -> None:
    first = web.add_case("Amelia", "Testwell")
    second = web.add_case("Bartholomew", "Fictius", dob="2013-01-20")
    page = officer.get("/cases")
    assert page.title.startswith("Cases")
    rows = page.doc.xpath("//table[@id='cases']/tbody/tr")
    assert len(rows) == 2
    assert "Bartholomew Fictius" in page.text("//table[@id='cases']")
    assert page.doc.xpath(f"//a[@href='/cases/{first}']")
    tags = page.doc.xpath("//strong[@data-status='logged']/@class")
    assert tags and "govuk-tag--blue" in tags[0]
    entries = web.audit("case.list")
    assert entries[-1].actor == "olivia"
    assert entries[-1].detail["cases"] == [first, second]


def test_filter_by_status(web: WebEnv, officer: WebClient) -> None:
    web.add_case("Amelia", "Testwell")
    moved = web.add_case("Bartholomew", "Fictius")
    with web.session() as s:
        service.move_case(s, web.settings, moved, "locating", actor="test")
        s.commit()
    page = officer.get("/cases?status=locating")
    assert page.text("//p[@id='case-count']") == "1 case with status Locating the child and family"
    assert "Fictius" in page.text("//table[@id='cases']")
    assert "Testwell" not in page.text("//table[@id='cases']")
    assert page.doc.xpath("//select[@id='status']/option[@selected]/@value") == ["locating"]


def test_unknown_status_filter_is_an_error(web: WebEnv, officer: WebClient) -> None:
    page = officer.get("/cases?status=nonsense", status=400)
    assert page.error_links() == {"status": "Select a status from the list"}


def test_pagination(web: WebEnv, officer: WebClient) -> None:
    for i in range(27):
        web.add_case("Child", f"Synthetic{i:02d}")
    one = officer.get("/cases")
    assert len(one.doc.xpath("//table[@id='cases']/tbody/tr")) == 25
    assert one.doc.xpath("//a[@rel='next']/@href") == ["/cases?page=2"]
    two = officer.get("/cases?page=2")
    assert len(two.doc.xpath("//table[@id='cases']/tbody/tr")) == 2
    assert two.doc.xpath("//a[@aria-current='page']/text()") == ["2"]
    officer.get("/cases?page=3", status=404)
    officer.get("/cases?page=0", status=404)
    officer.get("/cases?page=abc", status=404)


def test_case_view_shows_the_record_and_who_viewed(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case(
        "Amelia",
        "Testwell",
        carers=[{"name": "Carol Testwell", "relationship": "mother", "phone": "01642 000000"}],
        siblings=[{"name": "Ben Testwell", "school": "Synthetic Primary"}],
    )
    with web.session() as s:
        service.record_enquiry(
            s,
            case_id,
            agency="health",
            method="phone",
            at=datetime(2026, 11, 3, 10, 0, tzinfo=UTC),
            outcome="Not registered with a GP",
            contact="Health visitor team",
            actor="olivia",
        )
        s.commit()
    page = officer.get(f"/cases/{case_id}")
    assert page.title.startswith(f"Case CME-{case_id}")
    assert page.h1 == "Amelia Testwell"
    child = page.text("//dl[@id='child']")
    assert "3 April 2015" in child and "TS10 1AA" in child
    assert "Carol Testwell" in page.text("//table[@id='carers']")
    assert "Ben Testwell" in page.text("//ul[@id='siblings']")
    assert "Ann Head" in page.text("//div[@id='referrals']")
    assert "Send the referrer a progress update" in page.text("//table[@id='tasks']")
    assert "Referral received by email" in page.text("//ol[@id='timeline']")
    assert "Not registered with a GP" in page.text("//table[@id='enquiries']")
    assert "olivia" in page.text("//table[@id='viewers']")
    assert page.response.headers["Cache-Control"] == "no-store"
    views = web.audit("case.view")
    assert [(v.actor, v.entity_id) for v in views] == [("olivia", str(case_id))]
    with web.session() as s:
        assert audit.verify(s).ok


def test_missing_case_is_404(officer: WebClient) -> None:
    officer.get("/cases/99999", status=404)


def test_move_case(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    form = officer.get(f"/cases/{case_id}/move")
    options = form.doc.xpath("//input[@name='status']/@value")
    assert options == ["checking_status", "locating"]
    done = officer.post(f"/cases/{case_id}/move", {"status": "locating"})
    assert done.response.headers["Location"] == f"/cases/{case_id}"
    page = officer.get(f"/cases/{case_id}")
    assert page.doc.xpath("//p[@id='case-status']//strong/@data-status") == ["locating"]
    assert "moved to Locating" in page.text("//div[contains(@class,'govuk-notification-banner')]")
    assert web.audit("case.move")[-1].detail == {"from": "logged", "to": "locating"}


def test_move_not_allowed_is_explained(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    officer.get(f"/cases/{case_id}/move")
    page = officer.post(f"/cases/{case_id}/move", {"status": "placed_monitoring"}, status=400)
    assert "cannot move from logged to placed_monitoring" in page.error_links()["status"]
    empty = officer.post(f"/cases/{case_id}/move", {}, status=400)
    assert empty.error_links() == {"status": "Select the status to move the case to"}
    with web.session() as s:
        assert s.get(Case, case_id).status == "logged"


def test_close_case_needs_its_details(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    page = officer.get(f"/cases/{case_id}/close")
    assert "on_roll_this_la" in page.doc.xpath("//input[@name='outcome']/@value")
    missing = officer.post(
        f"/cases/{case_id}/close", {"outcome": "on_roll_this_la", "school": ""}, status=400
    )
    assert "needs: school, start_date" in next(iter(missing.error_links().values()))
    bad_date = officer.post(
        f"/cases/{case_id}/close",
        {
            "outcome": "on_roll_this_la",
            "school": "Synthetic Academy",
            "start_date-day": "31",
            "start_date-month": "2",
            "start_date-year": "2026",
        },
        status=400,
    )
    assert "start_date-day" in bad_date.error_links()
    officer.post(
        f"/cases/{case_id}/close",
        {
            "outcome": "on_roll_this_la",
            "school": "Synthetic Academy",
            "start_date-day": "3",
            "start_date-month": "11",
            "start_date-year": "2026",
        },
    )
    page = officer.get(f"/cases/{case_id}")
    assert "On roll at a school in this LA" in page.text("//div[@id='case-outcome']")
    assert not page.doc.xpath("//a[@id='close-case']")
    with web.session() as s:
        case = s.get(Case, case_id)
        assert case.status == "closed"
        assert case.outcome_detail == {"school": "Synthetic Academy", "start_date": "2026-11-03"}


def test_no_trace_needs_a_manager(web: WebEnv, client: WebClient) -> None:
    case_id = web.add_case()
    with web.session() as s:
        # "No trace" also needs the enquiries the policy lists (casework.no_trace_after).
        for agency in web.settings.casework.no_trace_after:
            service.record_enquiry(
                s, case_id, agency=agency, method="phone", at=datetime(2026, 11, 3, tzinfo=UTC),
                outcome="Not known to them", contact=None, actor="olivia",
            )  # fmt: skip
        s.commit()
    web.add_user("olivia")
    web.add_user("martha", Role.MANAGER)
    client.sign_in("olivia")
    client.get(f"/cases/{case_id}/close")
    refused = client.post(f"/cases/{case_id}/close", {"outcome": "no_trace"}, status=400)
    assert "Only a manager" in refused.error_links()["outcome"]
    client.post("/sign-out", {})
    client.sign_in("martha")
    client.get(f"/cases/{case_id}/close")
    client.post(f"/cases/{case_id}/close", {"outcome": "no_trace"})
    with web.session() as s:
        case = s.get(Case, case_id)
        assert (case.status, case.closed_by, case.signed_off_by) == ("closed", "martha", "martha")


def test_times_are_shown_on_the_local_clock(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    with web.session() as s:
        service.record_enquiry(
            s,
            case_id,
            agency="school",
            method="phone",
            at=datetime(2026, 7, 1, 10, 0, tzinfo=UTC),  # British Summer Time: 11:00 locally
            outcome="Left in June",
            contact=None,
            actor="olivia",
        )
        s.commit()
    page = officer.get(f"/cases/{case_id}")
    assert "1 July 2026 at 11:00am" in page.text("//table[@id='enquiries']")


def test_the_list_puts_urgent_cases_first_and_filters_by_officer(
    web: WebEnv, officer: WebClient
) -> None:
    from gateway.cases.allocation import allocate

    routine = web.add_case("Ava")
    urgent = web.add_case("Ben", urgency="urgent")
    safeguarding = web.add_case("Cal", urgency="safeguarding")
    with web.session() as s:
        allocate(s, routine, "olivia", "manager")
        allocate(s, safeguarding, "olivia", "manager")
        s.commit()
    page = officer.get("/cases")
    ids = [a.text for a in page.doc.xpath("//table[@id='cases']//tbody//td[1]/a")]
    assert ids == [f"CME-{safeguarding}", f"CME-{urgent}", f"CME-{routine}"]
    mine = officer.get("/cases?officer=olivia")
    assert mine.text("//p[@id='case-count']") == "2 cases, allocated to Olivia Tester"
    nobody = officer.get("/cases?officer=_nobody")
    assert nobody.text("//p[@id='case-count']") == "1 case, not allocated"
    bad = officer.get("/cases?officer=mallory", status=400)
    assert bad.error_links() == {"officer": "Select an officer from the list"}

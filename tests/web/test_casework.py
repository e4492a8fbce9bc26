"""The case page as the place of work: each action of steps 3 to 7 a GOV.UK form posting to
one service function, its refusals beside the box they concern, success back on the case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gateway.cases import service
from gateway.cases.merge import merge_cases
from gateway.db import utcnow
from gateway.models.audit import AuditEntry
from gateway.models.case import Case, EnquiryLogEntry, Task, TimelineEntry
from gateway.models.casework import CaseStep, OnwardReferral
from gateway.models.exchange import Disclosure
from gateway.models.ops import OutboxMessage
from gateway.users import Role
from tests.web.conftest import Page, WebClient, WebEnv

AWS = "aws@redcar-cleveland.example"
TODAY = utcnow().date()
SOON = TODAY + timedelta(days=10)


@pytest.fixture(autouse=True)
def _teams(monkeypatch: pytest.MonkeyPatch) -> None:
    """Attendance & Welfare has an address (referrals go by email); the other teams have
    none, so theirs are printed. Set before the `web` fixture reads the settings."""
    monkeypatch.setenv("CME_TEAMS_ATTENDANCE_WELFARE", AWS)


def _date(prefix: str, d: Any) -> dict[str, str]:
    return {f"{prefix}-day": str(d.day), f"{prefix}-month": str(d.month),
            f"{prefix}-year": str(d.year)}  # fmt: skip


def _done(client: WebClient, case_id: int, path: str, data: dict[str, str]) -> Page:
    """Post a form that succeeds: back to the case, which shows the success banner."""
    sent = client.post(f"/cases/{case_id}/{path}", data)
    assert sent.response.headers["Location"] == f"/cases/{case_id}"
    return client.get(f"/cases/{case_id}")


def _banner(page: Page) -> str:
    return page.text(
        "//div[contains(@class,'govuk-notification-banner--success')]"
        "//p[@class='govuk-notification-banner__heading']"
    )


def _steps(web: WebEnv, case_id: int) -> list[CaseStep]:
    with web.session() as s:
        return list(s.execute(select(CaseStep).where(CaseStep.case_id == case_id)).scalars())


def _audited(web: WebEnv, action: str, case_id: int) -> bool:
    return any(e.entity_id == str(case_id) for e in web.audit(action))


def test_what_to_do_next_by_step_each_a_link_to_its_form(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    page = officer.get(f"/cases/{case_id}")
    titles = page.doc.xpath("//div[@id='what-to-do-next']//h3/text()")
    assert [t.strip() for t in titles] == [
        "3. Check educational status", "4. Locate the child and family", "5. Determine needs",
        "6. Identify provision", "7. Track and escalate", "Enquiries and closing",
    ]  # fmt: skip
    links = {a.get("id"): a.get("href") for a in page.doc.xpath("//div[@id='what-to-do-next']//a")}
    base = f"/cases/{case_id}"
    assert links == {
        "action-status-check": f"{base}/status-check",
        "action-parent-call": f"{base}/record-enquiry?agency=parent_carer&method=phone",
        "action-enquiry": f"{base}/record-enquiry",
        "action-home-visit": f"{base}/home-visit",
        "action-home-visit-outcome": f"{base}/home-visit/outcome",
        "action-initial-assessment": f"{base}/assessment?kind=initial",
        "action-early-help": f"{base}/assessment?kind=early_help",
        "action-admissions": f"{base}/admissions",
        "action-escalate": f"{base}/escalate",
        "action-onward": f"{base}/onward",
        "action-enquiries-complete": f"{base}/enquiries-complete",
        "action-close": f"{base}/close",
    }
    # Every form page: a title, a heading, a form posting to a real route (WebClient checks).
    for href in links.values():
        form = officer.get(href)
        assert form.doc.xpath("//form[@method='post']"), href
    assert page.doc.xpath("//a[@id='ask-another-authority']")
    assert page.text("//p[@id='no-work']") == "No work recorded through the process yet."


def test_status_check_on_roll_with_attendance_concerns_refers_to_attendance_and_welfare(
    web: WebEnv, officer: WebClient
) -> None:
    case_id = web.add_case()
    form = officer.get(f"/cases/{case_id}/status-check")
    assert f"by email to {AWS}" in form.text("//div[@id='attendance_concern-hint']")
    bad = officer.post(
        f"/cases/{case_id}/status-check",
        {"result": "on_roll", "checked_on-day": "31", "checked_on-month": "2",
         "checked_on-year": "2026"},
        status=400,
    )  # fmt: skip
    assert bad.error_links() == {
        "school": "Enter the school the child is on roll at",
        "checked_on-day": "The date of the check must be a real date, like 3 9 2026",
    }
    assert bad.doc.xpath("//input[@id='result']/@checked"), "what was typed is kept"
    empty = officer.post(f"/cases/{case_id}/status-check", {}, status=400)
    assert empty.error_links() == {
        "result": "Select what the check found",
        "checked_on-day": "Enter the date of the check",
    }
    page = _done(
        officer, case_id, "status-check",
        {"result": "on_roll", "school": "Kirkleatham Primary", "attendance_concern": "yes",
         "note": "Absent most days since October", **_date("checked_on", TODAY)},
    )  # fmt: skip
    assert _banner(page) == (
        "Status check recorded: On a school roll at Kirkleatham Primary. "
        f"Referral sent to Attendance & Welfare Service by email to {AWS}."
    )
    with web.session() as s:
        [row] = s.execute(select(OnwardReferral)).scalars().all()
        assert (row.case_id, row.team, row.channel, row.recipient) == (
            case_id, "attendance_welfare", "email", AWS,
        )  # fmt: skip
        [register] = s.execute(select(Disclosure)).scalars().all()
        assert (register.kind, register.case_id, register.recipient, register.channel) == (
            "onward_referral", case_id, AWS, "email",
        )  # fmt: skip
        assert "dob" in register.data_items
        outbox = s.get(OutboxMessage, row.outbox_id)
        assert outbox is not None and outbox.to_addrs == [AWS]
    assert _audited(web, "case.status_check", case_id)
    work = page.text("//table[@id='work']")
    assert "Check educational status" in work and "Status check: On a school roll" in work
    assert "School: Kirkleatham Primary" in work and "Olivia Tester" in work
    assert "Attendance & Welfare Service" in page.text("//table[@id='onward']")
    assert page.text("//div[@id='on-roll']//p[@class='govuk-notification-banner__heading']") == (
        f"On roll at Kirkleatham Primary (found by a status check on {TODAY.day} {TODAY:%B %Y})"
    )
    assert "on_roll" not in page.text("//main")


def test_no_evidence_of_education_sets_urgent_parent_contact(
    web: WebEnv, officer: WebClient
) -> None:
    case_id = web.add_case()
    page = _done(
        officer, case_id, "status-check", {"result": "no_evidence", **_date("checked_on", TODAY)}
    )
    assert "Contact the parents urgently" in _banner(page)
    assert "Contact the parents urgently (no evidence of education)" in page.text(
        "//table[@id='tasks']"
    )


def test_a_phone_call_with_the_parents(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    url = f"/cases/{case_id}/record-enquiry"
    form = officer.get(f"{url}?agency=parent_carer&method=phone")
    assert form.doc.xpath("//select[@id='agency']/option[@selected]/@value") == ["parent_carer"]
    assert form.doc.xpath("//input[@name='method'][@checked]/@value") == ["phone"]
    empty = officer.post(url, {}, status=400)
    assert list(empty.error_links()) == ["agency", "method", "contact_on-day", "outcome"]
    tomorrow = TODAY + timedelta(days=1)
    bad = officer.post(
        url,
        {"agency": "parent_carer", "method": "phone", "outcome": "Spoke to mother",
         "time": "25:00", **_date("contact_on", tomorrow)},
        status=400,
    )  # fmt: skip
    assert bad.error_links() == {
        "contact_on-day": "The date of the enquiry must be today or in the past"
    }
    bad_time = officer.post(
        url,
        {"agency": "parent_carer", "method": "phone", "outcome": "Spoke to mother",
         "time": "25:00", **_date("contact_on", TODAY)},
        status=400,
    )  # fmt: skip
    assert bad_time.error_links() == {"time": "The time must be a real time, like 9:30am or 14:30"}
    yesterday = TODAY - timedelta(days=1)
    page = _done(
        officer, case_id, "record-enquiry",
        {"agency": "parent_carer", "method": "phone", "time": "2:30pm",
         "outcome": "Mother says they moved to her sister's", "contact": "Carol, 01642 000000",
         **_date("contact_on", yesterday)},
    )  # fmt: skip
    assert _banner(page) == "Phone call with the parents recorded."
    with web.session() as s:
        [entry] = s.execute(select(EnquiryLogEntry)).scalars().all()
        assert (entry.agency, entry.method, entry.contact) == (
            "parent_carer", "phone", "Carol, 01642 000000",
        )  # fmt: skip
        assert entry.at.tzinfo is not None
        assert entry.outcome == "Mother says they moved to her sister's"
    log = page.text("//table[@id='enquiries']")
    assert "Parent or carer (Carol, 01642 000000)" in log and "2:30pm" in log
    assert "1 enquiry recorded; the last with Parent or carer by phone" in page.text(
        "//div[@id='next-step-4']"
    )
    assert _audited(web, "enquiry.record", case_id)


def test_a_home_visit_requested_then_recorded(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    url = f"/cases/{case_id}/home-visit"
    past = officer.post(
        url, {"by": "choice_advice", **_date("visit_by", TODAY - timedelta(days=1))}, status=400
    )
    assert past.error_links() == {
        "visit_by-day": "The date the visit should happen by must be today or in the future"
    }
    assert officer.post(url, {}, status=400).error_links()["by"] == (
        "Select who you are asking to visit"
    )
    page = _done(officer, case_id, "home-visit", {"by": "choice_advice", **_date("visit_by", SOON)})
    assert _banner(page) == (
        f"Home visit requested from Choice Advice, to happen by {SOON.day} {SOON:%B %Y}."
    )
    assert "Home visit requested from Choice Advice, due by" in page.text(
        "//div[@id='next-step-4']"
    )
    outcome = officer.get(f"{url}/outcome")
    assert outcome.doc.xpath("//input[@name='by'][@checked]/@value") == ["choice_advice"]
    bad = officer.post(f"{url}/outcome", {"by": "choice_advice"}, status=400)
    assert bad.error_links() == {
        "outcome": "Select what the visit found",
        "visited_on-day": "Enter the date of the visit",
    }
    partial = officer.post(
        f"{url}/outcome", {"outcome": "no_answer", "visited_on-day": "3"}, status=400
    )
    assert partial.error_links() == {
        "visited_on-day": "The date of the visit must include a month and year"
    }
    page = _done(
        officer, case_id, "home-visit/outcome",
        {"outcome": "no_answer", "by": "choice_advice", "note": "Curtains drawn",
         **_date("visited_on", TODAY)},
    )  # fmt: skip
    assert _banner(page) == "Home visit recorded: No answer."
    with web.session() as s:
        [task] = s.execute(select(Task).where(Task.kind == "home_visit")).scalars().all()
        assert task.status == "done"
    work = page.text("//table[@id='work']")
    assert "Home visit requested: Asked Choice Advice" in work
    assert "Home visit: No answer" in work and "Visited by Choice Advice" in work
    assert "Curtains drawn" in work


def test_an_early_help_assessment(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    url = f"/cases/{case_id}/assessment"
    form = officer.get(f"{url}?kind=early_help")
    assert form.doc.xpath("//input[@name='kind'][@checked]/@value") == ["early_help"]
    bad = officer.post(
        url, {"kind": "early_help", "result": "done", **_date("assessed_on", TODAY)}, status=400
    )
    assert bad.error_links() == {"summary": "Enter a short summary of the assessment"}
    page = _done(
        officer, case_id, "assessment",
        {"kind": "early_help", "result": "referred", "summary": "Family support worker allocated",
         **_date("assessed_on", TODAY)},
    )  # fmt: skip
    assert _banner(page) == "Early Help Assessment recorded: Referred."
    assert "Early Help Assessment: Referred" in page.text("//div[@id='next-step-5']")
    assert [s.kind for s in _steps(web, case_id)] == ["assessment"]


def test_admissions_through_fair_access_is_a_printed_referral(
    web: WebEnv, officer: WebClient
) -> None:
    case_id = web.add_case()
    url = f"/cases/{case_id}/admissions"
    form = officer.get(url)
    assert "letter for you to print" in form.text("//div[@id='sends']")
    bad = officer.post(url, {"route": "iyfap", "school": "Coatham Academy"}, status=400)
    assert bad.error_links() == {"panel_date-day": "Enter the date of the Fair Access panel"}
    assert officer.post(url, {}, status=400).error_links() == {
        "route": "Select the admissions route"
    }
    page = _done(
        officer, case_id, "admissions",
        {"route": "iyfap", "school": "Coatham Academy", **_date("panel_date", SOON),
         **_date("start_date", SOON + timedelta(days=7))},
    )  # fmt: skip
    assert _banner(page).startswith(
        "Referred to School Admissions: In-Year Fair Access Protocol. "
        "Referral to School Admissions recorded: print it"
    )
    with web.session() as s:
        [row] = s.execute(select(OnwardReferral)).scalars().all()
        assert (row.team, row.channel) == ("admissions", "print")
        assert s.execute(select(Disclosure.kind)).scalars().all() == ["onward_referral"]
    work = page.text("//table[@id='work']")
    assert "Referral to School Admissions: In-Year Fair Access Protocol" in work
    assert f"Fair Access panel: {SOON.day} {SOON:%B %Y}" in work
    assert "School named: Coatham Academy" in work
    [link] = page.doc.xpath(f"//a[@id='print-onward-{row.id}']/@href")
    assert link == f"/cases/{case_id}/onward/{row.id}"
    printed = officer.get(link)
    assert "Coatham Academy" in printed.text("//body")


def test_police_refused_until_the_listed_enquiries_are_recorded(
    web: WebEnv, officer: WebClient
) -> None:
    case_id = web.add_case()
    url = f"/cases/{case_id}/escalate"
    policy = web.settings.casework.police_after
    form = officer.get(url)
    listed = form.doc.xpath("//dl[@id='police-avenues']/div")
    assert [li.get("data-agency") for li in listed] == list(policy)
    assert all("Not recorded yet" in li.text_content() for li in listed)
    police = {"flag": "police", "reason": "Not seen for 12 weeks", **_date("review_on", SOON)}
    refused = officer.post(url, police, status=400)
    assert refused.error_links() == {
        "flag": "A police referral is a last resort: first record enquiries with "
        "Children's Social Care, School, Health, Parent or carer"
    }
    assert refused.doc.xpath("//textarea[@id='reason']/text()") == ["Not seen for 12 weeks"]
    for agency in policy[:-1]:
        _done(
            officer, case_id, "record-enquiry",
            {"agency": agency, "method": "phone", "outcome": "Not known to them",
             **_date("contact_on", TODAY)},
        )  # fmt: skip
    form = officer.get(url)
    missing = form.doc.xpath("//dl[@id='police-avenues']/div[.//strong[text()='Not recorded yet']]")
    assert [li.get("data-agency") for li in missing] == ["parent_carer"]
    assert "Not yet: first record enquiries with Parent or carer" in form.text(
        "//div[@id='flag-police-item-hint']"
    )
    still = officer.post(url, police, status=400)
    assert still.error_links()["flag"].endswith("first record enquiries with Parent or carer")
    _done(
        officer, case_id, "record-enquiry",
        {"agency": "parent_carer", "method": "home_visit", "outcome": "No answer",
         **_date("contact_on", TODAY)},
    )  # fmt: skip
    page = _done(officer, case_id, "escalate", police)
    assert _banner(page).startswith(f"Referred to the police: review by {SOON.day} {SOON:%B %Y}.")
    with web.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        assert case.escalations["police"]["reason"] == "Not seen for 12 weeks"
        assert case.status != "closed"
    step7 = page.text("//div[@id='next-step-7']")
    assert "Referred to the police. Reason: Not seen for 12 weeks." in step7
    assert f"Review by {SOON.day} {SOON:%B %Y}" in step7


def test_escalation_to_social_care_needs_a_reason_and_a_review_date(
    web: WebEnv, officer: WebClient
) -> None:
    case_id = web.add_case()
    url = f"/cases/{case_id}/escalate"
    bad = officer.post(
        url, {"flag": "social_care", **_date("review_on", TODAY - timedelta(days=1))}, status=400
    )
    assert bad.error_links() == {
        "reason": "Enter why the case is being escalated",
        "review_on-day": "The review date must be today or in the future",
    }
    assert officer.post(url, {}, status=400).error_links()["flag"] == (
        "Select how the case is being escalated"
    )
    page = _done(
        officer, case_id, "escalate",
        {"flag": "social_care", "reason": "Siblings on a child protection plan",
         **_date("review_on", SOON)},
    )  # fmt: skip
    assert "Referred to Children's Social Care / MASH" in page.text("//p[@id='case-status']")
    assert "Reason: Siblings on a child protection plan" in page.text("//div[@id='next-step-7']")
    with web.session() as s:
        [row] = s.execute(select(OnwardReferral)).scalars().all()
        assert row.team == "social_care" and "child protection plan" in row.body


def test_the_onward_check_page_shows_what_is_disclosed_before_sending(
    web: WebEnv, officer: WebClient
) -> None:
    case_id = web.add_case()
    url = f"/cases/{case_id}/onward"
    officer.get(url)
    empty = officer.post(url, {}, status=400)
    assert empty.error_links() == {
        "team": "Select the team to refer the child to",
        "reason": "Enter why you are referring the child",
    }
    # The police only through an escalation (which holds it back until the enquiries).
    police = officer.post(url, {"team": "police", "reason": "Missing"}, status=400)
    assert police.error_links() == {"team": "To refer the child to the police, escalate the case"}
    assert not police.doc.xpath("//input[@name='team'][@value='police']")
    check = officer.post(
        url, {"team": "attendance_welfare", "reason": "Poor attendance at previous school"},
        status=200,
    )  # fmt: skip
    assert check.h1 == "Check the referral before you send it"
    recipient = check.text("//dl[@id='recipient']")
    assert AWS in recipient and "Email, through the outbox" in recipient
    assert "public task" in check.text("//dd[@id='lawful-basis']").lower()
    fields = check.doc.xpath("//ul[@id='disclosed']/li/@data-field")
    assert {"name", "dob", "address", "carers", "reason"} <= set(fields)
    body = check.text("//div[@id='referral-body']")
    assert "Amelia Testwell" in body and "Poor attendance at previous school" in body
    with web.session() as s:
        assert s.execute(select(OnwardReferral)).scalars().all() == []
        assert s.execute(select(Disclosure)).scalars().all() == []
    assert _audited(web, "onward.check.view", case_id)
    change = officer.post(
        url, {"team": "attendance_welfare", "reason": "Poor attendance", "change": "1"},
        status=200,
    )  # fmt: skip
    assert change.doc.xpath("//input[@name='team'][@checked]/@value") == ["attendance_welfare"]
    page = _done(
        officer,
        case_id,
        "onward/send",
        {"team": "attendance_welfare", "reason": "Poor attendance at previous school"},
    )
    assert _banner(page) == f"Referral sent to Attendance & Welfare Service by email to {AWS}."
    with web.session() as s:
        [row] = s.execute(select(OnwardReferral)).scalars().all()
        assert row.sent_by == "olivia" and row.recipient == AWS
        [register] = s.execute(select(Disclosure)).scalars().all()
        assert register.kind == "onward_referral" and register.actor == "olivia"


def test_no_trace_needs_a_manager_and_the_policys_enquiries(web: WebEnv, client: WebClient) -> None:
    case_id = web.add_case()
    web.add_user("olivia")
    web.add_user("mary", Role.MANAGER)
    client.sign_in("olivia")
    url = f"/cases/{case_id}/close"
    client.get(url)
    refused = client.post(url, {"outcome": "no_trace"}, status=400)
    assert refused.error_links()["outcome"].startswith("Only a manager")
    client.post("/sign-out", {})
    client.sign_in("mary")
    client.get(url)
    missing = client.post(url, {"outcome": "no_trace"}, status=400)
    assert missing.error_links() == {
        "outcome": "'no trace' needs every enquiry the policy lists first; still to record: "
        "Children's Social Care, School, Health, Another local authority"
    }
    for agency in web.settings.casework.no_trace_after:
        _done(
            client, case_id, "record-enquiry",
            {"agency": agency, "method": "email", "outcome": "Not known to them",
             **_date("contact_on", TODAY)},
        )  # fmt: skip
    client.get(url)
    client.post(url, {"outcome": "no_trace"})
    page = client.get(f"/cases/{case_id}")
    assert "No trace after all enquiries (signed off by mary)" in page.text(
        "//div[@id='case-outcome']"
    )
    # A closed case offers only reopening.
    assert not page.doc.xpath("//div[@id='what-to-do-next']")
    assert page.doc.xpath("//a[@id='reopen-case']/@href") == [f"/cases/{case_id}/reopen"]
    moved = client.get(f"/cases/{case_id}/status-check", status=302)
    assert moved.response.headers["Location"] == f"/cases/{case_id}"
    client.post(f"/cases/{case_id}/escalate", {"flag": "vemt"}, status=302)
    shown = client.get(f"/cases/{case_id}")
    assert "is closed: reopen it to record more work" in shown.text("//main")


def test_enquiries_complete_queues_the_acknowledgement(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    url = f"/cases/{case_id}/enquiries-complete"
    confirm = officer.get(url)
    assert confirm.text("//dl[@id='acknowledged']//dt") == "Ann Head"
    assert confirm.text("//dl[@id='acknowledged']//dd") == "By email to head@school.example"
    with web.session() as s:
        before = len(s.execute(select(OutboxMessage)).scalars().all())
    page = _done(officer, case_id, "enquiries-complete", {})
    assert _banner(page) == (
        "Initial enquiries marked complete. The acknowledgement is on its way to 1 referrer."
    )
    with web.session() as s:
        sent = s.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
        assert len(sent) == before + 1
        assert sent[-1].to_addrs == ["head@school.example"] and "acknowledg" in sent[-1].kind
        case = s.get(Case, case_id)
        assert case is not None and case.enquiries_complete_at is not None
    assert "Initial enquiries marked complete" in page.text("//div[@id='next-step-finish']")
    assert not page.doc.xpath("//a[@id='action-enquiries-complete']")
    again = officer.get(url, status=302)
    assert again.response.headers["Location"] == f"/cases/{case_id}"
    twice = officer.post(url, {}, status=400)
    assert twice.error_links() == {
        "confirm": f"Enquiries on case {case_id} were already marked complete"
    }


def test_reopening_needs_a_reason(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    officer.get(f"/cases/{case_id}/reopen", status=302)  # an open case: nothing to reopen
    with web.session() as s:
        service.close_case(s, web.settings, case_id, "not_cme", {}, "olivia")
        s.commit()
    url = f"/cases/{case_id}/reopen"
    officer.get(url)
    empty = officer.post(url, {"reason": "  "}, status=400)
    assert empty.error_links() == {"reason": "Enter why the case is being reopened"}
    page = _done(officer, case_id, "reopen", {"reason": "Family seen back at the address"})
    assert _banner(page) == (
        f"Case CME-{case_id} reopened: it is now Locating the child and family."
    )
    assert "Case reopened: Family seen back at the address" in page.text("//ol[@id='timeline']")
    assert page.doc.xpath("//div[@id='what-to-do-next']")
    with web.session() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "case.reopen")).scalar_one()
        assert entry.detail == {"reason": "Family seen back at the address"}


def test_a_letter_to_a_referrer_without_email_is_listed_to_print_and_mark_done(
    web: WebEnv, officer: WebClient
) -> None:
    case_id = web.add_case(
        referrer_email=None, referrer_name="Mr Neighbour", referrer_phone="01642 000000",
        gaps=["date of birth missing"],
    )  # fmt: skip
    page = officer.get(f"/cases/{case_id}")
    [letter] = page.doc.xpath("//ul[@id='letters']/li")
    assert "not sent yet" in letter.text_content()
    [action] = letter.xpath(".//form/@action")
    officer.post(action, {"how": "phoned"})
    page = officer.get(f"/cases/{case_id}")
    assert "done" in page.text("//ul[@id='letters']") and not page.doc.xpath(
        "//ul[@id='letters']//form"
    )
    confirm = officer.get(f"/cases/{case_id}/enquiries-complete")
    assert "read out on the phone (01642 000000)" in confirm.text("//dl[@id='acknowledged']")


def test_a_timeline_entry_for_every_action(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    _done(officer, case_id, "home-visit", {"by": "attendance_welfare", **_date("visit_by", SOON)})
    _done(
        officer, case_id, "assessment",
        {"kind": "initial", "result": "not_needed", "summary": "Known to the school",
         **_date("assessed_on", TODAY)},
    )  # fmt: skip
    with web.session() as s:
        kinds = (
            s.execute(select(TimelineEntry.kind).where(TimelineEntry.case_id == case_id))
            .scalars()
            .all()
        )
    assert {"home_visit_request", "assessment"} <= set(kinds)
    assert _audited(web, "case.home_visit_request", case_id)
    assert _audited(web, "case.assessment", case_id)
    # A recorded time is kept in UTC.
    with web.session() as s:
        assert all(
            e.at.tzinfo is not None and e.at <= datetime.now(UTC)
            for e in s.execute(select(TimelineEntry)).scalars()
        )


def test_a_merged_duplicate_is_not_reopened(web: WebEnv, officer: WebClient) -> None:
    kept = web.add_case("Oliver", "Testbrook")
    dup = web.add_case("Ollie", "Testbrook")
    with web.session() as s:
        merge_cases(s, kept, dup, "olivia")
        s.commit()
    page = officer.get(f"/cases/{dup}")
    assert not page.doc.xpath("//a[@id='reopen-case']")
    officer.get(f"/cases/{dup}/reopen", status=302)
    officer.post(f"/cases/{dup}/reopen", {"reason": "by mistake"}, status=302)
    with web.session() as s:
        case = s.get(Case, dup)
        assert case is not None and case.status == "closed"

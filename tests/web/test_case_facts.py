"""New facts on the case page (accept or reject, field by field) and the officer's own edit
of the child's details, each audited with before and after."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from gateway.cases import service
from gateway.cases.inputs import build_referral_input
from gateway.models.case import Case, CaseFact
from tests.web.conftest import WebClient, WebEnv

UPN = "H807300024123"


def later_referral(web: WebEnv, case_id: int, **extra: Any) -> None:
    """A second referral about the same child, attached to the case as triage would."""
    values: dict[str, Any] = {
        "forename": "Amelia", "surname": "Testwell", "dob": "2015-04-03",
        "postcode": "TS10 1AA", "address_line1": "1 Synthetic Street", "town": "Redcar",
        "reason": "Still not at school", "referrer_name": "Nurse Ratchet",
        "referrer_email": "nurse@health.example", "channel": "email", "received": "2026-11-25",
    }  # fmt: skip
    values.update(extra)
    with web.session() as s:
        service.attach_referral(
            s, web.settings, case_id, build_referral_input(values, today=date(2026, 11, 27)), "test"
        )
        s.commit()


def _facts(web: WebEnv, case_id: int) -> dict[str, str]:
    with web.session() as s:
        rows = s.execute(select(CaseFact.field, CaseFact.state).where(CaseFact.case_id == case_id))
        return {field: state for field, state in rows}


def _fact_ids(web: WebEnv, case_id: int) -> list[tuple[int, str]]:
    with web.session() as s:
        rows = s.execute(select(CaseFact.id, CaseFact.field).where(CaseFact.case_id == case_id))
        return [(fact_id, field) for fact_id, field in rows]


def _child(web: WebEnv, case_id: int) -> dict[str, Any]:
    with web.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        c = case.child
        return {
            "forename": c.forenames, "surname": c.surname, "dob": c.dob, "sex": c.sex,
            "upn": c.upn, "year_group": c.year_group, "middle_names": c.middle_names,
            "carers": [x.name for x in c.carers],
        }  # fmt: skip


def test_alater_referral_brings_a_upn_the_officer_accepts(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    later_referral(web, case_id, upn=UPN)
    [fact_id] = [f for f, field in _fact_ids(web, case_id) if field == "upn"]
    page = officer.get(f"/cases/{case_id}")
    assert page.text(f"//li[@id='fact-{fact_id}']/p") == (
        f"The referral of 25 November 2026 says: UPN {UPN}; the case has: not known"
    )
    action = f"/cases/{case_id}/facts/{fact_id}"
    assert page.doc.xpath(f"//form[@action='{action}']//button[@value='accept']")
    assert page.doc.xpath(f"//form[@action='{action}']//button[@value='reject']")
    done = officer.post(action, {"decision": "accept"})
    assert done.response.headers["Location"] == f"/cases/{case_id}"
    assert _child(web, case_id)["upn"] == UPN
    [entry] = web.audit("case.fact_accepted")
    assert (entry.actor, entry.entity_id) == ("olivia", str(case_id))
    assert (entry.detail["field"], entry.detail["before"], entry.detail["after"]) == (
        "upn", None, UPN,
    )  # fmt: skip
    after = officer.get(f"/cases/{case_id}")
    assert not after.doc.xpath(f"//li[@id='fact-{fact_id}']")
    assert UPN in after.text("//dl[@id='child']")
    assert "UPN added to the case" in after.text(
        "//div[contains(@class,'govuk-notification-banner')]"
    )
    assert "UPN from a referral accepted" in after.text("//ol[@id='timeline']")
    # Decided once: a second post (an old page) changes nothing and says why.
    officer.post(action, {"decision": "reject"})
    stale = officer.get(f"/cases/{case_id}")
    assert "already accepted by olivia" in stale.text(
        "//div[contains(@class,'govuk-notification-banner')]"
    )
    assert _facts(web, case_id)["upn"] == "accepted"


def test_a_rejected_fact_leaves_the_case_as_it_was(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    later_referral(
        web, case_id, carers=[{"name": "Carol Testwell", "relationship": "mother",
                               "phone": "01642 000000"}],
    )  # fmt: skip
    [fact_id] = [f for f, field in _fact_ids(web, case_id) if field == "carer"]
    page = officer.get(f"/cases/{case_id}")
    assert page.text(f"//li[@id='fact-{fact_id}']/p") == (
        "The referral of 25 November 2026 says: Parent or carer Carol Testwell (mother), "
        "01642 000000; the case has: not known"
    )
    officer.post(f"/cases/{case_id}/facts/{fact_id}", {"decision": "reject"})
    assert _child(web, case_id)["carers"] == []
    assert _facts(web, case_id) == {"carer": "rejected"}
    assert web.audit("case.fact_rejected")[-1].detail["field"] == "carer"
    officer.post(f"/cases/{case_id}/facts/{fact_id}", {"decision": "maybe"}, status=400)
    officer.post(f"/cases/99999/facts/{fact_id}", {"decision": "accept"}, status=404)


def test_edit_child_with_mistakes_shows_them_and_changes_nothing(
    web: WebEnv, officer: WebClient
) -> None:
    case_id = web.add_case()
    view = officer.get(f"/cases/{case_id}")
    change = view.doc.xpath("//dl[@id='child']//a[starts-with(@href, '/cases/')]/@href")
    assert f"/cases/{case_id}/child#upn" in change and f"/cases/{case_id}/child#dob-day" in change
    form = officer.get(f"/cases/{case_id}/child")
    assert form.h1 == "Change the child's details"
    assert form.doc.xpath("//input[@id='forename']/@value") == ["Amelia"]
    assert form.doc.xpath("//input[@id='dob-year']/@value") == ["2015"]
    assert web.audit("child.view")[-1].actor == "olivia"
    before = _child(web, case_id)
    bad = officer.post(
        f"/cases/{case_id}/child",
        {"forename": "", "surname": "Testwell", "dob-day": "3", "dob-month": "4",
         "dob-year": "2015", "sex": "F", "upn": "H807300024124", "year_group": "4"},
        status=400,
    )  # fmt: skip
    assert bad.title.startswith("Error: ")
    assert bad.error_links() == {
        "forename": "Enter the child's first name",
        "upn": "UPN 'H807300024124' is not valid: UPN check letter wrong: expected X",
    }
    assert bad.doc.xpath("//input[@id='upn']/@value") == ["H807300024124"]
    assert bad.doc.xpath("//input[@id='upn']/@aria-describedby") == ["upn-hint upn-error"]
    bad_date = officer.post(
        f"/cases/{case_id}/child",
        {"forename": "Amelia", "surname": "Testwell", "dob-day": "31", "dob-month": "2",
         "dob-year": "2015", "sex": "F", "upn": UPN, "year_group": "4"},
        status=400,
    )  # fmt: skip
    # The other boxes were right, but nothing is kept while one is wrong.
    assert list(bad_date.error_links()) == ["dob-day"]
    assert _child(web, case_id) == before
    assert web.audit("child.edit") == []


def test_edit_child_is_audited_with_before_and_after(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    officer.get(f"/cases/{case_id}/child")
    done = officer.post(
        f"/cases/{case_id}/child",
        {"forename": "Amelia", "middle_names": "Rose", "surname": "Testwell", "dob-day": "3",
         "dob-month": "4", "dob-year": "2015", "sex": "F", "upn": UPN, "year_group": "4"},
    )  # fmt: skip
    assert done.response.headers["Location"] == f"/cases/{case_id}"
    child = _child(web, case_id)
    assert (child["upn"], child["sex"], child["year_group"], child["middle_names"]) == (
        UPN, "F", "4", "Rose",
    )  # fmt: skip
    [entry] = web.audit("child.edit")
    assert entry.detail == {
        "middle_names": {"before": None, "after": "Rose"},
        "sex": {"before": None, "after": "F"},
        "upn": {"before": None, "after": UPN},
        "year_group": {"before": None, "after": "4"},
    }
    page = officer.get(f"/cases/{case_id}")
    assert "Changed: Middle names, Sex, UPN, Year group." in page.text(
        "//div[contains(@class,'govuk-notification-banner')]"
    )
    child_list = page.text("//dl[@id='child']")
    assert "Female" in child_list and "Year 4" in child_list and UPN in child_list
    # The same details again: nothing to record.
    officer.post(
        f"/cases/{case_id}/child",
        {"forename": "Amelia", "middle_names": "Rose", "surname": "Testwell", "dob-day": "3",
         "dob-month": "4", "dob-year": "2015", "sex": "F", "upn": UPN, "year_group": "4"},
    )  # fmt: skip
    assert len(web.audit("child.edit")) == 1
    officer.get("/cases/99999/child", status=404)
